package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/registrytest"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
)

// fakeRM is a ResourceManager holding a set of applications; it counts the calls made.
type fakeRM struct {
	mu    sync.Mutex
	apps  map[string]yarnclient.App
	kills []string
	logs  string // every container's jobmanager.log
	calls atomic.Int64
}

func (f *fakeRM) set(app yarnclient.App) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apps[app.ID] = app
}

func (f *fakeRM) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.apps, id)
}

func (f *fakeRM) Apps(_ context.Context, filter yarnclient.AppsFilter) ([]yarnclient.App, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []yarnclient.App
	for _, a := range f.apps {
		if (len(filter.ApplicationTags) == 0 || a.HasTag(filter.ApplicationTags[0])) &&
			(len(filter.States) == 0 || slices.Contains(filter.States, a.State)) &&
			(filter.FinishedTimeBegin == 0 || a.FinishedTime == 0 || a.FinishedTime >= filter.FinishedTimeBegin) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b yarnclient.App) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (f *fakeRM) App(_ context.Context, id string) (*yarnclient.App, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[id]
	if !ok {
		return nil, yarnclient.ErrNotFound
	}
	return &a, nil
}

func (f *fakeRM) Kill(_ context.Context, id, _ string) (yarnclient.AppState, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kills = append(f.kills, id)
	a := f.apps[id]
	a.State, a.FinalStatus = yarnclient.StateKilled, yarnclient.FinalKilled
	f.apps[id] = a
	return a.State, nil
}

func (f *fakeRM) ContainerLog(context.Context, string, string, int64) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs, nil
}

// fakeFiles records removals and serves directories and files from maps.
type fakeFiles struct {
	mu      sync.Mutex
	removed []string
	dirs    map[string][]hdfs.DirEntry
	files   map[string]string
}

func (f *fakeFiles) RemoveAll(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, name)
	return nil
}

func (f *fakeFiles) ReadDir(_ context.Context, name string) ([]hdfs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.dirs[name]; ok {
		return d, nil
	}
	return nil, fs.ErrNotExist
}

func (f *fakeFiles) OpenFile(_ context.Context, name string) (hdfs.File, error) {
	return nil, fs.ErrNotExist
}

func (f *fakeFiles) CanActAs() bool { return true }

func (f *fakeFiles) Open(_ context.Context, name string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.files[name]; ok {
		return io.NopCloser(strings.NewReader(s)), nil
	}
	return nil, fs.ErrNotExist
}

// fakeJobManager serves the JobManager REST calls the reconciler makes.
type fakeJobManager struct {
	mu    sync.Mutex
	jobs  map[string]string // Flink job id → status
	names map[string]string
	down  bool
	// failures are the exception history's timestamps (ms); exceptionCalls counts the calls for it.
	failures       []int64
	exceptionCalls int
}

func (m *fakeJobManager) set(id, state string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jobs[id] = state
}

