package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/job"
)

func TestSavepointRoutes(t *testing.T) {
	base := "/v1/jobs/" + testAppID
	inProgress := api.Savepoint{TriggerID: "t1", JobID: testAppID, State: api.SavepointInProgress, Format: api.FormatCanonical}
	tests := []struct {
		name       string
		target     string
		body       string
		call       bool // expect a trigger with want
		want       api.StopRequest
		answer     api.Savepoint
		created    bool
		err        error
		wantStatus int
		wantCode   string
	}{
		{name: "trigger, no body", target: base + "/savepoints", call: true, answer: inProgress, created: true, wantStatus: 202},
		{name: "trigger with fields", target: base + "/savepoints", body: `{"triggerId":"t1","format":"NATIVE","targetDirectory":"hdfs:///sp"}`,
			call: true, want: api.StopRequest{TriggerID: "t1", Format: api.FormatNative, TargetDirectory: "hdfs:///sp"}, answer: inProgress, created: true, wantStatus: 202},
		{name: "repeated trigger", target: base + "/savepoints", body: `{"triggerId":"t1"}`, call: true, want: api.StopRequest{TriggerID: "t1"},
			answer: inProgress, wantStatus: 200},
		{name: "refused at once", target: base + "/savepoints", call: true, answer: api.Savepoint{TriggerID: "t1", State: api.SavepointFailed}, created: true, wantStatus: 200},
		{name: "unknown field", target: base + "/savepoints", body: `{"cancelJob":true}`, wantStatus: 400, wantCode: api.CodeInvalidSpec},
		{name: "too large", target: base + "/savepoints", body: `{"triggerId":"t1"` + strings.Repeat(" ", 9000) + `}`, wantStatus: 413, wantCode: api.CodeTooLarge},
		{name: "malformed id", target: "/v1/jobs/job-1/savepoints", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "not running", target: base + "/savepoints", call: true, err: fmt.Errorf("%w: ended", job.ErrJobNotRunning), wantStatus: 409, wantCode: api.CodeJobNotRunning},
		{name: "trigger id reused", target: base + "/savepoints", call: true, err: job.ErrTriggerIDReused, wantStatus: 422, wantCode: api.CodeTriggerIDReused},
		{name: "invisible", target: base + "/savepoints", call: true, err: job.ErrJobNotFound, wantStatus: 404, wantCode: api.CodeNotFound},
		{name: "forbidden", target: base + "/savepoints", call: true, err: job.ErrForbidden, wantStatus: 403, wantCode: api.CodeForbidden},
		{name: "stop", target: base + "/stop", body: `{"savepoint":true,"drain":true,"triggerId":"s1"}`, call: true,
			want: api.StopRequest{Savepoint: true, Drain: true, TriggerID: "s1"}, answer: inProgress, created: true, wantStatus: 202},
		{name: "stop, bad body", target: base + "/stop", body: `{"savepoint":"yes"}`, wantStatus: 400, wantCode: api.CodeInvalidSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, jobs := newJobTestServer(t)
			if tc.call {
				jobs.trigger = func(_ context.Context, id string, req api.StopRequest) (api.Savepoint, bool, error) {
					if id != testAppID || req != tc.want {
						t.Errorf("trigger(%q, %+v), want (%q, %+v)", id, req, testAppID, tc.want)
					}
					return tc.answer, tc.created, tc.err
				}
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			rec := s.do(t, http.MethodPost, tc.target, body, header("Content-Type", "application/json"))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode != "" {
				if e := decodeError(t, rec); e.Code != tc.wantCode {
					t.Errorf("code = %q, want %q", e.Code, tc.wantCode)
				}
				return
			}
			var got api.Savepoint
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.TriggerID != tc.answer.TriggerID || got.State != tc.answer.State {
				t.Errorf("answer %s, want %+v", rec.Body, tc.answer)
			}
		})
	}
}

func TestListSavepoints(t *testing.T) {
	s, jobs := newJobTestServer(t)
	path := "hdfs:///sp/savepoint-1"
	jobs.savepoints = func(_ context.Context, id string) ([]api.Savepoint, error) {
		if id == testAppID {
			return []api.Savepoint{{TriggerID: "t2", State: api.SavepointCompleted, Path: &path}}, nil
		}
		return nil, nil
	}
	rec := s.do(t, http.MethodGet, "/v1/jobs/"+testAppID+"/savepoints", nil, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"path":"hdfs:///sp/savepoint-1"`) {
		t.Errorf("list = %d %s", rec.Code, rec.Body)
	}
	rec = s.do(t, http.MethodGet, "/v1/jobs/application_1767225600000_0001/savepoints", nil, nil)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"savepoints":[]}` {
		t.Errorf("empty list = %d %s", rec.Code, rec.Body)
	}
}
