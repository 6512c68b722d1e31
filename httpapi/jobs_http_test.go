package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/jarfile"
	"github.com/yarngate/yarngate/job"
	"github.com/yarngate/yarngate/yarnclient"
)

// fakeJobs is a jobAPI whose behaviour each test sets through function fields. Unset fields fail the
// test when called.
type fakeJobs struct {
	t      *testing.T
	submit func(ctx context.Context, req api.JobRequest, idempotencyKey string) (api.Job, bool, error)
	job    func(ctx context.Context, id string) (api.Job, error)
	wait   func(ctx context.Context, id string, target api.JobState, timeout time.Duration) (api.Job, error)
	list   func(ctx context.Context, state api.JobState, page job.Page) (api.JobList, error)
	cancel func(ctx context.Context, id string, kill bool) (api.Job, error)
	// trigger serves TriggerSavepoint and Stop (stop: req.Stop set).
	trigger    func(ctx context.Context, id string, req api.StopRequest) (api.Savepoint, bool, error)
	savepoints func(ctx context.Context, id string) ([]api.Savepoint, error)
	upgrade    func(ctx context.Context, id string, req api.UpgradeRequest) (api.Job, bool, error)
}

func (f *fakeJobs) Upgrade(ctx context.Context, id string, req api.UpgradeRequest) (api.Job, bool, error) {
	if f.upgrade == nil {
		f.t.Error("unexpected Upgrade")
		return api.Job{}, false, errors.New("unexpected Upgrade")
	}
	return f.upgrade(ctx, id, req)
}

func (f *fakeJobs) TriggerSavepoint(ctx context.Context, id string, req api.SavepointRequest) (api.Savepoint, bool, error) {
	return f.Stop(ctx, id, api.StopRequest{TriggerID: req.TriggerID, Format: req.Format, TargetDirectory: req.TargetDirectory})
}

func (f *fakeJobs) Stop(ctx context.Context, id string, req api.StopRequest) (api.Savepoint, bool, error) {
	if f.trigger == nil {
		f.t.Error("unexpected savepoint trigger")
		return api.Savepoint{}, false, errors.New("unexpected savepoint trigger")
	}
	return f.trigger(ctx, id, req)
}

func (f *fakeJobs) Savepoints(ctx context.Context, id string) ([]api.Savepoint, error) {
	if f.savepoints == nil {
		f.t.Error("unexpected Savepoints")
		return nil, errors.New("unexpected Savepoints")
	}
	return f.savepoints(ctx, id)
}

func (f *fakeJobs) Submit(ctx context.Context, req api.JobRequest, idempotencyKey string) (api.Job, bool, error) {
	if f.submit == nil {
		f.t.Error("unexpected Submit")
		return api.Job{}, false, errors.New("unexpected Submit")
	}
	return f.submit(ctx, req, idempotencyKey)
}

func (f *fakeJobs) Job(ctx context.Context, id string) (api.Job, error) {
	if f.job == nil {
		f.t.Error("unexpected Job")
		return api.Job{}, errors.New("unexpected Job")
	}
	return f.job(ctx, id)
}

func (f *fakeJobs) Wait(ctx context.Context, id string, target api.JobState, timeout time.Duration) (api.Job, error) {
	if f.wait == nil {
		f.t.Error("unexpected Wait")
		return api.Job{}, errors.New("unexpected Wait")
	}
	return f.wait(ctx, id, target, timeout)
}

func (f *fakeJobs) List(ctx context.Context, state api.JobState, page job.Page) (api.JobList, error) {
	if f.list == nil {
		f.t.Error("unexpected List")
		return api.JobList{}, errors.New("unexpected List")
	}
	return f.list(ctx, state, page)
}

func (f *fakeJobs) Cancel(ctx context.Context, id string, kill bool) (api.Job, error) {
	if f.cancel == nil {
		f.t.Error("unexpected Cancel")
		return api.Job{}, errors.New("unexpected Cancel")
	}
	return f.cancel(ctx, id, kill)
}

// newJobTestServer is newTestServer with a fake job service: the jar routes go through the real
// JarService over the fake jar store, the job routes to fakeJobs.
func newJobTestServer(t *testing.T) (*testServer, *fakeJobs) {
	t.Helper()
	jobs := &fakeJobs{t: t}
	return newTestServerWith(t, func(o *Options) { o.Jobs = jobs }), jobs
}

const testAppID = "application_1767225600000_0042"

