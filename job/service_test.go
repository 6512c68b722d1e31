package job

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/launch"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/reconcile"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/registrytest"
	"github.com/yarngate/yarngate/yarnclient"
)

// fakeLauncher hands out application ids in sequence; hold, when set, blocks Submit until closed.
type fakeLauncher struct {
	mu        sync.Mutex
	next      int
	submits   []string
	specs     []launch.Spec
	found     *yarnclient.App // what FindByTags finds
	submitErr error
	hold      chan struct{}
	reserved  chan string // receives each application id handed out, when set
	runs      []launch.SessionRun
	runResult launch.SessionResult
	shutdowns []string
}

func (f *fakeLauncher) FlinkVersions() []string { return []string{"2.2.1"} }

func (f *fakeLauncher) Prepare(_ context.Context, s launch.Spec) (*launch.Prepared, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.JarID == "missing" {
		return nil, launch.ErrJarNotFound
	}
	f.specs = append(f.specs, s)
	return &launch.Prepared{FlinkVersion: "2.2.1"}, nil
}

func (f *fakeLauncher) NewApplication(context.Context, *launch.Prepared) (*yarnclient.NewApplication, error) {
	f.mu.Lock()
	f.next++
	id := "application_1767225600000_" + string(rune('0'+f.next/10)) + string(rune('0'+f.next%10)) + "00"
	f.mu.Unlock()
	if f.reserved != nil {
		f.reserved <- id
	}
	return &yarnclient.NewApplication{ApplicationID: id}, nil
}

func (f *fakeLauncher) Submit(ctx context.Context, _ *launch.Prepared, na *yarnclient.NewApplication) (launch.Launched, error) {
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return launch.Launched{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submits = append(f.submits, na.ApplicationID)
	if f.submitErr != nil {
		return launch.Launched{}, f.submitErr
	}
	jid, _ := ident.FlinkJobID(na.ApplicationID)
	return launch.Launched{ApplicationID: na.ApplicationID, FlinkJobID: jid}, nil
}

func (f *fakeLauncher) FindByTags(context.Context, string, string, launch.Kind) (*yarnclient.App, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.found, nil
}

func (f *fakeLauncher) Jar(context.Context, string, string, string) (flink.RemoteFile, string, error) {
	return flink.RemoteFile{URI: "hdfs://nn/jars/x.jar"}, "dev.Main", nil
}

func (f *fakeLauncher) RunInSession(_ context.Context, r launch.SessionRun) (launch.SessionResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, r)
	return f.runResult, nil
}

func (f *fakeLauncher) ShutdownSession(_ context.Context, id, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shutdowns = append(f.shutdowns, id)
	return nil
}

func (f *fakeLauncher) submitted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.submits...)
}

// fakeRM records kills.
type fakeRM struct {
	mu    sync.Mutex
	kills []string
	// killedAs are the users the kills acted as (yarnclient.AsUser).
	killedAs []string
}

func (f *fakeRM) Kill(ctx context.Context, id, _ string) (yarnclient.AppState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kills = append(f.kills, id)
	f.killedAs = append(f.killedAs, yarnclient.UserFrom(ctx))
	return yarnclient.StateKilled, nil
}

func (f *fakeRM) ActiveRM() (yarnclient.RM, bool) { return yarnclient.RM{URL: "http://rm:8088/"}, true }

// fakeObserver counts observations.
type fakeObserver struct{ observed atomic.Int64 }

func (f *fakeObserver) Observe(context.Context, string) error { f.observed.Add(1); return nil }
func (f *fakeObserver) Leading() bool                         { return true }
func (f *fakeObserver) LastPass() time.Time                   { return time.Time{} }

type testService struct {
	*Service
	launcher *fakeLauncher
	rm       *fakeRM
	observer *fakeObserver
	reg      *registry.Registry
}

