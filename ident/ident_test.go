package ident

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

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
}

// TestIdempotencyTags: the key's tag depends on the secret (a plain hash of the key is not it) and on the
// kind; it is a valid YARN tag.
func TestIdempotencyTags(t *testing.T) {
	secret, other := []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")
	j1, spec := IdempotencyTags(secret, "", "k", "f")
	tests := []struct {
		name string
		tag  string
	}{
		{"session key", first(IdempotencyTags(secret, "session", "k", "f"))},
		{"another secret", first(IdempotencyTags(other, "", "k", "f"))},
		{"another key", first(IdempotencyTags(secret, "", "k2", "f"))},
		{"the plain hash of the key", TagIdemPrefix + plainHash("k")},
		{"the plain hash of kind and key", TagIdemPrefix + plainHash("\x00k")},
	}
	for _, tc := range tests {
		if tc.tag == j1 {
			t.Errorf("%s gives the same tag %s", tc.name, j1)
		}
	}
	if again, _ := IdempotencyTags(secret, "", "k", "f"); again != j1 {
		t.Errorf("not stable: %s, %s", again, j1)
	}
	if len(j1) != len(TagIdemPrefix)+40 || strings.ToLower(j1) != j1 || spec != TagSpecPrefix+"f" {
		t.Errorf("tags %q %q", j1, spec)
	}
}

func first(a, _ string) string { return a }

func plainHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:20])
}

func TestClusterIDs(t *testing.T) {
	for _, tc := range []struct {
		id   string
		ok   bool
		job  string
		isOK bool
	}{
		{"analytics", true, "analytics.0123456789abcdef0123456789abcdef", true},
		{"a-1", true, "a-1.0123456789abcdef0123456789abcdef", true},
		{"-a", false, "-a.0123456789abcdef0123456789abcdef", false},
		{"Upper", false, "Upper.0123456789abcdef0123456789abcdef", false},
		{"application_1_1", false, "application_1_1.0123456789abcdef0123456789abcdef", true}, // a session job id
		{"", false, ".0123456789abcdef0123456789abcdef", false},
	} {
		if got := ValidClusterID(tc.id); got != tc.ok {
			t.Errorf("ValidClusterID(%q) = %v", tc.id, got)
		}
		if got := ValidJobID(tc.job); got != tc.isOK {
			t.Errorf("ValidJobID(%q) = %v", tc.job, got)
		}
	}
}