// testJob is a running job as the service describes it.
func testJob() api.Job {
	return api.Job{
		ID: testAppID, Name: "wordcount", Target: "application", State: api.StateRunning,
		YARN:  api.JobYARN{ApplicationID: testAppID, State: "RUNNING", FinalStatus: "UNDEFINED", Queue: "default", User: "yarngate"},
		Flink: api.JobFlink{JobID: "0000019b76daa800000000000000002a", State: ptr("RUNNING"), Version: "1.20.3"},
		Links: api.JobLinks{YARN: "http://rm:8088/cluster/app/" + testAppID, FlinkUI: ptr("http://rm:8088/proxy/" + testAppID + "/"),
			JobManager: ptr("http://nm1:41231")},
		Owner:     "alice",
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC),
		History: []api.StateChange{{State: "SUBMITTED", At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			{State: "RUNNING", At: time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)}},
	}
}

// terminalJob is testJob after it was canceled.
func terminalJob() api.Job {
	j := testJob()
	j.State, j.Terminal = api.StateCanceled, true
	j.YARN.State, j.YARN.FinalStatus = "FINISHED", "KILLED"
	j.Flink.State = ptr("CANCELED")
	j.Links.FlinkUI, j.Links.JobManager = nil, nil
	return j
}

// decodeJob decodes a job body and compares it with want.
func decodeJob(t *testing.T, rec *httptest.ResponseRecorder, want api.Job) {
	t.Helper()
	var got api.Job
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("job body %q: %v", rec.Body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("job\n got %+v\nwant %+v", got, want)
	}
}

func TestJobJSONShape(t *testing.T) {
	// While nothing is known from Flink, flink.state, links.flinkUi and links.jobManager are null, not
	// absent; flink.version is left out when unknown; times are RFC 3339.
	j := testJob()
	j.State, j.YARN.State = api.StateAccepted, "ACCEPTED"
	j.Flink.State, j.Flink.Version = nil, ""
	j.Links.FlinkUI, j.Links.JobManager = nil, nil
	out, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": testAppID, "name": "wordcount", "target": "application", "state": "ACCEPTED", "terminal": false,
		"yarn": map[string]any{"applicationId": testAppID, "state": "ACCEPTED", "finalStatus": "UNDEFINED",
			"diagnostics": "", "queue": "default", "user": "yarngate"},
		"links":     map[string]any{"yarn": "http://rm:8088/cluster/app/" + testAppID, "flinkUi": nil, "jobManager": nil},
		"owner":     "alice",
		"createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:30Z",
		"history": []any{map[string]any{"state": "SUBMITTED", "at": "2026-01-01T00:00:00Z"},
			map[string]any{"state": "RUNNING", "at": "2026-01-01T00:00:30Z"}},
	}
	flink, _ := got["flink"].(map[string]any)
	delete(got, "flink")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON %s\nwant (besides flink) %v", out, want)
	}
	state, hasState := flink["state"]
	_, hasVersion := flink["version"]
	if flink["jobId"] != "0000019b76daa800000000000000002a" || !hasState || state != nil || hasVersion {
		t.Errorf("flink = %v, want jobId, state null and no version", flink)
	}
}