func newTestService(t *testing.T, l *fakeLauncher) *testService {
	t.Helper()
	if l == nil {
		l = &fakeLauncher{}
	}
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ts := &testService{launcher: l, rm: &fakeRM{}, observer: &fakeObserver{}, reg: registrytest.Open(t, registrytest.NewMemStore())}
	ts.Service, err = New(Options{Launcher: l, RM: ts.rm, Registry: ts.reg, Observer: ts.observer, Instance: "me", User: "yarngate",
		IdempotencySecret: []byte("0123456789abcdef0123456789abcdef"),
		Logger:            slog.New(slog.NewTextHandler(t.Output(), nil)), Metrics: metrics, LaunchTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ts.Close)
	return ts
}

func jobRequest(jar string) api.JobRequest {
	return api.JobRequest{Name: "sum", JarID: jar, Args: []string{"--n", "10"}}
}

func TestSubmitRecordsAndRenders(t *testing.T) {
	s := newTestService(t, nil)
	ctx := t.Context()
	job, created, err := s.Submit(ctx, jobRequest(goodID), "")
	if err != nil || !created {
		t.Fatalf("Submit = %+v, %v, %v", job, created, err)
	}
	jid, _ := ident.FlinkJobID(job.ID)
	if job.State != api.StateSubmitted || job.Target != "application" || job.Flink.JobID != jid || job.Flink.Version != "2.2.1" ||
		job.Links.YARN != "http://rm:8088/cluster/app/"+job.ID || job.Links.JobManager != nil || job.YARN.User != "yarngate" {
		t.Fatalf("job %+v", job)
	}
	if s.observer.observed.Load() != 1 {
		t.Fatalf("%d first observations", s.observer.observed.Load())
	}
	if got, err := s.Job(ctx, job.ID); err != nil || got.ID != job.ID {
		t.Fatalf("Job = %+v, %v", got, err)
	}
	if rec, _ := s.reg.Get(ctx, job.ID); len(job.History) == 0 || len(job.History) != len(rec.History) ||
		job.History[0].State != rec.History[0].State || !job.History[0].At.Equal(rec.History[0].At) {
		t.Fatalf("history %+v, record's %+v", job.History, rec.History)
	}
	if list, _ := s.List(ctx, ""); len(list) != 1 {
		t.Fatalf("List = %+v", list)
	}
	if _, err := s.Session(ctx, job.ID); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("a job served as a session: %v", err)
	}
	if _, err := s.Job(ctx, "application_1_2"); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, _, err := s.Submit(ctx, jobRequest("missing"), ""); !errors.Is(err, ErrJarNotFound) {
		t.Fatalf("missing jar: %v", err)
	}
	rec, _ := s.reg.Get(ctx, job.ID)
	if !strings.Contains(string(rec.Spec), `"args":["--n","10"]`) || rec.Owner != "yarngate" {
		t.Fatalf("record %+v", rec)
	}
}

func TestIdempotentSubmit(t *testing.T) {
	s := newTestService(t, nil)
	ctx := t.Context()
	first, created, err := s.Submit(ctx, jobRequest(goodID), "k1")
	if err != nil || !created {
		t.Fatal(err)
	}
	for range 3 {
		again, created, err := s.Submit(ctx, jobRequest(goodID), "k1")
		if err != nil || created || again.ID != first.ID {
			t.Fatalf("retry = %s, %v, %v", again.ID, created, err)
		}
	}
	other := jobRequest(goodID)
	other.Args = []string{"--n", "11"}
	if _, _, err := s.Submit(ctx, other, "k1"); !errors.Is(err, ErrIdempotencyKeyReused) {
		t.Fatalf("reused key: %v", err)
	}
	if n := len(s.launcher.submitted()); n != 1 {
		t.Fatalf("%d launches for one key", n)
	}
	// A session key never matches a job's.
	if _, created, err := s.CreateSession(ctx, api.SessionRequest{Name: "s"}, "k1"); err != nil || !created {
		t.Fatalf("session with a job's key: %v %v", created, err)
	}
}

// TestLaunchOutlivesItsCaller: a caller that goes away after YARN gave the launch an application id does not
// cut the launch short; it is recorded, and a retry with the same key answers with it.
func TestLaunchOutlivesItsCaller(t *testing.T) {
	l := &fakeLauncher{hold: make(chan struct{}), reserved: make(chan string, 1)}
	s := newTestService(t, l)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, _, err := s.Submit(ctx, jobRequest(goodID), "k2")
		errc <- err
	}()
	appID := <-l.reserved
	cancel() // the client disconnects
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit after the caller left: %v", err)
	}
	close(l.hold) // the ResourceManager answers
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := s.Job(t.Context(), appID); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the launch was not recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	job, created, err := s.Submit(t.Context(), jobRequest(goodID), "k2")
	if err != nil || created || job.ID != appID {
		t.Fatalf("retry = %s, %v, %v; want %s", job.ID, created, err, appID)
	}
	if got := l.submitted(); len(got) != 1 || got[0] != appID {
		t.Fatalf("submitted %v", got)
	}
}

