package ident

import "testing"

func TestIDs(t *testing.T) {
	cases := []struct {
		id                  string
		app, session, valid bool
	}{
		{"application_1763700000000_0042", true, false, true},
		{"application_1763700000000_0042.0123456789abcdef0123456789abcdef", false, true, true},
		{"application_1763700000000_0042.0123456789ABCDEF0123456789abcdef", false, false, false},
		{"application_x_1", false, false, false},
		{"job_1_1", false, false, false},
		{"application_1_1.", false, false, false},
		{"", false, false, false},
	}
	for _, c := range cases {
		_, _, session := ParseSessionJobID(c.id)
		if ValidApplicationID(c.id) != c.app || session != c.session || ValidJobID(c.id) != c.valid {
			t.Errorf("%q: app %v session %v valid %v", c.id, ValidApplicationID(c.id), session, ValidJobID(c.id))
		}
	}
	if got, _ := FlinkJobID("application_1763700000000_0042"); got != "0000019aa4b64500000000000000002a" {
		t.Fatalf("flink job id %q", got)
	}
	if TagValue([]string{"yarngate", "yarngate-flink:1.20.3"}, TagFlinkPrefix) != "1.20.3" {
		t.Fatal("TagValue")
	}
	j1, _ := IdempotencyTags("", "k", "f")
	s1, _ := IdempotencyTags("session", "k", "f")
	if j1 == s1 {
		t.Fatal("job and session keys share a tag")
	}
}