func TestSubmitJobJSON(t *testing.T) {
	spec := `{"name":"wordcount","jarId":"` + goodID + `","args":["--in","a b"],"parallelism":2,"flinkConfig":{"k":"v"}}`
	tests := []struct {
		name       string
		body       string
		header     http.Header
		created    bool  // what the fake Submit answers
		err        error // what the fake Submit answers
		noSubmit   bool  // Submit must not be called
		wantKey    string
		wantStatus int
		wantCode   string
		wantDetail []api.FieldProblem
	}{
		{name: "new job", body: spec, header: header("Content-Type", "application/json"), created: true, wantStatus: 202},
		{name: "charset parameter", body: spec, header: header("Content-Type", "application/json; charset=utf-8"), created: true, wantStatus: 202},
		{name: "idempotent replay", body: spec, header: header("Content-Type", "application/json", "Idempotency-Key", "run-2026-01-01"),
			wantKey: "run-2026-01-01", wantStatus: 200},
		{name: "new job with a key", body: spec, header: header("Content-Type", "application/json", "Idempotency-Key", "run 2026/01/02 #1"),
			wantKey: "run 2026/01/02 #1", created: true, wantStatus: 202},
		{name: "key at the length limit", body: spec, header: header("Content-Type", "application/json", "Idempotency-Key", strings.Repeat("k", 255)),
			wantKey: strings.Repeat("k", 255), created: true, wantStatus: 202},
		{name: "key too long", body: spec, header: header("Content-Type", "application/json", "Idempotency-Key", strings.Repeat("k", 256)),
			noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "key with a control character", body: spec, header: header("Content-Type", "application/json", "Idempotency-Key", "k\x01ey"),
			noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "key with DEL", body: spec, header: header("Content-Type", "application/json", "Idempotency-Key", "key\x7f"),
			noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "key not ASCII", body: spec, header: header("Content-Type", "application/json", "Idempotency-Key", "schlüssel"),
			noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "text/plain", body: spec, header: header("Content-Type", "text/plain"), noSubmit: true, wantStatus: 415, wantCode: api.CodeUnsupportedMediaType},
		{name: "a jar", body: spec, header: header("Content-Type", "application/java-archive"), noSubmit: true, wantStatus: 415, wantCode: api.CodeUnsupportedMediaType},
		{name: "no content type", body: spec, noSubmit: true, wantStatus: 415, wantCode: api.CodeUnsupportedMediaType},
		{name: "malformed content type", body: spec, header: header("Content-Type", "application/json; ="), noSubmit: true, wantStatus: 415, wantCode: api.CodeUnsupportedMediaType},
		{name: "malformed JSON", body: `{"name":`, header: header("Content-Type", "application/json"), noSubmit: true,
			wantStatus: 400, wantCode: api.CodeInvalidSpec, wantDetail: []api.FieldProblem{{Field: "body", Reason: "malformed JSON"}}},
		{name: "unknown field", body: `{"name":"x","jar":"x.jar"}`, header: header("Content-Type", "application/json"), noSubmit: true,
			wantStatus: 400, wantCode: api.CodeInvalidSpec, wantDetail: []api.FieldProblem{{Field: "body", Reason: `unknown field "jar"`}}},
		{name: "wrong type", body: `{"parallelism":"4"}`, header: header("Content-Type", "application/json"), noSubmit: true,
			wantStatus: 400, wantCode: api.CodeInvalidSpec, wantDetail: []api.FieldProblem{{Field: "body", Reason: `field "parallelism" must be an integer`}}},
		{name: "two objects", body: spec + spec, header: header("Content-Type", "application/json"), noSubmit: true,
			wantStatus: 400, wantCode: api.CodeInvalidSpec, wantDetail: []api.FieldProblem{{Field: "body", Reason: "trailing data after the JSON object"}}},
		{name: "larger than 1 MiB", body: `{"name":"` + strings.Repeat("x", maxSpecSize) + `"}`, header: header("Content-Type", "application/json"),
			noSubmit: true, wantStatus: 413, wantCode: api.CodeTooLarge},
		{name: "the service finds problems", body: spec, header: header("Content-Type", "application/json"),
			err:        &api.SpecError{Problems: []api.FieldProblem{{Field: "flinkVersion", Reason: "unknown"}, {Field: "jobManager.memory", Reason: "64k is too small"}}},
			wantStatus: 400, wantCode: api.CodeInvalidSpec,
			wantDetail: []api.FieldProblem{{Field: "flinkVersion", Reason: "unknown"}, {Field: "jobManager.memory", Reason: "64k is too small"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, jobs := newJobTestServer(t)
			var got api.JobRequest
			var gotKey string
			if !tc.noSubmit {
				jobs.submit = func(ctx context.Context, req api.JobRequest, key string) (api.Job, bool, error) {
					if job.RequestID(ctx) == "" {
						t.Error("Submit got a context without the request id")
					}
					got, gotKey = req, key
					if tc.err != nil {
						return api.Job{}, false, tc.err
					}
					return testJob(), tc.created, nil
				}
			}
			rec := s.do(t, http.MethodPost, "/v1/jobs", strings.NewReader(tc.body), tc.header)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode != "" {
				e := decodeError(t, rec)
				if e.Code != tc.wantCode {
					t.Errorf("code = %q, want %q", e.Code, tc.wantCode)
				}
				if !slices.Equal(e.Details, tc.wantDetail) {
					t.Errorf("details = %+v, want %+v", e.Details, tc.wantDetail)
				}
				if tc.wantCode == api.CodeTooLarge && strings.Contains(e.Message, "jar") {
					t.Errorf("message %q blames a jar for a large job request", e.Message)
				}
				if loc := rec.Header().Get("Location"); loc != "" {
					t.Errorf("Location %q on an error", loc)
				}
				return
			}
			decodeJob(t, rec, testJob())
			if loc := rec.Header().Get("Location"); loc != "/v1/jobs/"+testAppID {
				t.Errorf("Location = %q", loc)
			}
			if gotKey != tc.wantKey {
				t.Errorf("idempotency key %q, want %q", gotKey, tc.wantKey)
			}
			if got.Name != "wordcount" || got.JarID != goodID || !slices.Equal(got.Args, []string{"--in", "a b"}) ||
				got.Parallelism == nil || *got.Parallelism != 2 || !reflect.DeepEqual(got.FlinkConfig, map[string]any{"k": "v"}) {
				t.Errorf("Submit got %+v", got)
			}
		})
	}
}

// mpPart is one part of a multipart body.
type mpPart struct {
	field, fileName, contentType, content string
}

// jobMultipart builds a multipart/form-data body from parts, in order.
func jobMultipart(t *testing.T, parts ...mpPart) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.field)
		if p.fileName != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.fileName)
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.content)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

