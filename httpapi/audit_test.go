package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/job"
)

// TestAuditLog: every mutating request under /v1 leaves one audit line naming the principal, the user, the
// action, the object and the outcome; reads leave none.
func TestAuditLog(t *testing.T) {
	ts := newTestServer(t)
	ts.store.put = func(_ context.Context, body io.Reader, _ string) (hdfs.PutResult, error) {
		io.Copy(io.Discard, body)
		return hdfs.PutResult{Jar: staged, Created: true}, nil
	}
	ts.store.get = func(context.Context, string) (hdfs.Jar, error) { return staged, nil }
	ts.store.delete = func(_ context.Context, id string) error {
		if id == staged.ID {
			return nil
		}
		return hdfs.ErrNotFound
	}
	jarHeader := header("Content-Type", "application/java-archive")
	steps := []struct {
		method, target string
		want           map[string]any // nil: no audit line
	}{
		{http.MethodPost, "/v1/jars", map[string]any{"action": "jar.upload", "object": goodID, "outcome": "ok", "status": 201.0}},
		{http.MethodGet, "/v1/jars/" + goodID, nil},
		{http.MethodDelete, "/v1/jars/" + goodID, map[string]any{"action": "jar.delete", "object": goodID, "outcome": "ok"}},
		{http.MethodDelete, "/v1/jars/" + strings.Repeat("0", 64), map[string]any{"action": "jar.delete", "outcome": "refused", "status": 404.0, "errorCode": "not_found"}},
	}
	for _, st := range steps {
		before := len(auditLines(t, ts.log.String()))
		ts.do(t, st.method, st.target, bytes.NewReader([]byte("PK\x03\x04 jar")), jarHeader)
		lines := auditLines(t, ts.log.String())[before:]
		if st.want == nil {
			if len(lines) != 0 {
				t.Errorf("%s %s: audit %v, want none", st.method, st.target, lines)
			}
			continue
		}
		if len(lines) != 1 {
			t.Fatalf("%s %s: %d audit lines, want 1", st.method, st.target, len(lines))
		}
		got := lines[0]
		if got["principal"] != "tester" || got["user"] != "tester" || got["requestId"] == "" {
			t.Errorf("%s %s: audit %v, want principal and user tester and a request id", st.method, st.target, got)
		}
		for k, v := range st.want {
			if got[k] != v {
				t.Errorf("%s %s: audit %s = %v, want %v", st.method, st.target, k, got[k], v)
			}
		}
	}
}

// auditLines returns the audit records of a JSON log.
func auditLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(errors.Join(err, errors.New(sc.Text())))
		}
		if m["msg"] == "audit" && m["log"] == "audit" {
			out = append(out, m)
		}
	}
	return out
}

// TestAuditLogProxyUser: a submission for another user names that user as the effective user of its audit
// line, granted or refused.
func TestAuditLogProxyUser(t *testing.T) {
	ts, jobs := newJobTestServer(t)
	jobs.submit = func(_ context.Context, req api.JobRequest, _ string) (api.Job, bool, error) {
		if req.ProxyUser == "bob" {
			return api.Job{}, false, fmt.Errorf("%w: tester may not submit for bob", job.ErrForbidden)
		}
		j := testJob()
		j.Owner = req.ProxyUser
		return j, true, nil
	}
	for _, tc := range []struct {
		user, outcome string
	}{{"alice", "ok"}, {"bob", "refused"}} {
		before := len(auditLines(t, ts.log.String()))
		body := `{"name": "n", "jarId": "` + goodID + `", "proxyUser": "` + tc.user + `"}`
		ts.do(t, http.MethodPost, "/v1/jobs", strings.NewReader(body), header("Content-Type", "application/json"))
		lines := auditLines(t, ts.log.String())[before:]
		if len(lines) != 1 || lines[0]["principal"] != "tester" || lines[0]["user"] != tc.user || lines[0]["outcome"] != tc.outcome {
			t.Errorf("for %s: audit %v, want principal tester, user %s, outcome %s", tc.user, lines, tc.user, tc.outcome)
		}
	}
}
