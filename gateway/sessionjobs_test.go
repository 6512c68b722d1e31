package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/yarnclient"
)

// fakeRM is an rmClient whose App answers from a function; the other methods are not used by session jobs.
type fakeRM struct {
	rmClient // nil: calling anything else panics
	app      func(id string) (*yarnclient.App, error)
}

func (f *fakeRM) App(_ context.Context, id string) (*yarnclient.App, error) { return f.app(id) }
func (f *fakeRM) ActiveRM() (yarnclient.RM, bool)                           { return yarnclient.RM{URL: "http://rm:8088"}, true }

// fakeFiles is a fileStore that serves one jar for Open.
type fakeFiles struct {
	fileStore
	opens    int
	archives map[string]string // Flink job id → its job archive
}

func (f *fakeFiles) Open(_ context.Context, name string) (io.ReadCloser, error) {
	if a, ok := f.archives[strings.TrimPrefix(name, "/staging/archive/")]; ok {
		return io.NopCloser(strings.NewReader(a)), nil
	}
	if name != "/staging/jars/"+goodID+".jar" {
		return nil, fs.ErrNotExist
	}
	f.opens++
	return io.NopCloser(strings.NewReader("PK jar bytes")), nil
}

// fakeJarGetter finds the one staged jar.
type fakeJarGetter struct{}

func (fakeJarGetter) Get(_ context.Context, id string) (hdfs.Jar, error) {
	if id != goodID {
		return hdfs.Jar{}, hdfs.ErrNotFound
	}
	return hdfs.Jar{ID: id, URI: "hdfs://nn:8020/staging/jars/" + goodID + ".jar", Size: 12, ModTime: time.UnixMilli(1),
		MainClass: "dev.Example"}, nil
}

// fakeJobManager is a session JobManager's REST API: jar upload and run, job status and cancel.
type fakeJobManager struct {
	mu      sync.Mutex
	uploads int
	jars    map[string]bool
	jobs    map[string]string // Flink job id → status
	runs    []map[string]any
}