func TestSubmitJobMultipart(t *testing.T) {
	const jarBytes = "PK\x03\x04 pretend jar bytes"
	spec := mpPart{field: "spec", contentType: "application/json", content: `{"name":"wordcount","args":["x"],"parallelism":3}`}
	jar := mpPart{field: "jar", fileName: "wordcount.jar", contentType: "application/java-archive", content: jarBytes}
	specDefaultType := mpPart{field: "spec", content: `{"name":"wordcount","args":["x"],"parallelism":3}`} // curl -F 'spec=...'
	comment := mpPart{field: "comment", content: "ignored"}

	body := func(parts ...mpPart) func(*testing.T) ([]byte, string) {
		return func(t *testing.T) ([]byte, string) { return jobMultipart(t, parts...) }
	}
	tests := []struct {
		name       string
		body       func(*testing.T) ([]byte, string)
		put        func(ctx context.Context, body io.Reader, name string) (hdfs.PutResult, error) // nil: stage jarBytes
		noPut      bool                                                                           // the store must not be called
		noSubmit   bool
		wantStatus int
		wantCode   string
		wantDetail []api.FieldProblem
	}{
		{name: "spec then jar", body: body(spec, jar), wantStatus: 202},
		{name: "jar then spec", body: body(jar, spec), wantStatus: 202},
		{name: "spec without a content type", body: body(jar, specDefaultType), wantStatus: 202},
		{name: "other fields are ignored", body: body(comment, jar, comment, spec, comment), wantStatus: 202},
		{name: "the jar was staged before", body: body(spec, jar), wantStatus: 202,
			put: func(_ context.Context, body io.Reader, _ string) (hdfs.PutResult, error) {
				io.Copy(io.Discard, body)
				return hdfs.PutResult{Jar: staged, Created: false}, nil
			}},
		{name: "no jar", body: body(spec, comment), noPut: true, noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "jar in a field of another name", body: body(spec, mpPart{field: "file", fileName: "x.jar", content: jarBytes}),
			noPut: true, noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "no spec", body: body(jar), noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "empty body", body: body(), noPut: true, noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "spec names a jarId", body: body(mpPart{field: "spec", content: `{"jarId":"` + goodID + `"}`}, jar),
			noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidSpec,
			wantDetail: []api.FieldProblem{{Field: "jarId", Reason: "must be empty when the jar is uploaded with the request"}}},
		{name: "spec names a jarPath", body: body(jar, mpPart{field: "spec", content: `{"jarPath":"hdfs:///x.jar"}`}),
			noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidSpec,
			wantDetail: []api.FieldProblem{{Field: "jarId", Reason: "must be empty when the jar is uploaded with the request"}}},
		{name: "malformed spec", body: body(mpPart{field: "spec", content: `{"name":}`}, jar), noPut: true, noSubmit: true,
			wantStatus: 400, wantCode: api.CodeInvalidSpec, wantDetail: []api.FieldProblem{{Field: "body", Reason: "malformed JSON at byte 9"}}},
		{name: "spec larger than 1 MiB", body: body(mpPart{field: "spec", content: `{"name":"` + strings.Repeat("x", maxSpecSize) + `"}`}, jar),
			noPut: true, noSubmit: true, wantStatus: 413, wantCode: api.CodeTooLarge},
		{name: "not a jar", body: body(spec, jar), noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidJar,
			put: func(_ context.Context, body io.Reader, _ string) (hdfs.PutResult, error) {
				io.Copy(io.Discard, body)
				return hdfs.PutResult{}, fmt.Errorf("stage jar: %w: %w", hdfs.ErrInvalidJar, jarfile.ErrNotZip)
			}},
		{name: "cut off in the jar", noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidRequest,
			body: func(t *testing.T) ([]byte, string) {
				b, ct := jobMultipart(t, spec, jar)
				return b[:bytes.Index(b, []byte(jarBytes))+5], ct
			},
			put: func(_ context.Context, body io.Reader, _ string) (hdfs.PutResult, error) {
				_, err := io.ReadAll(body)
				return hdfs.PutResult{}, fmt.Errorf("stage jar: %w", err)
			}},
		{name: "cut off before the jar", body: func(t *testing.T) ([]byte, string) {
			b, ct := jobMultipart(t, spec, jar)
			return b[:bytes.Index(b, []byte("wordcount.jar"))], ct
		}, noPut: true, noSubmit: true, wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "storage down", body: body(spec, jar), noSubmit: true, wantStatus: 503, wantCode: api.CodeUnavailable,
			put: func(context.Context, io.Reader, string) (hdfs.PutResult, error) {
				return hdfs.PutResult{}, fmt.Errorf("stage jar: %w: dial tcp namenode.internal:8020: refused", hdfs.ErrUnavailable)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, jobs := newJobTestServer(t)
			var staged bool
			if !tc.noPut {
				s.store.put = func(ctx context.Context, body io.Reader, name string) (hdfs.PutResult, error) {
					staged = true
					if name != "wordcount.jar" {
						t.Errorf("store got name %q", name)
					}
					if tc.put != nil {
						return tc.put(ctx, body, name)
					}
					if b, err := io.ReadAll(body); err != nil || string(b) != jarBytes {
						t.Errorf("store got %q, %v", b, err)
					}
					j := hdfs.Jar{ID: goodID, Name: name, Size: int64(len(jarBytes)), URI: "hdfs://nn/jars/" + goodID + ".jar"}
					return hdfs.PutResult{Jar: j, Created: true}, nil
				}
			}
			var got api.JobRequest
			if !tc.noSubmit {
				jobs.submit = func(_ context.Context, req api.JobRequest, key string) (api.Job, bool, error) {
					got = req
					return testJob(), true, nil
				}
			}
			b, ct := tc.body(t)
			rec := s.do(t, http.MethodPost, "/v1/jobs", bytes.NewReader(b), header("Content-Type", ct))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode != "" {
				e := decodeError(t, rec)
				if e.Code != tc.wantCode {
					t.Errorf("code = %q, want %q", e.Code, tc.wantCode)
				}
				if !slices.Equal(e.Details, tc.wantDetail) {
					t.Errorf("details = %+v, want %+v", e.Details, tc.wantDetail)
				}
				if strings.Contains(rec.Body.String(), "namenode.internal") {
					t.Errorf("error body leaks the cause: %s", rec.Body)
				}
				return
			}
			if !staged {
				t.Error("the jar was not staged")
			}
			decodeJob(t, rec, testJob())
			if got.JarID != goodID || got.Name != "wordcount" || !slices.Equal(got.Args, []string{"x"}) ||
				got.Parallelism == nil || *got.Parallelism != 3 || got.JarPath != "" {
				t.Errorf("Submit got %+v, want the spec with jarId %s", got, goodID)
			}
		})
	}
}