// TestRetryTakesOverFromAStoppedLauncher: a key claimed by an instance that stopped in the middle of its
// launch is taken over, and the application that launcher had submitted is found by its tags.
func TestRetryTakesOverFromAStoppedLauncher(t *testing.T) {
	found := yarnclient.App{ID: "application_1767225600000_0077", ApplicationTags: []string{ident.TagFlinkPrefix + "1.20.3"}}
	l := &fakeLauncher{found: &found}
	s := newTestService(t, l)
	ctx := t.Context()
	req := jobRequest(goodID)
	if _, err := normalizeJobRequest(&req); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.reg.ClaimKey(ctx, keyHash(registry.KindJob, scopedKey(authn.Principal{User: "yarngate"}, "k3")), registry.KeyClaim{Fingerprint: jobRequestFingerprint(&req), Launcher: "gone"}); err != nil {
		t.Fatal(err)
	}
	job, created, err := s.Submit(ctx, jobRequest(goodID), "k3")
	if err != nil || created || job.ID != found.ID || job.Flink.Version != "1.20.3" {
		t.Fatalf("take-over = %+v, %v, %v", job, created, err)
	}
	if n := len(l.submitted()); n != 0 {
		t.Fatalf("%d launches: the stopped launcher's application was launched again", n)
	}
	c, err := s.reg.Claim(ctx, keyHash(registry.KindJob, scopedKey(authn.Principal{User: "yarngate"}, "k3")))
	if err != nil || c.ID != found.ID || c.Launcher != "" {
		t.Fatalf("claim %+v, %v", c, err)
	}
}

func TestFailedLaunch(t *testing.T) {
	l := &fakeLauncher{submitErr: &launch.SubmitError{ApplicationID: "application_1767225600000_0100", Err: errors.New("timeout")}}
	s := newTestService(t, l)
	ctx := t.Context()
	if _, _, err := s.Submit(ctx, jobRequest(goodID), "k4"); err == nil {
		t.Fatal("a failed launch succeeded")
	}
	rec, err := s.reg.Get(ctx, "application_1767225600000_0100")
	if err != nil || rec.State != reconcile.StateLaunchFailed {
		t.Fatalf("hidden record %+v, %v", rec, err)
	}
	if _, err := s.Job(ctx, rec.ID); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("a failed launch is served: %v", err)
	}
	if _, err := s.reg.Claim(ctx, keyHash(registry.KindJob, "k4")); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("key kept after a failed launch: %v", err)
	}
}

// seed writes a record with a status.
func seed(t *testing.T, s *testService, rec registry.Record, st observe.Status) {
	t.Helper()
	st.Schema = observe.SchemaVersion
	if st.Since.IsZero() {
		st.Since = time.Now()
	}
	rec.SetStatus(st, "")
	if rec.Owner == "" {
		rec.Owner = "yarngate" // the service's user, the caller of requests without a principal
	}
	if _, err := s.reg.Create(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
}

func TestCancelKillsAndObserves(t *testing.T) {
	s := newTestService(t, nil)
	ctx := t.Context()
	const app = "application_1767225600000_0042"
	seed(t, s, registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Name: "x"},
		observe.Status{State: "ACCEPTED", YARN: observe.YARN{ApplicationID: app, State: "ACCEPTED", User: "alice"}})
	if _, err := s.Cancel(ctx, app, false); err != nil {
		t.Fatal(err)
	}
	if len(s.rm.kills) != 1 || s.rm.kills[0] != app || s.observer.observed.Load() != 1 {
		t.Fatalf("kills %v, observations %d", s.rm.kills, s.observer.observed.Load())
	}
	if s.rm.killedAs[0] != "alice" { // the application's user: doAs behind SPNEGO
		t.Errorf("killed as %q, want alice", s.rm.killedAs[0])
	}
}

