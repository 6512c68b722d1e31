package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/job"
)

// fakeSessions is a sessionAPI whose behaviour each test sets through function fields. Unset fields fail
// the test when called.
type fakeSessions struct {
	t      *testing.T
	create func(ctx context.Context, req api.SessionRequest, idempotencyKey string) (api.Session, bool, error)
	get    func(ctx context.Context, id string) (api.Session, error)
	wait   func(ctx context.Context, id string, target api.SessionState, timeout time.Duration) (api.Session, error)
	list   func(ctx context.Context, page job.Page) (api.SessionList, error)
	stop   func(ctx context.Context, id string) (api.Session, error)
}

func (f *fakeSessions) CreateSession(ctx context.Context, req api.SessionRequest, key string) (api.Session, bool, error) {
	if f.create == nil {
		f.t.Error("unexpected CreateSession")
		return api.Session{}, false, errors.New("unexpected CreateSession")
	}
	return f.create(ctx, req, key)
}

func (f *fakeSessions) Session(ctx context.Context, id string) (api.Session, error) {
	if f.get == nil {
		f.t.Error("unexpected Session")
		return api.Session{}, errors.New("unexpected Session")
	}
	return f.get(ctx, id)
}

func (f *fakeSessions) WaitSession(ctx context.Context, id string, target api.SessionState, timeout time.Duration) (api.Session, error) {
	if f.wait == nil {
		f.t.Error("unexpected WaitSession")
		return api.Session{}, errors.New("unexpected WaitSession")
	}
	return f.wait(ctx, id, target, timeout)
}

func (f *fakeSessions) ListSessions(ctx context.Context, page job.Page) (api.SessionList, error) {
	if f.list == nil {
		f.t.Error("unexpected ListSessions")
		return api.SessionList{}, errors.New("unexpected ListSessions")
	}
	return f.list(ctx, page)
}

func (f *fakeSessions) StopSession(ctx context.Context, id string) (api.Session, error) {
	if f.stop == nil {
		f.t.Error("unexpected StopSession")
		return api.Session{}, errors.New("unexpected StopSession")
	}
	return f.stop(ctx, id)
}

// newSessionTestServer is a gateway whose session routes go to fakeSessions and job routes to fakeJobs.
func newSessionTestServer(t *testing.T) (*testServer, *fakeSessions, *fakeJobs) {
	t.Helper()
	sessions, jobs := &fakeSessions{t: t}, &fakeJobs{t: t}
	return newTestServerWith(t, func(o *Options) { o.Jobs, o.Sessions = jobs, sessions }), sessions, jobs
}

const testSessionID = "application_1767225600000_0043"

func testSession() api.Session {
	return api.Session{
		ID: testSessionID, Name: "etl", State: api.SessionRunning, FlinkVersion: "2.2.1",
		YARN: api.JobYARN{ApplicationID: testSessionID, State: "RUNNING", FinalStatus: "UNDEFINED", Queue: "default", User: "yarngate"},
		Links: api.JobLinks{YARN: "http://rm:8088/cluster/app/" + testSessionID, FlinkUI: ptr("http://rm:8088/proxy/" + testSessionID + "/"),
			JobManager: ptr("http://nm1:41231")},
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC),
	}
}

func decodeSession(t *testing.T, body []byte) api.Session {
	t.Helper()
	var s api.Session
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("session body %q: %v", body, err)
	}
	return s
}

func TestCreateSession(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		key        string
		created    bool
		noCreate   bool
		want       api.SessionRequest
		wantStatus int
		wantCode   string
	}{
		{name: "new session", body: `{"name":"etl","taskManager":{"slots":4,"memory":"2g"},"flinkVersion":"2"}`, created: true,
			want:       api.SessionRequest{Name: "etl", TaskManager: &api.TaskManagerSpec{Slots: ptr(4), Memory: "2g"}, FlinkVersion: "2"},
			wantStatus: 202},
		{name: "idempotent replay", body: `{"name":"etl"}`, key: "etl-2026-01-01", want: api.SessionRequest{Name: "etl"}, wantStatus: 200},
		{name: "unknown field", body: `{"slots":4}`, noCreate: true, wantStatus: 400, wantCode: api.CodeInvalidSpec},
		{name: "trailing data", body: `{"name":"etl"}}`, noCreate: true, wantStatus: 400, wantCode: api.CodeInvalidSpec},
		{name: "not an object", body: `[1]`, noCreate: true, wantStatus: 400, wantCode: api.CodeInvalidSpec},
		{name: "bad key", body: `{}`, key: "k\x01", noCreate: true, wantStatus: 400, wantCode: api.CodeInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, sessions, _ := newSessionTestServer(t)
			if !tc.noCreate {
				sessions.create = func(_ context.Context, req api.SessionRequest, key string) (api.Session, bool, error) {
					if !reflect.DeepEqual(req, tc.want) || key != tc.key {
						t.Errorf("CreateSession(%+v, %q), want (%+v, %q)", req, key, tc.want, tc.key)
					}
					sess := testSession()
					sess.State = api.SessionStarting
					return sess, tc.created, nil
				}
			}
			h := header("Content-Type", "application/json")
			if tc.key != "" {
				h.Set(idempotencyKeyHeader, tc.key)
			}
			rec := s.do(t, http.MethodPost, "/v1/sessions", strings.NewReader(tc.body), h)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode != "" {
				if e := decodeError(t, rec); e.Code != tc.wantCode {
					t.Errorf("code = %q, want %q", e.Code, tc.wantCode)
				}
				return
			}
			if got := decodeSession(t, rec.Body.Bytes()); got.ID != testSessionID || got.State != api.SessionStarting {
				t.Errorf("session %+v", got)
			}
			if loc := rec.Header().Get("Location"); loc != "/v1/sessions/"+testSessionID {
				t.Errorf("Location = %q", loc)
			}
		})
	}
}