func TestSubmitJobMultipartWithoutBoundary(t *testing.T) {
	s, _ := newJobTestServer(t)
	rec := s.do(t, http.MethodPost, "/v1/jobs", strings.NewReader("x"), header("Content-Type", "multipart/form-data"))
	if rec.Code != 400 || decodeError(t, rec).Code != api.CodeInvalidRequest {
		t.Errorf("status = %d, body %s; want 400 invalid_request", rec.Code, rec.Body)
	}
}

func TestGetJob(t *testing.T) {
	tests := []struct {
		name        string
		target      string
		job         bool          // expect a Job call
		wait        bool          // expect a Wait call with wantState and wantTimeout
		wantState   api.JobState  //
		wantTimeout time.Duration //
		wantStatus  int
		wantCode    string
	}{
		{name: "get", target: "/v1/jobs/" + testAppID, job: true, wantStatus: 200},
		{name: "timeout alone is ignored", target: "/v1/jobs/" + testAppID + "?timeout=5s", job: true, wantStatus: 200},
		{name: "wait for running", target: "/v1/jobs/" + testAppID + "?wait=RUNNING&timeout=60s", wait: true,
			wantState: api.StateRunning, wantTimeout: time.Minute, wantStatus: 200},
		{name: "wait case-insensitive", target: "/v1/jobs/" + testAppID + "?wait=finished&timeout=1m30s", wait: true,
			wantState: api.StateFinished, wantTimeout: 90 * time.Second, wantStatus: 200},
		{name: "wait with the default timeout", target: "/v1/jobs/" + testAppID + "?wait=Accepted", wait: true,
			wantState: api.StateAccepted, wantTimeout: 30 * time.Second, wantStatus: 200},
		{name: "wait with a long timeout", target: "/v1/jobs/" + testAppID + "?wait=CANCELED&timeout=1h", wait: true,
			wantState: api.StateCanceled, wantTimeout: time.Hour, wantStatus: 200},
		{name: "wait for no state", target: "/v1/jobs/" + testAppID + "?wait=DONE", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "wait with a YARN state", target: "/v1/jobs/" + testAppID + "?wait=SUCCEEDED", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "timeout without unit", target: "/v1/jobs/" + testAppID + "?wait=RUNNING&timeout=60", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "timeout not a duration", target: "/v1/jobs/" + testAppID + "?wait=RUNNING&timeout=soon", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "timeout zero", target: "/v1/jobs/" + testAppID + "?wait=RUNNING&timeout=0s", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "timeout negative", target: "/v1/jobs/" + testAppID + "?wait=RUNNING&timeout=-5s", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "malformed id", target: "/v1/jobs/app_1_2", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "id with letters", target: "/v1/jobs/application_1767225600000_00x2", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "attempt id", target: "/v1/jobs/appattempt_1767225600000_0042_000001", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "id with a trailing space", target: "/v1/jobs/" + testAppID + "%20", wantStatus: 400, wantCode: api.CodeInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, jobs := newJobTestServer(t)
			if tc.job {
				jobs.job = func(_ context.Context, id string) (api.Job, error) {
					if id != testAppID {
						t.Errorf("Job(%q)", id)
					}
					return testJob(), nil
				}
			}
			if tc.wait {
				jobs.wait = func(_ context.Context, id string, state api.JobState, timeout time.Duration) (api.Job, error) {
					if id != testAppID || state != tc.wantState || timeout != tc.wantTimeout {
						t.Errorf("Wait(%q, %q, %v), want (%q, %q, %v)", id, state, timeout, testAppID, tc.wantState, tc.wantTimeout)
					}
					return testJob(), nil
				}
			}
			rec := s.do(t, http.MethodGet, tc.target, nil, nil)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode != "" {
				if e := decodeError(t, rec); e.Code != tc.wantCode {
					t.Errorf("code = %q, want %q", e.Code, tc.wantCode)
				}
				return
			}
			decodeJob(t, rec, testJob())
		})
	}
}