func (m *fakeJobManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/config":
		io.WriteString(w, `{"flink-version":"2.2.1"}`)
	case p == "/jobs/overview":
		var jobs []map[string]any
		for id, st := range m.jobs {
			jobs = append(jobs, map[string]any{"jid": id, "name": m.names[id], "state": st, "start-time": 1000})
		}
		slices.SortFunc(jobs, func(a, b map[string]any) int { return strings.Compare(a["jid"].(string), b["jid"].(string)) })
		json.NewEncoder(w).Encode(map[string]any{"jobs": jobs})
	case strings.HasSuffix(p, "/exceptions"):
		m.exceptionCalls++
		var entries []map[string]any
		for _, ts := range m.failures {
			entries = append(entries, map[string]any{"exceptionName": "java.lang.RuntimeException", "timestamp": ts})
		}
		json.NewEncoder(w).Encode(map[string]any{"root-exception": "java.lang.RuntimeException: boom\n\tat x.y(Z.java:1)",
			"exceptionHistory": map[string]any{"entries": entries}})
	case strings.HasPrefix(p, "/jobs/"):
		id := strings.TrimPrefix(p, "/jobs/")
		st, ok := m.jobs[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":["Job could not be found."]}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"jid": id, "name": m.names[id], "state": st, "start-time": 1000})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// flagLeader is a leadership switched by the test.
type flagLeader struct{ on atomic.Bool }

func (l *flagLeader) IsLeader() bool { return l.on.Load() }

type harness struct {
	r       *Reconciler
	rm      *fakeRM
	files   *fakeFiles
	reg     *registry.Registry
	jm      *fakeJobManager
	jmAddr  string
	metrics *Metrics
	opts    Options
}

const (
	appA = "application_1700000000000_0001"
	appB = "application_1700000000000_0002"
	appS = "application_1700000000000_0003"
)

var home = ident.HomeTag("hdfs://nn:8020/staging")

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{rm: &fakeRM{apps: map[string]yarnclient.App{}},
		files: &fakeFiles{dirs: map[string][]hdfs.DirEntry{}, files: map[string]string{}},
		jm:    &fakeJobManager{jobs: map[string]string{}, names: map[string]string{}}}
	srv := httptest.NewServer(h.jm)
	t.Cleanup(srv.Close)
	h.jmAddr = strings.TrimPrefix(srv.URL, "http://")
	h.reg = registrytest.Open(t, registrytest.NewMemStore())
	var err error
	if h.metrics, err = NewMetrics(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	opts.RM, opts.Files, opts.Registry, opts.Metrics = h.rm, h.files, h.reg, h.metrics
	opts.HomeTag, opts.StagingRoot = home, "/staging"
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	if opts.LookupHost == nil {
		opts.LookupHost = fakeHosts.lookup
	}
	// Unless a test says otherwise, every pass lists every application and asks every JobManager, as the
	// tests of observations expect (jmcache_test.go tests the bounded passes).
	if opts.JobManagerRefresh == 0 {
		opts.JobManagerRefresh = time.Nanosecond
	}
	if opts.FullListInterval == 0 {
		opts.FullListInterval = time.Nanosecond
	}
	h.opts = opts
	if h.r, err = New(opts); err != nil {
		t.Fatal(err)
	}
	return h
}

// app is a tagged application; a running one has its JobManager at the fake.
func (h *harness) app(id string, state yarnclient.AppState, final yarnclient.FinalStatus, tags ...string) yarnclient.App {
	a := yarnclient.App{ID: id, Name: "job-" + id[len(id)-4:], State: state, FinalStatus: final, User: "yarngate",
		StartedTime: 1700000000000, AMContainerLogs: "http://nm/logs/" + id,
		ApplicationTags:   append([]string{ident.TagGateway, home, ident.TagTargetPrefix + "application", ident.TagFlinkPrefix + "2.2.1"}, tags...),
		AMHostHTTPAddress: "localhost:18042"} // the test cluster's NodeManager, as its RM reports it
	if state == yarnclient.StateRunning {
		a.AMRPCAddress = h.jmAddr
	}
	return a
}

func (h *harness) pass(t *testing.T) {
	t.Helper()
	if err := h.r.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) record(t *testing.T, id string) registry.Record {
	t.Helper()
	rec, ok := h.reg.Cached(id)
	if !ok {
		t.Fatalf("no record %s", id)
	}
	return rec
}

func (h *harness) writes() float64 {
	return testutil.ToFloat64(h.metrics.writes.WithLabelValues("job")) + testutil.ToFloat64(h.metrics.writes.WithLabelValues("session")) +
		testutil.ToFloat64(h.metrics.writes.WithLabelValues("session-job"))
}

func TestPassAdoptsAndFollowsYARN(t *testing.T) {
	h := newHarness(t, Options{})
	h.rm.set(h.app(appA, yarnclient.StateAccepted, yarnclient.FinalUndefined))
	h.rm.set(h.app(appS, yarnclient.StateAccepted, yarnclient.FinalUndefined, ident.TagKindSession))
	h.rm.set(yarnclient.App{ID: appB, State: yarnclient.StateRunning}) // not the gateway's
	other := h.app("application_1700000000000_0009", yarnclient.StateRunning, yarnclient.FinalUndefined)
	other.ApplicationTags = []string{ident.TagGateway, ident.HomeTag("hdfs://nn:8020/elsewhere")}
	h.rm.set(other) // another installation's
	h.pass(t)

	if rec := h.record(t, appA); rec.Kind != "job" || rec.State != "ACCEPTED" || rec.Name != "job-0001" ||
		rec.Target != "application" || rec.Status.Flink.Version != "2.2.1" || rec.History[0].Reason != "adopted" {
		t.Fatalf("adopted job %+v", rec)
	}
	if rec := h.record(t, appS); rec.Kind != "session" || rec.State != "STARTING" {
		t.Fatalf("adopted session %+v", rec)
	}
	for _, id := range []string{appB, other.ID} {
		if _, ok := h.reg.Cached(id); ok {
			t.Fatalf("%s adopted", id)
		}
	}
	flinkID, _ := ident.FlinkJobID(appA)
	h.jm.set(flinkID, "RUNNING")
	h.rm.set(h.app(appA, yarnclient.StateRunning, yarnclient.FinalUndefined))
	h.rm.set(h.app(appS, yarnclient.StateRunning, yarnclient.FinalUndefined, ident.TagKindSession))
	h.pass(t)
	if rec := h.record(t, appA); rec.State != "RUNNING" || rec.Status.JobManager != "http://"+h.jmAddr || rec.Status.Flink.State != "RUNNING" {
		t.Fatalf("running job %+v", rec.Status)
	}
	if rec := h.record(t, appS); rec.State != "RUNNING" {
		t.Fatalf("running session %+v", rec.Status)
	}
	h.rm.set(h.app(appA, yarnclient.StateFinished, yarnclient.FinalSucceeded))
	h.pass(t)
	rec := h.record(t, appA)
	if rec.State != "FINISHED" || !rec.Terminal || len(rec.History) != 3 || rec.Status.JobManager != "" {
		t.Fatalf("finished job %+v", rec)
	}
	time.Sleep(50 * time.Millisecond) // the removal worker is not running: the action was queued
	if got := len(h.r.removals); got != 1 {
		t.Fatalf("%d launch-file removals queued, want 1", got)
	}
}

// TestNewLeaderWritesNothing: a reconciler that takes over (a new instance, or after a restart) observes
// the same state as its predecessor wrote, and writes no record.
func TestNewLeaderWritesNothing(t *testing.T) {
	h := newHarness(t, Options{})
	flinkID, _ := ident.FlinkJobID(appA)
	h.jm.set(flinkID, "RUNNING")
	h.rm.set(h.app(appA, yarnclient.StateRunning, yarnclient.FinalUndefined))
	h.rm.set(h.app(appB, yarnclient.StateFinished, yarnclient.FinalSucceeded))
	h.rm.set(h.app(appS, yarnclient.StateRunning, yarnclient.FinalUndefined, ident.TagKindSession))
	h.pass(t)
	h.pass(t)
	first := h.writes()
	if first != 4 { // the fake JobManager serves the session too: it lists the job, adopted as a session job
		t.Fatalf("%v writes for four adoptions", first)
	}
	metrics, _ := NewMetrics(prometheus.NewRegistry())
	opts := h.opts
	opts.Metrics = metrics
	next, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := next.Pass(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := testutil.ToFloat64(metrics.writes.WithLabelValues("job")) + testutil.ToFloat64(metrics.writes.WithLabelValues("session")) +
		testutil.ToFloat64(metrics.writes.WithLabelValues("session-job")); n != 0 {
		t.Fatalf("the new leader wrote %v records that did not change", n)
	}
}

func TestLateFailureIsNeverFinished(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { h.r.failureLoop(ctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	flinkID, _ := ident.FlinkJobID(appA)
	h.rm.logs = "INFO x\nERROR org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: summary failed\n"
	h.jm.set(flinkID, "RUNNING")
	h.rm.set(h.app(appA, yarnclient.StateRunning, yarnclient.FinalUndefined))
	h.pass(t)
	h.jm.set(flinkID, "FINISHED")
	h.pass(t)
	if rec := h.record(t, appA); rec.State != "RUNNING" || rec.Terminal || rec.Status.Flink.State != "FINISHED" {
		t.Fatalf("finished Flink job, running application: %+v", rec.Status)
	}
	h.rm.set(h.app(appA, yarnclient.StateFailed, yarnclient.FinalFailed))
	h.pass(t)
	if rec := h.record(t, appA); rec.State != "FAILED" {
		t.Fatalf("failed application: %+v", rec.Status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.record(t, appA).Status.Flink.Failure == "" {
		if time.Now().After(deadline) {
			t.Fatal("failure not found")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if f := h.record(t, appA).Status.Flink.Failure; f != "summary failed" {
		t.Fatalf("failure %q", f)
	}
	if !observe.Settled(observe.KindJob, h.record(t, appA).Status, time.Now().Add(observe.ArchiveGrace)) {
		t.Fatal("not settled")
	}
}

func TestMultipleJobsListed(t *testing.T) {
	h := newHarness(t, Options{})
	h.jm.set(strings.Repeat("a", 32), "FINISHED")
	h.jm.set(strings.Repeat("b", 32), "RUNNING")
	h.jm.names[strings.Repeat("a", 32)], h.jm.names[strings.Repeat("b", 32)] = "sum-1", "sum-2"
	h.rm.set(h.app(appA, yarnclient.StateRunning, yarnclient.FinalUndefined, ident.TagMultipleJobs))
	h.pass(t)
	rec := h.record(t, appA)
	if rec.State != "RUNNING" || len(rec.Status.Flink.Jobs) != 2 || rec.Status.Flink.Jobs[1].Name != "sum-2" {
		t.Fatalf("%+v", rec.Status)
	}
	// The second job finished just before the cluster ended: its archive tells.
	archive := `{"archive":[{"path":"/jobs/` + strings.Repeat("b", 32) + `","json":"{\"jid\":\"` + strings.Repeat("b", 32) +
		`\",\"name\":\"sum-2\",\"state\":\"FINISHED\"}"}]}`
	h.files.dirs["/staging/archive/"+appA] = []hdfs.DirEntry{{Name: strings.Repeat("b", 32)}}
	h.files.files["/staging/archive/"+appA+"/"+strings.Repeat("b", 32)] = archive
	h.rm.set(h.app(appA, yarnclient.StateFinished, yarnclient.FinalSucceeded, ident.TagMultipleJobs))
	h.pass(t)
	rec = h.record(t, appA)
	if rec.State != "FINISHED" || rec.Status.Flink.Jobs[1].State != "FINISHED" {
		t.Fatalf("%+v", rec.Status)
	}
}

// TestLateArchiveTellsTheFlinkEnd: the application ended before its JobManager was asked again after its Flink
// job ended (the last answer said RUNNING) and the archive was not there yet at the first look; the archive is
// looked for again, in passes that no longer list the ended application, until ArchiveGrace, and has the last
// word when it appears; without one, the record settles after ArchiveGrace.
func TestLateArchiveTellsTheFlinkEnd(t *testing.T) {
	for _, appears := range []bool{true, false} {
		t.Run(fmt.Sprintf("archive appears %v", appears), func(t *testing.T) {
			now := time.Now()
			// Passes list only the applications that have not ended (no full list): the archive is read
			// again without YARN listing the ended application.
			h := newHarness(t, Options{Now: func() time.Time { return now }, FullListInterval: time.Hour})
			flinkID, _ := ident.FlinkJobID(appA)
			h.jm.set(flinkID, "RUNNING")
			h.rm.set(h.app(appA, yarnclient.StateRunning, yarnclient.FinalUndefined))
			h.pass(t)
			h.rm.set(h.app(appA, yarnclient.StateFinished, yarnclient.FinalSucceeded))
			h.pass(t) // it left the list of applications not ended (the clock stands: no full list)
			h.pass(t) // the list of those that ended since
			rec := h.record(t, appA)
			if rec.State != "FINISHED" || rec.Status.Flink.State != "RUNNING" {
				t.Fatalf("ended application, no archive yet: %+v", rec.Status)
			}
			if observe.Settled(observe.KindJob, rec.Status, now) {
				t.Fatal("settled while its archive may still appear")
			}
			now = now.Add(observe.ArchiveGrace / 2)
			if appears {
				h.files.files["/staging/archive/"+flinkID] = `{"archive":[{"path":"/jobs/` + flinkID + `","json":"{\"jid\":\"` +
					flinkID + `\",\"name\":\"sum\",\"state\":\"FINISHED\"}"}]}`
			}
			h.pass(t)
			rec = h.record(t, appA)
			if want := map[bool]string{true: "FINISHED", false: "RUNNING"}[appears]; rec.Status.Flink.State != want {
				t.Fatalf("flink.state %q after the archive's second look, want %q", rec.Status.Flink.State, want)
			}
			if settled := observe.Settled(observe.KindJob, rec.Status, now); settled != appears {
				t.Fatalf("settled %v, want %v", settled, appears)
			}
			now = now.Add(observe.ArchiveGrace)
			if !observe.Settled(observe.KindJob, h.record(t, appA).Status, now) {
				t.Fatal("not settled after ArchiveGrace")
			}
		})
	}
}

func TestLostAndRetention(t *testing.T) {
	h := newHarness(t, Options{LostGrace: time.Nanosecond, Retention: 50 * time.Millisecond})
	ctx := t.Context()
	h.rm.set(h.app(appA, yarnclient.StateAccepted, yarnclient.FinalUndefined))
	h.rm.set(h.app(appB, yarnclient.StateFinished, yarnclient.FinalSucceeded))
	h.pass(t)
	if _, err := h.reg.Update(ctx, appB, func(rec *registry.Record) (bool, error) {
		rec.KeyHash = "k"
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.reg.ClaimKey(ctx, "k", registry.KeyClaim{ID: appB}); err != nil {
		t.Fatal(err)
	}
	h.rm.remove(appA)
	h.rm.remove(appB)
	h.pass(t)
	rec := h.record(t, appA)
	if rec.State != "LOST" || !rec.Terminal || !strings.Contains(rec.Status.YARN.Diagnostics, "no longer knows") {
		t.Fatalf("vanished job %+v", rec)
	}
	if last := rec.History[len(rec.History)-1]; last.State != "LOST" || last.Reason == "" {
		t.Fatalf("LOST transition %+v", last)
	}
	if rec := h.record(t, appB); rec.State != "FINISHED" {
		t.Fatalf("finished job after YARN forgot it: %+v", rec)
	}
	time.Sleep(60 * time.Millisecond)
	h.pass(t)
	if _, ok := h.reg.Cached(appB); ok {
		t.Fatal("record kept past its retention")
	}
	if _, err := h.reg.Claim(ctx, "k"); err == nil {
		t.Fatal("idempotency key kept past the record's retention")
	}
	if !slices.Contains(h.files.removed, "/staging/.flink/"+appB) {
		t.Fatalf("removed %v", h.files.removed)
	}
}

func TestKillsFailedLaunchesOnlyWhenLeading(t *testing.T) {
	lead := &flagLeader{}
	h := newHarness(t, Options{Leadership: lead, Interval: 10 * time.Millisecond})
	ctx := t.Context()
	h.rm.set(h.app(appA, yarnclient.StateRunning, yarnclient.FinalUndefined))
	if _, err := h.reg.Create(ctx, registry.Record{ID: appA, Kind: registry.KindJob, ApplicationID: appA, State: StateLaunchFailed, Terminal: true}); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { h.r.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	time.Sleep(50 * time.Millisecond)
	if n := h.rm.calls.Load(); n != 0 {
		t.Fatalf("a follower made %d ResourceManager calls", n)
	}
	lead.on.Store(true)
	deadline := time.Now().Add(2 * time.Second)
	for {
		h.rm.mu.Lock()
		kills := len(h.rm.kills)
		h.rm.mu.Unlock()
		if kills > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the application of a failed launch was not killed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rec := h.record(t, appA); rec.State != StateLaunchFailed {
		t.Fatalf("failed launch record became %+v", rec)
	}
}

func TestSessionJobs(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := t.Context()
	j1, j2, j3 := strings.Repeat("1", 32), strings.Repeat("2", 32), strings.Repeat("3", 32)
	h.rm.set(h.app(appS, yarnclient.StateRunning, yarnclient.FinalUndefined, ident.TagKindSession))
	h.jm.set(j1, "RUNNING")
	h.jm.set(j3, "RUNNING") // submitted by hand: adopted
	for _, j := range []string{j1, j2} {
		rec := registry.Record{ID: ident.SessionJobID(appS, j), Kind: registry.KindSessionJob, ApplicationID: appS, Name: "n", Target: "session"}
		rec.SetStatus(observe.Status{Schema: 1, State: "STARTING", Since: time.Now(), Ran: true,
			YARN: observe.YARN{ApplicationID: appS}, Flink: observe.Flink{JobID: j}}, "")
		if _, err := h.reg.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	h.pass(t)
	if rec := h.record(t, ident.SessionJobID(appS, j1)); rec.State != "RUNNING" || rec.Status.JobManager == "" {
		t.Fatalf("running session job %+v", rec.Status)
	}
	if rec := h.record(t, ident.SessionJobID(appS, j2)); rec.State != "LOST" {
		t.Fatalf("a job the JobManager does not know: %+v", rec.Status)
	}
	if rec := h.record(t, ident.SessionJobID(appS, j3)); rec.State != "RUNNING" || rec.History[0].Reason != "adopted" {
		t.Fatalf("adopted session job %+v", rec)
	}
	h.jm.set(j1, "FINISHED")
	h.pass(t)
	if rec := h.record(t, ident.SessionJobID(appS, j1)); rec.State != "FINISHED" {
		t.Fatalf("finished session job %+v", rec.Status)
	}
	// The session is stopped: a job still running is CANCELED with it.
	h.rm.set(h.app(appS, yarnclient.StateFinished, yarnclient.FinalSucceeded, ident.TagKindSession))
	h.pass(t)
	if rec := h.record(t, ident.SessionJobID(appS, j3)); rec.State != "CANCELED" {
		t.Fatalf("job of a stopped session %+v", rec.Status)
	}
	if rec := h.record(t, appS); rec.State != "STOPPED" {
		t.Fatalf("session %+v", rec.Status)
	}
}

func TestStalledSessionStopKilled(t *testing.T) {
	h := newHarness(t, Options{SessionStopGrace: time.Millisecond})
	ctx := t.Context()
	h.rm.set(h.app(appS, yarnclient.StateRunning, yarnclient.FinalUndefined, ident.TagKindSession))
	h.pass(t)
	if _, err := h.reg.Update(ctx, appS, func(rec *registry.Record) (bool, error) {
		return rec.SetStatus(observe.Stopping(rec.Status, time.Now().Add(-time.Second)), ""), nil
	}); err != nil {
		t.Fatal(err)
	}
	h.pass(t)
	if !slices.Equal(h.rm.kills, []string{appS}) {
		t.Fatalf("kills %v", h.rm.kills)
	}
	h.pass(t)
	if rec := h.record(t, appS); rec.State != "STOPPED" {
		t.Fatalf("session %+v", rec.Status)
	}
}

func TestCollectRemovesOnlyUnreferencedFiles(t *testing.T) {
	h := newHarness(t, Options{Retention: time.Hour})
	ctx := t.Context()
	old, young := time.Now().Add(-2*time.Hour), time.Now()
	const (
		appRunning = "application_1700000000000_0011" // record not ended
		appNoRec   = "application_1700000000000_0012" // running in YARN, no record (an older gateway)
		appEnded   = "application_1700000000000_0013" // record ended, YARN ended
		appOrphan  = "application_1700000000000_0014" // nothing knows it
		appYoung   = "application_1700000000000_0015" // a launch under way
	)
	h.rm.set(h.app(appRunning, yarnclient.StateAccepted, yarnclient.FinalUndefined))
	h.rm.set(h.app(appNoRec, yarnclient.StateAccepted, yarnclient.FinalUndefined))
	h.rm.set(h.app(appEnded, yarnclient.StateFinished, yarnclient.FinalSucceeded))
	h.pass(t)
	if err := h.reg.Delete(ctx, h.record(t, appNoRec)); err != nil {
		t.Fatal(err)
	}
	endedJob, _ := ident.FlinkJobID(appEnded)
	entry := func(name string, at time.Time) hdfs.DirEntry {
		return hdfs.DirEntry{Name: name, FileInfo: hdfs.FileInfo{ModTime: at, Mode: fs.ModeDir}}
	}
	h.files.dirs["/staging/.flink"] = []hdfs.DirEntry{entry(appRunning, old), entry(appNoRec, old), entry(appEnded, old),
		entry(appOrphan, old), entry(appYoung, young), entry("not-an-app", old)}
	h.files.dirs["/staging/archive"] = []hdfs.DirEntry{entry(endedJob, old), entry(strings.Repeat("ab", 16), old),
		entry(strings.Repeat("cd", 16), young), entry(appOrphan, old)}
	h.files.removed = nil
	h.r.collect(ctx)
	got := strings.Join(h.files.removed, " ")
	want := "/staging/.flink/" + appEnded + " /staging/.flink/" + appOrphan + " /staging/archive/" + strings.Repeat("ab", 16) +
		" /staging/archive/" + appOrphan
	if got != want {
		t.Fatalf("removed %s\nwant    %s", got, want)
	}
}

// fakeLeaders is a zk.FlinkLeaders whose first read of a watched cluster completes after a delay.
type fakeLeaders struct {
	mu      sync.Mutex
	leaders map[string]zk.JobManagerLeader
	watched map[string]time.Time
	delay   time.Duration
}

func (f *fakeLeaders) Watch(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watched[id] = time.Now()
	return nil
}

func (f *fakeLeaders) Unwatch(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.watched, id)
}

func (f *fakeLeaders) Leader(id string) (zk.JobManagerLeader, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	since, ok := f.watched[id]
	if !ok {
		return zk.JobManagerLeader{}, false
	}
	if time.Since(since) < f.delay {
		return zk.JobManagerLeader{}, true // not read yet
	}
	return f.leaders[id], true
}

// TestHALeaderAddress: an HA application's JobManager address is the leader ZooKeeper names once it answers,
// from the first observation on (a reconciler that just started waits for the first read), and the watch
// ends with the application.
func TestHALeaderAddress(t *testing.T) {
	leaders := &fakeLeaders{leaders: map[string]zk.JobManagerLeader{}, watched: map[string]time.Time{}, delay: 100 * time.Millisecond}
	h := newHarness(t, Options{Leaders: leaders})
	flinkID, _ := ident.FlinkJobID(appA)
	h.jm.set(flinkID, "RUNNING")
	app := h.app(appA, yarnclient.StateRunning, yarnclient.FinalUndefined, ident.TagHA)
	app.AMRPCAddress = "localhost:1" // YARN names the JobManager under another name (or an old attempt)
	h.rm.set(app)
	leaders.leaders[appA] = zk.JobManagerLeader{Known: true, Certain: true, Address: "http://" + h.jmAddr, Since: time.Now().Add(-time.Hour)}
	h.pass(t)
	rec := h.record(t, appA)
	if rec.Status.JobManager != "http://"+h.jmAddr || rec.State != "RUNNING" {
		t.Fatalf("first observation: %+v", rec.Status)
	}
	h.pass(t)
	if n := h.writes(); n != 1 {
		t.Fatalf("%v writes, want the adoption only", n)
	}
	h.rm.set(h.app(appA, yarnclient.StateFinished, yarnclient.FinalSucceeded, ident.TagHA))
	h.pass(t)
	if _, watched := leaders.Leader(appA); watched {
		t.Fatal("the leader of an ended application is still watched")
	}
}

// TestHALeaderUnreadable: when the leader znode's ACL refuses the gateway (Flink's creator ACL), the
// JobManager address is YARN's, and a JobManager that does not know the job is not taken for one recovering
// it (ZooKeeper will never say when recovery ended).
func TestHALeaderUnreadable(t *testing.T) {
	leaders := &fakeLeaders{leaders: map[string]zk.JobManagerLeader{}, watched: map[string]time.Time{}}
	h := newHarness(t, Options{Leaders: leaders})
	leaders.leaders[appA] = zk.JobManagerLeader{Err: errors.Join(errors.New("zk: /flink/"+appA+"/leader/rest_server"), zk.ErrNoAuth)}
	flinkID, _ := ident.FlinkJobID(appA)
	h.jm.set(flinkID, "RUNNING")
	h.rm.set(h.app(appA, yarnclient.StateRunning, yarnclient.FinalUndefined, ident.TagHA))
	h.pass(t)
	rec := h.record(t, appA)
	if rec.Status.JobManager != "http://"+h.jmAddr || rec.State != "RUNNING" {
		t.Fatalf("with an unreadable leader znode: %+v", rec.Status)
	}
	app := h.app(appA, yarnclient.StateRunning, yarnclient.FinalUndefined, ident.TagHA)
	if h.r.recovering(&app) {
		t.Error("an unreadable leader znode counts as a recovery under way")
	}
}

// TestClusterJobRetention: a registered cluster's ended job record is dropped once its retention passed
// since it ended, not before.
func TestClusterJobRetention(t *testing.T) {
	h := newHarness(t, Options{Retention: time.Hour})
	ctx := t.Context()
	now := time.Now()
	for id, ended := range map[string]time.Time{"cluster-old": now.Add(-2 * time.Hour), "cluster-new": now.Add(-time.Minute)} {
		if _, err := h.reg.Create(ctx, registry.Record{ID: id, Kind: registry.KindClusterJob, ApplicationID: "cluster",
			State: "FINISHED", Terminal: true, EndedAt: ended}); err != nil {
			t.Fatal(err)
		}
	}
	h.pass(t)
	if _, ok := h.reg.Cached("cluster-old"); ok {
		t.Error("a cluster job that ended two hours ago (retention 1h) was kept")
	}
	if _, ok := h.reg.Cached("cluster-new"); !ok {
		t.Error("a cluster job ended a minute ago was dropped")
	}
}