func (m *fakeJobManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == "/config":
		io.WriteString(w, `{"flink-version":"2.2.1"}`)
	case p == "/jars" && r.Method == http.MethodGet:
		var files []map[string]string
		for id := range m.jars {
			files = append(files, map[string]string{"id": id})
		}
		json.NewEncoder(w).Encode(map[string]any{"files": files})
	case p == "/jars/upload":
		io.Copy(io.Discard, r.Body)
		m.uploads++
		id := "u" + strings.Repeat("x", m.uploads) + "_job.jar"
		m.jars[id] = true
		io.WriteString(w, `{"filename":"/tmp/flink-web/flink-web-upload/`+id+`","status":"success"}`)
	case strings.HasPrefix(p, "/jars/") && strings.HasSuffix(p, "/run"):
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		m.runs = append(m.runs, body)
		if args, _ := body["programArgsList"].([]any); len(args) > 0 && args[0] == "--fail" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat x.y(Z.java:1)\nCaused by: java.lang.IllegalArgumentException: failing on purpose (--fail)\n\tat a.b(C.java:2)"]}`)
			return
		}
		id := body["jobId"].(string)
		m.jobs[id] = "RUNNING"
		io.WriteString(w, `{"jobid":"`+id+`"}`)
	case strings.HasPrefix(p, "/jobs/") && r.Method == http.MethodPatch:
		id := strings.TrimPrefix(p, "/jobs/")
		if _, ok := m.jobs[id]; !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		m.jobs[id] = "CANCELED"
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{}`)
	case strings.HasPrefix(p, "/jobs/"):
		id := strings.TrimPrefix(p, "/jobs/")
		st, ok := m.jobs[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":["Job could not be found."]}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"jid": id, "name": "example", "state": st, "start-time": 1000})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// newSessionJobService returns a JobService over fakes with one session, RUNNING at the fake JobManager;
// setState changes the session application's YARN state.
func newSessionJobService(t *testing.T) (s *JobService, jm *fakeJobManager, files *fakeFiles, setState func(yarnclient.AppState)) {
	t.Helper()
	jm = &fakeJobManager{jars: map[string]bool{}, jobs: map[string]string{}}
	srv := httptest.NewServer(jm)
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	state := yarnclient.StateRunning
	rm := &fakeRM{app: func(id string) (*yarnclient.App, error) {
		if id != testSessionID {
			return nil, yarnclient.ErrNotFound
		}
		mu.Lock()
		defer mu.Unlock()
		app := &yarnclient.App{ID: id, State: state, ApplicationTags: []string{tagGateway, tagKindSession, tagFlinkPrefix + "2.2.1"}}
		if state == yarnclient.StateRunning {
			app.AMRPCAddress = strings.TrimPrefix(srv.URL, "http://")
		} else {
			app.FinalStatus = yarnclient.FinalSucceeded
		}
		return app, nil
	}}
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	files = &fakeFiles{}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	s = &JobService{
		opts: JobServiceOptions{RM: rm, Files: files, Jars: fakeJarGetter{}, Logger: slog.New(slog.DiscardHandler), Metrics: metrics,
			MaxWait: time.Minute, StagingRoot: "/staging"},
		tracker: newJobTracker(), sessions: newSessionRegistry(),
		jmHTTP: &http.Client{Timeout: 5 * time.Second}, jmStream: &http.Client{},
		cleanups: make(chan string, 8), diagnoses: make(chan diagnosis, 8), bg: ctx, stop: stop,
	}
	return s, jm, files, func(st yarnclient.AppState) { mu.Lock(); state = st; mu.Unlock() }
}

func TestSessionJobLifecycle(t *testing.T) {
	s, jm, files, setState := newSessionJobService(t)
	ctx := t.Context()
	req := func(args ...string) api.JobRequest {
		return api.JobRequest{Name: "sum", JarID: goodID, Target: targetSession, SessionID: testSessionID, Args: args, Parallelism: ptr(2)}
	}

	// Two jobs of one jar: one upload; the job id names the session and the Flink job id sent to /run.
	var ids []string
	for range 2 {
		job, created, err := s.Submit(ctx, req("--mode", "unbounded"), "")
		if err != nil || !created {
			t.Fatalf("Submit = %+v, %v, %v", job, created, err)
		}
		if job.State != api.StateRunning || job.Target != targetSession || job.ID != testSessionID+"."+job.Flink.JobID || job.YARN.ApplicationID != testSessionID {
			t.Errorf("job %+v", job)
		}
		want := "http://rm:8088/proxy/" + testSessionID + "/#/job/running/" + job.Flink.JobID + "/overview"
		if job.Links.FlinkUI == nil || *job.Links.FlinkUI != want {
			t.Errorf("links.flinkUi = %v, want %s", job.Links.FlinkUI, want)
		}
		ids = append(ids, job.ID)
	}
	if jm.uploads != 1 || files.opens != 1 {
		t.Errorf("%d uploads (%d HDFS opens) for two jobs of one jar, want 1", jm.uploads, files.opens)
	}
	run := jm.runs[0]
	if run["entryClass"] != "dev.Example" || run["parallelism"] != float64(2) || run["jobId"] == "" {
		t.Errorf("run request %v", run)
	}
	// The JobManager lost its jars (restarted): uploaded again.
	jm.mu.Lock()
	clear(jm.jars)
	jm.mu.Unlock()
	if _, _, err := s.Submit(ctx, req("--mode", "unbounded"), ""); err != nil || jm.uploads != 2 {
		t.Errorf("after the JobManager lost the jar: %v, %d uploads", err, jm.uploads)
	}

	// A main() that throws is a FAILED job with the JobManager's message, without the stack trace.
	failed, created, err := s.Submit(ctx, req("--fail"), "")
	if err != nil || !created || failed.State != api.StateFailed || !failed.Terminal || failed.Flink.Failure == nil ||
		!strings.Contains(*failed.Flink.Failure, "failing on purpose (--fail)") || strings.Contains(*failed.Flink.Failure, "\tat") {
		t.Fatalf("failing main() = %+v (failure %v), %v", failed, failed.Flink.Failure, err)
	}
	if again, err := s.Job(ctx, failed.ID); err != nil || again.State != api.StateFailed {
		t.Errorf("failed job later = %+v, %v", again, err)
	}

	// Idempotency keys: a retry is the same job; the key with another request is refused.
	first, _, err := s.Submit(ctx, req("--mode", "unbounded", "--rate", "1"), "key-1")
	if err != nil {
		t.Fatal(err)
	}
	if again, created, err := s.Submit(ctx, req("--mode", "unbounded", "--rate", "1"), "key-1"); err != nil || created || again.ID != first.ID {
		t.Errorf("retry = %s, %v, %v; want %s, false", again.ID, created, err, first.ID)
	}
	if _, _, err := s.Submit(ctx, req("--mode", "unbounded", "--rate", "2"), "key-1"); !errors.Is(err, ErrIdempotencyKeyReused) {
		t.Errorf("key reused with another request: %v", err)
	}
	// A gateway that forgot the key (another process) finds the job the key ran by its derived Flink job id
	// and runs nothing again.
	s.sessions.mu.Lock()
	delete(s.sessions.keys, "key-1")
	s.sessions.mu.Unlock()
	runs := len(jm.runs)
	if again, created, err := s.Submit(ctx, req("--mode", "unbounded", "--rate", "1"), "key-1"); err != nil || created || again.ID != first.ID {
		t.Errorf("retry in a fresh process = %s, %v, %v; want %s, false", again.ID, created, err, first.ID)
	}
	if len(jm.runs) != runs {
		t.Errorf("the retry in a fresh process ran the job again")
	}

	// Cancel goes through the JobManager.
	if job, err := s.Cancel(ctx, ids[0], true); err != nil || job.State != api.StateCanceled || !job.Terminal {
		t.Errorf("Cancel = %+v, %v", job, err)
	}
	// A job the running JobManager does not know: not found unless the gateway submitted it (then LOST).
	if _, err := s.Job(ctx, testSessionID+"."+strings.Repeat("0", 32)); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("unknown session job: %v", err)
	}
	jm.mu.Lock()
	delete(jm.jobs, ids[1][len(testSessionID)+1:])
	jm.mu.Unlock()
	if job, err := s.Job(ctx, ids[1]); err != nil || job.State != api.StateLost {
		t.Errorf("job the JobManager forgot = %+v, %v", job, err)
	}

	// The session ends: a job still running ends CANCELED, ended ones keep their state, no more submissions.
	setState(yarnclient.StateFinished)
	if job, err := s.Job(ctx, first.ID); err != nil || job.State != api.StateCanceled {
		t.Errorf("running job after the session stopped = %+v, %v", job, err)
	}
	if job, err := s.Job(ctx, ids[0]); err != nil || job.State != api.StateCanceled {
		t.Errorf("canceled job after the session stopped = %+v, %v", job, err)
	}
	if _, _, err := s.Submit(ctx, req("--mode", "unbounded"), ""); !errors.Is(err, ErrSessionNotRunning) {
		t.Errorf("submit to an ended session: %v", err)
	}
	// After a restart (nothing in memory) a job that ended in the stopped session is found in its archive.
	archived := strings.Repeat("1", 32)
	files.archives = map[string]string{archived: `{"archive":[{"path":"/jobs/` + archived + `","json":"{\"state\":\"FAILED\"}"},` +
		`{"path":"/jobs/` + archived + `/exceptions","json":"{\"root-exception\":\"java.lang.RuntimeException: boom\\n\\tat x\"}"}]}`}
	if job, err := s.Job(ctx, testSessionID+"."+archived); err != nil || job.State != api.StateFailed || job.Flink.Failure == nil || *job.Flink.Failure != "java.lang.RuntimeException: boom" {
		t.Errorf("archived job = %+v, %v", job, err)
	}
	if _, err := s.Job(ctx, testSessionID+"."+strings.Repeat("2", 32)); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("job neither known nor archived: %v", err)
	}
	other := req()
	other.SessionID = "application_1767225600000_0099"
	if _, _, err := s.Submit(ctx, other, ""); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("submit to an unknown session: %v", err)
	}
}

// killRM adds Kill to fakeRM.
type killRM struct {
	*fakeRM
	killed chan string
}

func (k *killRM) Kill(_ context.Context, id, _ string) (yarnclient.AppState, error) {
	k.killed <- id
	return yarnclient.StateKilled, nil
}

// removeFiles adds RemoveAll to fakeFiles.
type removeFiles struct {
	*fakeFiles
	removed chan string
}

func (r *removeFiles) RemoveAll(_ context.Context, name string) error {
	r.removed <- name
	return nil
}

func TestStopSessionKillsWhenShutdownHangs(t *testing.T) {
	s, _, files, setState := newSessionJobService(t) // the fake JobManager has no DELETE /cluster: shutdown fails
	rm := &killRM{fakeRM: s.opts.RM.(*fakeRM), killed: make(chan string, 1)}
	rf := &removeFiles{fakeFiles: files, removed: make(chan string, 1)}
	s.opts.RM, s.opts.Files, s.opts.SessionStopGrace = rm, rf, 100*time.Millisecond

	sess, err := s.StopSession(t.Context(), testSessionID)
	if err != nil || sess.State != api.SessionStopping {
		t.Fatalf("StopSession = %+v, %v", sess, err)
	}
	if again, err := s.StopSession(t.Context(), testSessionID); err != nil || again.State != api.SessionStopping {
		t.Errorf("second StopSession = %+v, %v", again, err)
	}
	if _, _, err := s.Submit(t.Context(), api.JobRequest{JarID: goodID, Target: targetSession, SessionID: testSessionID}, ""); !errors.Is(err, ErrSessionNotRunning) {
		t.Errorf("submit to a stopping session: %v", err)
	}
	select {
	case id := <-rm.killed:
		if id != testSessionID {
			t.Errorf("killed %s", id)
		}
		setState(yarnclient.StateKilled)
	case <-time.After(10 * time.Second):
		t.Fatal("the session was not killed")
	}
	select {
	case dir := <-rf.removed:
		if dir != "/staging/.flink/"+testSessionID {
			t.Errorf("removed %s", dir)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the staging files were not removed")
	}
	if sess, err := s.Session(t.Context(), testSessionID); err != nil || sess.State != api.SessionStopped {
		t.Errorf("after the kill: %+v, %v", sess, err)
	}
	s.Close()
}