func TestListJobs(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		call       bool // expect a List call with wantState and wantPage
		wantState  api.JobState
		wantPage   job.Page
		list       []api.Job
		next       string
		wantStatus int
		wantCode   string
		wantBody   string
	}{
		{name: "all", target: "/v1/jobs", call: true, list: []api.Job{testJob(), terminalJob()}, wantStatus: 200},
		{name: "by state", target: "/v1/jobs?state=RUNNING", call: true, wantState: api.StateRunning, list: []api.Job{testJob()}, wantStatus: 200},
		{name: "by state, lower case", target: "/v1/jobs?state=canceled", call: true, wantState: api.StateCanceled, list: []api.Job{terminalJob()}, wantStatus: 200},
		{name: "empty state is no filter", target: "/v1/jobs?state=", call: true, list: []api.Job{testJob()}, wantStatus: 200},
		{name: "none is an empty array", target: "/v1/jobs", call: true, list: nil, wantStatus: 200, wantBody: `{"jobs":[]}`},
		{name: "unknown state", target: "/v1/jobs?state=DONE", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "a page", target: "/v1/jobs?limit=1&cursor=abc", call: true, wantPage: job.Page{Limit: 1, Cursor: "abc"},
			list: []api.Job{testJob()}, next: "def", wantStatus: 200},
		{name: "a limit over the maximum is reduced", target: "/v1/jobs?limit=1000000", call: true, wantPage: job.Page{Limit: job.MaxPageLimit}, wantStatus: 200},
		{name: "a zero limit", target: "/v1/jobs?limit=0", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "a limit that is not a number", target: "/v1/jobs?limit=ten", wantStatus: 400, wantCode: api.CodeInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, jobs := newJobTestServer(t)
			if tc.call {
				jobs.list = func(_ context.Context, state api.JobState, page job.Page) (api.JobList, error) {
					if state != tc.wantState || page != tc.wantPage {
						t.Errorf("List(%q, %+v), want %q, %+v", state, page, tc.wantState, tc.wantPage)
					}
					return api.JobList{Jobs: tc.list, NextCursor: tc.next}, nil
				}
			}
			rec := s.do(t, http.MethodGet, tc.target, nil, nil)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode != "" {
				if e := decodeError(t, rec); e.Code != tc.wantCode {
					t.Errorf("code = %q, want %q", e.Code, tc.wantCode)
				}
				return
			}
			if tc.wantBody != "" && rec.Body.String() != tc.wantBody {
				t.Errorf("body %s, want %s", rec.Body, tc.wantBody)
			}
			var got api.JobList
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Jobs) != len(tc.list) || (len(tc.list) > 0 && !reflect.DeepEqual(got.Jobs, tc.list)) || got.NextCursor != tc.next {
				t.Errorf("jobs\n got %+v\nwant %+v (next %q)", got, tc.list, tc.next)
			}
		})
	}
}