func TestGetSession(t *testing.T) {
	tests := []struct {
		name        string
		target      string
		get, wait   bool
		wantState   api.SessionState
		wantTimeout time.Duration
		wantStatus  int
	}{
		{name: "get", target: "/v1/sessions/" + testSessionID, get: true, wantStatus: 200},
		{name: "wait for running", target: "/v1/sessions/" + testSessionID + "?wait=running&timeout=90s", wait: true,
			wantState: api.SessionRunning, wantTimeout: 90 * time.Second, wantStatus: 200},
		{name: "wait with the default timeout", target: "/v1/sessions/" + testSessionID + "?wait=STOPPED", wait: true,
			wantState: api.SessionStopped, wantTimeout: 30 * time.Second, wantStatus: 200},
		{name: "wait for a job state", target: "/v1/sessions/" + testSessionID + "?wait=FINISHED", wantStatus: 400},
		{name: "bad timeout", target: "/v1/sessions/" + testSessionID + "?wait=RUNNING&timeout=0s", wantStatus: 400},
		{name: "session job id", target: "/v1/sessions/" + testSessionID + "." + strings.Repeat("a", 32), wantStatus: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, sessions, _ := newSessionTestServer(t)
			if tc.get {
				sessions.get = func(_ context.Context, id string) (api.Session, error) {
					if id != testSessionID {
						t.Errorf("Session(%q)", id)
					}
					return testSession(), nil
				}
			}
			if tc.wait {
				sessions.wait = func(_ context.Context, id string, st api.SessionState, timeout time.Duration) (api.Session, error) {
					if id != testSessionID || st != tc.wantState || timeout != tc.wantTimeout {
						t.Errorf("WaitSession(%q, %q, %v)", id, st, timeout)
					}
					return testSession(), nil
				}
			}
			rec := s.do(t, http.MethodGet, tc.target, nil, nil)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if rec.Code == 200 && !reflect.DeepEqual(decodeSession(t, rec.Body.Bytes()), testSession()) {
				t.Errorf("session %s", rec.Body)
			}
		})
	}
}

func TestListAndDeleteSessions(t *testing.T) {
	s, sessions, _ := newSessionTestServer(t)
	sessions.list = func(context.Context, job.Page) (api.SessionList, error) { return api.SessionList{}, nil }
	if rec := s.do(t, http.MethodGet, "/v1/sessions", nil, nil); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"sessions":[]}` {
		t.Errorf("empty list = %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		state      api.SessionState
		wantStatus int
	}{{api.SessionStopping, 202}, {api.SessionStopped, 200}, {api.SessionFailed, 200}} {
		sessions.stop = func(_ context.Context, id string) (api.Session, error) {
			sess := testSession()
			sess.State = tc.state
			return sess, nil
		}
		if rec := s.do(t, http.MethodDelete, "/v1/sessions/"+testSessionID, nil, nil); rec.Code != tc.wantStatus {
			t.Errorf("delete of a %s session = %d, want %d", tc.state, rec.Code, tc.wantStatus)
		}
	}
}

func TestSessionErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
	}{
		{"not found", fmt.Errorf("%w: %s", job.ErrSessionNotFound, testSessionID), 404, api.CodeSessionNotFound},
		{"not running", fmt.Errorf("%w: session %s is STOPPED", job.ErrSessionNotRunning, testSessionID), 409, api.CodeSessionNotRunning},
		{"jar too large for the jobmanager", fmt.Errorf("upload jar to session: %w", &jobmanager.Error{Status: 413, Messages: []string{"Request entity too large"}}), 413, api.CodeTooLarge},
		{"jobmanager unavailable", fmt.Errorf("upload jar to session: %w", &jobmanager.Error{Status: 503, Messages: []string{"java.lang.Exception at nm1"}}), 503, api.CodeUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, sessions, jobs := newSessionTestServer(t)
			sessions.get = func(context.Context, string) (api.Session, error) { return api.Session{}, tc.err }
			jobs.submit = func(context.Context, api.JobRequest, string) (api.Job, bool, error) { return api.Job{}, false, tc.err }
			for _, r := range []struct{ method, target, body string }{
				{http.MethodGet, "/v1/sessions/" + testSessionID, ""},
				{http.MethodPost, "/v1/jobs", `{"jarId":"` + goodID + `","target":"session","sessionId":"` + testSessionID + `"}`},
			} {
				rec := s.do(t, r.method, r.target, strings.NewReader(r.body), header("Content-Type", "application/json"))
				if rec.Code != tc.wantStatus {
					t.Fatalf("%s %s = %d, want %d; body %s", r.method, r.target, rec.Code, tc.wantStatus, rec.Body)
				}
				if e := decodeError(t, rec); e.Code != tc.wantCode || strings.Contains(e.Message, "java") {
					t.Errorf("%s %s: error %+v, want code %s and no cause", r.method, r.target, e, tc.wantCode)
				}
			}
		})
	}
}

func TestOpenAPIListsSessionErrorCodes(t *testing.T) {
	for _, code := range []string{api.CodeSessionNotFound, api.CodeSessionNotRunning} {
		if !strings.Contains(string(api.OpenAPI), "`"+code+"`") {
			t.Errorf("api/openapi.yaml does not document error code %s", code)
		}
	}
}