func TestStopSession(t *testing.T) {
	s := newTestService(t, nil)
	ctx := t.Context()
	const sess = "application_1767225600000_0043"
	seed(t, s, registry.Record{ID: sess, Kind: registry.KindSession, ApplicationID: sess, Name: "s"},
		observe.Status{State: "RUNNING", JobManager: "http://jm:1", YARN: observe.YARN{ApplicationID: sess, State: "RUNNING"}})
	got, err := s.StopSession(ctx, sess)
	if err != nil || got.State != api.SessionStopping || len(s.launcher.shutdowns) != 1 {
		t.Fatalf("stop = %+v, %v, shutdowns %v", got, err, s.launcher.shutdowns)
	}
	rec, _ := s.reg.Get(ctx, sess)
	if rec.Status.StopRequested.IsZero() || rec.History[len(rec.History)-1].State != "STOPPING" {
		t.Fatalf("record %+v", rec)
	}
	// A session job into a stopping session is refused.
	req := jobRequest(goodID)
	req.Target, req.SessionID = "session", sess
	if _, _, err := s.Submit(ctx, req, ""); !errors.Is(err, ErrSessionNotRunning) {
		t.Fatalf("job into a stopping session: %v", err)
	}
}

func TestSessionJobs(t *testing.T) {
	l := &fakeLauncher{}
	s := newTestService(t, l)
	ctx := t.Context()
	const sess = "application_1767225600000_0044"
	seed(t, s, registry.Record{ID: sess, Kind: registry.KindSession, ApplicationID: sess, Name: "s"},
		observe.Status{State: "RUNNING", JobManager: "http://jm:1", YARN: observe.YARN{ApplicationID: sess, State: "RUNNING"},
			Flink: observe.Flink{Version: "1.20.3"}})
	req := jobRequest(goodID)
	req.Target, req.SessionID = "session", sess
	job, created, err := s.Submit(ctx, req, "sk")
	if err != nil || !created || job.Target != "session" || !strings.HasPrefix(job.ID, sess+".") || job.Flink.Version != "1.20.3" {
		t.Fatalf("session job %+v, %v, %v", job, created, err)
	}
	if l.runs[0].FlinkJobID != sessionFlinkJobID(sess, scopedKey(authn.Principal{User: "yarngate"}, "sk")) || l.runs[0].JobManager != "http://jm:1" {
		t.Fatalf("run %+v", l.runs[0])
	}
	if again, created, err := s.Submit(ctx, req, "sk"); err != nil || created || again.ID != job.ID {
		t.Fatalf("retry %s %v %v", again.ID, created, err)
	}
	l.runResult = launch.SessionResult{Failure: "Could not execute application. (caused by x: failing on purpose)"}
	failed, _, err := s.Submit(ctx, req, "")
	if err != nil || failed.State != api.StateFailed || !failed.Terminal || failed.Flink.Failure == nil || *failed.Flink.State != "FAILED" {
		t.Fatalf("failed main() = %+v, %v", failed, err)
	}
	if len(l.runs) != 2 {
		t.Fatalf("%d runs", len(l.runs))
	}
}

func TestRenderMultipleJobs(t *testing.T) {
	s := newTestService(t, nil)
	const app = "application_1767225600000_0045"
	seed(t, s, registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Name: "m", Target: "application"},
		observe.Status{State: "RUNNING", JobManager: "http://jm:2", YARN: observe.YARN{ApplicationID: app, State: "RUNNING"},
			Flink: observe.Flink{MultipleJobs: true, Jobs: []observe.FlinkJob{{ID: "a", Name: "sum-1", State: "FINISHED"}, {ID: "b", Name: "sum-2", State: "RUNNING"}}}})
	job, err := s.Job(t.Context(), app)
	if err != nil || job.Flink.JobID != "a" || len(job.Flink.Jobs) != 2 || job.Flink.Jobs[1].Name != "sum-2" ||
		job.Links.FlinkUI == nil || *job.Links.FlinkUI != "http://rm:8088/proxy/"+app+"/" {
		t.Fatalf("job %+v, %v", job, err)
	}
}