func TestCancelJob(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		body       string
		call       bool // expect a Cancel call with wantKill
		wantKill   bool
		answer     api.Job
		wantStatus int
		wantCode   string
	}{
		{name: "no body", target: "/v1/jobs/" + testAppID + "/cancel", call: true, answer: testJob(), wantStatus: 202},
		{name: "empty object", target: "/v1/jobs/" + testAppID + "/cancel", body: `{}`, call: true, answer: testJob(), wantStatus: 202},
		{name: "kill", target: "/v1/jobs/" + testAppID + "/cancel", body: `{"kill":true}`, call: true, wantKill: true, answer: testJob(), wantStatus: 202},
		{name: "kill false", target: "/v1/jobs/" + testAppID + "/cancel", body: `{"kill":false}`, call: true, answer: testJob(), wantStatus: 202},
		{name: "already ended", target: "/v1/jobs/" + testAppID + "/cancel", call: true, answer: terminalJob(), wantStatus: 200},
		{name: "kill after the end", target: "/v1/jobs/" + testAppID + "/cancel", body: `{"kill":true}`, call: true, wantKill: true, answer: terminalJob(), wantStatus: 200},
		{name: "unknown field", target: "/v1/jobs/" + testAppID + "/cancel", body: `{"force":true}`, wantStatus: 400, wantCode: api.CodeInvalidSpec},
		{name: "kill as a string", target: "/v1/jobs/" + testAppID + "/cancel", body: `{"kill":"yes"}`, wantStatus: 400, wantCode: api.CodeInvalidSpec},
		{name: "malformed JSON", target: "/v1/jobs/" + testAppID + "/cancel", body: `{"kill":`, wantStatus: 400, wantCode: api.CodeInvalidSpec},
		{name: "body too large", target: "/v1/jobs/" + testAppID + "/cancel", body: `{"kill":true` + strings.Repeat(" ", 5000) + `}`,
			wantStatus: 413, wantCode: api.CodeTooLarge},
		{name: "malformed id", target: "/v1/jobs/job-1/cancel", wantStatus: 400, wantCode: api.CodeInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, jobs := newJobTestServer(t)
			if tc.call {
				jobs.cancel = func(_ context.Context, id string, kill bool) (api.Job, error) {
					if id != testAppID || kill != tc.wantKill {
						t.Errorf("Cancel(%q, %v), want (%q, %v)", id, kill, testAppID, tc.wantKill)
					}
					return tc.answer, nil
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
				e := decodeError(t, rec)
				if e.Code != tc.wantCode {
					t.Errorf("code = %q, want %q", e.Code, tc.wantCode)
				}
				if tc.wantCode == api.CodeTooLarge && strings.Contains(e.Message, "jar") {
					t.Errorf("message %q blames a jar for a large cancel request", e.Message)
				}
				return
			}
			decodeJob(t, rec, tc.answer)
		})
	}
}

