package delegation

import (
	"strings"
	"testing"
	"time"
)

// Tokens issued by the Kerberized test cluster's NameNode (WebHDFS GETDELEGATIONTOKEN, renewer yarn): for
// alice through doas, and for the gateway itself with service=ha-hdfs:ns1. Their keys died with that cluster.
const (
	aliceToken   = "HQAFYWxpY2UEeWFybgCKAaJNlXWLigGicaH5iwMCFLhUmgCRRDdomYn6yGLUEJG342sAFUhERlNfREVMRUdBVElPTl9UT0tFTg8xMjcuMC4wLjE6MTkwMDA"
	gatewayToken = "IAAIeWFybmdhdGUEeWFybgCKAaJNlXWgigGicaH5oAQCFOIBvcXx_HkW0CEPycQVwfxgfldgFUhERlNfREVMRUdBVElPTl9UT0tFTgtoYS1oZGZzOm5zMQ"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, in       string
		owner, service string
		issued         time.Time
		lifetime       time.Duration
	}{
		{"doas alice", aliceToken, "alice", "127.0.0.1:19000", time.UnixMilli(1796597970315).UTC(), 7 * 24 * time.Hour},
		{"own, HA service", gatewayToken, "yarngate", "ha-hdfs:ns1", time.UnixMilli(1796597970336).UTC(), 7 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Decode(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Kind != KindHDFS || tok.Owner != tc.owner || tok.Renewer != "yarn" || tok.RealUser != "" || tok.Service != tc.service {
				t.Errorf("decoded %+v", tok)
			}
			if !tok.IssueDate.Equal(tc.issued) || tok.MaxDate.Sub(tok.IssueDate) != tc.lifetime {
				t.Errorf("issued %v, max %v; want %v and %v later", tok.IssueDate, tok.MaxDate, tc.issued, tc.lifetime)
			}
			if got := tok.Encode(); got != tc.in {
				t.Errorf("Encode() = %s, want the input back", got)
			}
			if s := tok.String(); strings.Contains(s, string(tok.password)) || !strings.Contains(s, tc.owner) {
				t.Errorf("String() = %q", s)
			}
		})
	}
}

func TestServiceRewriteKeepsTheRest(t *testing.T) {
	tok, err := Decode(aliceToken)
	if err != nil {
		t.Fatal(err)
	}
	tok.Service = "ha-hdfs:a-rather-long-nameservice-name-to-need-more-than-one-length-byte-" + strings.Repeat("x", 200)
	again, err := Decode(tok.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if again.Service != tok.Service || again.Owner != "alice" || string(again.password) != string(tok.password) || !again.MaxDate.Equal(tok.MaxDate) {
		t.Errorf("after rewriting the service: %+v", again)
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not base64": "!!!",
		"truncated":  aliceToken[:40],
		"empty":      "",
		"bad length": "fw",
	} {
		t.Run(name, func(t *testing.T) {
			if tok, err := Decode(in); err == nil {
				t.Errorf("Decode(%q) = %+v, want an error", in, tok)
			}
		})
	}
}

func TestVLongRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 127, 128, -112, -113, -120, -121, -128, -129, 255, 256, 1 << 31, -1 << 31,
		1796165203339, -1796165203339, 1<<63 - 1, -1 << 63} {
		var w writer
		w.vlong(v)
		r := &reader{b: w.b}
		if got := r.vlong(); got != v || r.err != nil || len(r.b) != 0 {
			t.Errorf("vlong %d: read back %d (%v, %d bytes left) from % x", v, got, r.err, len(r.b), w.b)
		}
	}
}