// TestJobErrors sends every error of the job service through every job route and checks the status,
// the code, the client message, and that the cause never reaches the body.
func TestJobErrors(t *testing.T) {
	const secret = "namenode.internal:8020"
	leak := func(err error) error { return fmt.Errorf("talk to %s as yarngate@EXAMPLE.COM: %w", secret, err) }
	rejected := &yarnclient.RMError{Status: 400, Exception: "InvalidResourceRequestException",
		Message:       "Invalid resource request! Cannot allocate containers as requested resource is greater than maximum allowed allocation.",
		JavaClassName: "org.apache.hadoop.yarn.exceptions.InvalidResourceRequestException"}
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"job not found", leak(fmt.Errorf("%w: %s", job.ErrJobNotFound, testAppID)), 404, api.CodeNotFound, "no job with this id"},
		{"jar not found", leak(fmt.Errorf("%w: %s", job.ErrJarNotFound, goodID)), 404, api.CodeJarNotFound,
			"the job's jar is not staged (upload it with POST /v1/jars)"},
		{"idempotency key reused", leak(fmt.Errorf("%w (application %s)", job.ErrIdempotencyKeyReused, testAppID)), 422, api.CodeIdempotencyReused,
			"this Idempotency-Key was used for a different request"},
		{"unknown queue", leak(fmt.Errorf("%w: %q is not a leaf queue of the %s", job.ErrUnknownQueue, "etl", "capacityScheduler")), 422, api.CodeUnknownQueue,
			`"etl" is not a leaf queue of the capacityScheduler`},
		{"yarn rejected", leak(fmt.Errorf("%w: %w", job.ErrYARNRejected, fmt.Errorf("submit application: %w", rejected))), 422, api.CodeYARNRejected,
			"YARN rejected the application: " + rejected.Message},
		{"yarn rejected without a message", leak(fmt.Errorf("%w: %w", job.ErrYARNRejected, &yarnclient.RMError{Status: 400})), 422, api.CodeYARNRejected,
			"YARN rejected the application"},
		{"resourcemanager unavailable", leak(fmt.Errorf("new application: %w", yarnclient.ErrUnavailable)), 503, api.CodeUnavailable,
			"YARN is unavailable; retry later"},
		{"resourcemanager 503", leak(&yarnclient.RMError{Status: 503, Message: "standby"}), 503, api.CodeUnavailable,
			"YARN is unavailable; retry later"},
		{"no active resourcemanager", leak(yarnclient.ErrNoActiveRM), 503, api.CodeUnavailable, "YARN is unavailable; retry later"},
		{"hdfs unavailable", leak(hdfs.ErrUnavailable), 503, api.CodeUnavailable, "jar storage is unavailable; retry later"},
		{"anything else", leak(errors.New("java.io.IOException: Permission denied: user=yarngate")), 500, api.CodeInternal, "internal error"},
	}
	routes := []struct {
		name   string
		method string
		target string
		body   string
		setup  func(*fakeJobs, error)
	}{
		{"submit", http.MethodPost, "/v1/jobs", `{"jarId":"` + goodID + `"}`, func(f *fakeJobs, err error) {
			f.submit = func(context.Context, api.JobRequest, string) (api.Job, bool, error) { return api.Job{}, false, err }
		}},
		{"get", http.MethodGet, "/v1/jobs/" + testAppID, "", func(f *fakeJobs, err error) {
			f.job = func(context.Context, string) (api.Job, error) { return api.Job{}, err }
		}},
		{"wait", http.MethodGet, "/v1/jobs/" + testAppID + "?wait=RUNNING", "", func(f *fakeJobs, err error) {
			f.wait = func(context.Context, string, api.JobState, time.Duration) (api.Job, error) { return api.Job{}, err }
		}},
		{"list", http.MethodGet, "/v1/jobs", "", func(f *fakeJobs, err error) {
			f.list = func(context.Context, api.JobState, job.Page) (api.JobList, error) { return api.JobList{}, err }
		}},
		{"cancel", http.MethodPost, "/v1/jobs/" + testAppID + "/cancel", "", func(f *fakeJobs, err error) {
			f.cancel = func(context.Context, string, bool) (api.Job, error) { return api.Job{}, err }
		}},
	}
	for _, tc := range tests {
		for _, r := range routes {
			t.Run(tc.name+"/"+r.name, func(t *testing.T) {
				s, jobs := newJobTestServer(t)
				r.setup(jobs, tc.err)
				rec := s.do(t, r.method, r.target, strings.NewReader(r.body), header("Content-Type", "application/json"))
				if rec.Code != tc.wantStatus {
					t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
				}
				e := decodeError(t, rec)
				if e.Code != tc.wantCode || e.Message != tc.wantMsg {
					t.Errorf("error = %s %q, want %s %q", e.Code, e.Message, tc.wantCode, tc.wantMsg)
				}
				for _, s := range []string{"namenode.internal", "EXAMPLE.COM", "IOException", "InvalidResourceRequestException", "org.apache"} {
					if strings.Contains(rec.Body.String(), s) {
						t.Errorf("error body leaks %q: %s", s, rec.Body)
					}
				}
				if !strings.Contains(s.log.String(), secret) {
					t.Errorf("the cause is not logged: %s", s.log)
				}
			})
		}
	}
}

// TestJobsNotConfigured: without a job service every job route answers 503, and the jar routes still work.
func TestJobsNotConfigured(t *testing.T) {
	s := newTestServer(t) // Options.Jobs is nil
	for _, r := range []struct{ method, target, body string }{
		{http.MethodPost, "/v1/jobs", `{"jarId":"` + goodID + `"}`},
		{http.MethodGet, "/v1/jobs", ""},
		{http.MethodGet, "/v1/jobs/" + testAppID, ""},
		{http.MethodGet, "/v1/jobs/" + testAppID + "?wait=RUNNING", ""},
		{http.MethodPost, "/v1/jobs/" + testAppID + "/cancel", ""},
	} {
		rec := s.do(t, r.method, r.target, strings.NewReader(r.body), header("Content-Type", "application/json"))
		if rec.Code != 503 {
			t.Errorf("%s %s = %d, want 503; body %s", r.method, r.target, rec.Code, rec.Body)
			continue
		}
		if e := decodeError(t, rec); e.Code != api.CodeUnavailable {
			t.Errorf("%s %s: code %q, want %q", r.method, r.target, e.Code, api.CodeUnavailable)
		}
	}
	s.store.list = func(context.Context) ([]hdfs.Jar, error) { return nil, nil }
	if rec := s.do(t, http.MethodGet, "/v1/jars", nil, nil); rec.Code != 200 {
		t.Errorf("GET /v1/jars = %d without a job service", rec.Code)
	}
}

// TestOpenAPIListsJobErrorCodes keeps the job API's error codes documented.
func TestOpenAPIListsJobErrorCodes(t *testing.T) {
	for _, code := range []string{api.CodeInvalidSpec, api.CodeJarNotFound, api.CodeIdempotencyReused, api.CodeUnknownQueue, api.CodeYARNRejected} {
		if !strings.Contains(string(api.OpenAPI), "`"+code+"`") {
			t.Errorf("api/openapi.yaml does not document error code %s", code)
		}
	}
}
