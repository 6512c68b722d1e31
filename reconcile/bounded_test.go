package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/registrytest"
	"github.com/yarngate/yarngate/simulator"
	"github.com/yarngate/yarngate/yarnclient"
)

// simHarness is a reconciler over the simulator's ResourceManager and JobManagers.
type simHarness struct {
	sim *simulator.Simulator
	reg *registry.Registry
	r   *Reconciler
}

func newSimHarness(t *testing.T, so simulator.Options, opts Options) *simHarness {
	t.Helper()
	sim, err := simulator.New(so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	rm, err := yarnclient.New(yarnclient.Options{RMs: []yarnclient.RM{{ID: "rm1", URL: sim.RMURL()}}, User: "yarngate",
		Retry: yarnclient.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	h := &simHarness{sim: sim, reg: registrytest.Open(t, registrytest.NewMemStore())}
	opts.RM, opts.Registry, opts.Metrics, opts.HomeTag, opts.StagingRoot = rm, h.reg, metrics, home, "/staging"
	opts.Files = &fakeFiles{dirs: map[string][]hdfs.DirEntry{}, files: map[string]string{}}
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts.LookupHost, opts.JobManagerDial = simulator.LookupHost, sim.Dial
	if opts.HealthInterval == 0 {
		opts.HealthInterval = -1 // these tests count the calls that observe states; health checks have their own
	}
	if h.r, err = New(opts); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *simHarness) add(t *testing.T, spec simulator.AppSpec) string {
	t.Helper()
	spec.Tags = append(spec.Tags, ident.TagGateway, home, ident.TagFlinkPrefix+"2.2.1")
	if spec.Session {
		spec.Tags = append(spec.Tags, ident.TagKindSession)
	}
	return h.sim.AddApp(spec)
}

func (h *simHarness) pass(t *testing.T) time.Duration {
	t.Helper()
	began := time.Now()
	if err := h.r.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	return time.Since(began)
}

func (h *simHarness) jmCalls() int64 { return simulator.Total(h.sim.Calls().JobManager) }

// TestBoundedListsAndJobManagerCalls: the first pass lists every application once; later passes list only
// those that have not ended (one call), with the heavy fields deselected, and a second call for what ended
// since only when a record's application left that list; JobManagers are asked again only when their
// answer is due or YARN's report changed.
func TestBoundedListsAndJobManagerCalls(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{}, Options{JobManagerRefresh: time.Hour, FullListInterval: time.Hour})
	var jobs []string
	for range 20 {
		jobs = append(jobs, h.add(t, simulator.AppSpec{}))
	}
	h.pass(t)
	if n := h.jmCalls(); n != 20 {
		t.Fatalf("first pass: %d JobManager calls, want 20", n)
	}
	q := h.sim.ListQueries()
	if len(q) != 1 || strings.Contains(q[0], "states=") || !strings.Contains(q[0], "deSelects=resourceRequests") {
		t.Fatalf("first pass lists %v, want one full list with deSelects", q)
	}
	for range 3 {
		h.pass(t)
	}
	if n := h.jmCalls(); n != 20 {
		t.Errorf("passes with nothing changed asked JobManagers %d times more", n-20)
	}
	q = h.sim.ListQueries()
	if len(q) != 4 || !strings.Contains(q[3], "states=NEW%2CNEW_SAVING%2CSUBMITTED%2CACCEPTED%2CRUNNING") {
		t.Fatalf("steady passes list %v, want one list of the applications that have not ended each", q)
	}

	if err := h.sim.SetAppState(jobs[3], "FINISHED"); err != nil {
		t.Fatal(err)
	}
	h.pass(t) // its application left the list: one call, as every pass
	if q = h.sim.ListQueries(); len(q) != 5 || strings.Contains(q[4], "finishedTimeBegin=") {
		t.Fatalf("the pass that saw an end: lists %v, want the one list of those not ended", q[4:])
	}
	h.pass(t) // the next: those that ended since, beside the last list of those not ended
	q = h.sim.ListQueries()
	if len(q) != 6 || !strings.Contains(q[5], "finishedTimeBegin=") || !strings.Contains(q[5], "states=FINISHED%2CFAILED%2CKILLED") {
		t.Fatalf("after an end: lists %v, want the ended ones asked once", q[4:])
	}
	if rec, err := h.reg.Get(t.Context(), jobs[3]); err != nil || rec.State != "FINISHED" || !rec.Terminal {
		t.Fatalf("ended job: %+v, %v", rec.Status, err)
	}
	if n := h.jmCalls(); n != 20 {
		t.Errorf("an ended application's JobManager was asked (%d calls)", n-20)
	}
	h.pass(t)
	if q = h.sim.ListQueries(); len(q) != 7 || strings.Contains(q[6], "finishedTimeBegin=") {
		t.Errorf("the ended list was asked again with nothing new: %v", q[6:])
	}
}

// TestOneListPerPass: while applications keep ending, every pass makes one ResourceManager call (those not
// ended, and those that ended since, in turn), and the passes between see the JobManagers' answers of the
// running applications all the same.
func TestOneListPerPass(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{}, Options{JobManagerRefresh: time.Nanosecond, FullListInterval: time.Hour})
	var jobs []string
	for range 10 {
		jobs = append(jobs, h.add(t, simulator.AppSpec{}))
	}
	h.pass(t)
	for i := range 4 {
		if err := h.sim.SetAppState(jobs[i], "FINISHED"); err != nil {
			t.Fatal(err)
		}
		jid, _ := ident.FlinkJobID(jobs[9-i])
		if err := h.sim.SetJobState(jobs[9-i], jid, "RESTARTING"); err != nil {
			t.Fatal(err)
		}
		before := simulator.Total(h.sim.Calls().RM)
		h.pass(t)
		h.pass(t)
		if n := simulator.Total(h.sim.Calls().RM) - before; n != 2 {
			t.Errorf("two passes made %d ResourceManager calls, want 2", n)
		}
		if rec, _ := h.reg.Get(t.Context(), jobs[i]); rec.State != "FINISHED" {
			t.Errorf("%s ended two passes ago: %s", jobs[i], rec.State)
		}
		if rec, _ := h.reg.Get(t.Context(), jobs[9-i]); rec.Status.Flink.State != "RESTARTING" {
			t.Errorf("%s restarting: flink.state %s", jobs[9-i], rec.Status.Flink.State)
		}
	}
}

// TestHangingJobManager: a JobManager that hangs delays the pass by its timeout at most, and no other job:
// the others are observed in the same pass; later passes back off from it and are fast again.
func TestHangingJobManager(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	h := newSimHarness(t, simulator.Options{}, Options{JobManagerTimeout: timeout, JobManagerRefresh: time.Nanosecond,
		JobManagerBackoff: time.Hour, FullListInterval: time.Hour, Parallelism: 4})
	var jobs []string
	for range 12 {
		jobs = append(jobs, h.add(t, simulator.AppSpec{}))
	}
	h.pass(t)
	if err := h.sim.SetBehavior(jobs[0], simulator.Hanging); err != nil {
		t.Fatal(err)
	}
	for _, id := range jobs[1:] {
		jid, _ := ident.FlinkJobID(id)
		if err := h.sim.SetJobState(id, jid, "RESTARTING"); err != nil {
			t.Fatal(err)
		}
	}
	if d := h.pass(t); d > timeout+10*time.Second {
		t.Errorf("a pass with a hanging JobManager took %s (timeout %s)", d, timeout)
	}
	for _, id := range jobs[1:] {
		if rec, _ := h.reg.Get(t.Context(), id); rec.Status.Flink.State != "RESTARTING" {
			t.Errorf("%s not observed beside the hanging JobManager: %+v", id, rec.Status.Flink)
		}
	}
	before := h.sim.Calls().JobManager["GET jobs/<id>"]
	h.pass(t)
	if n := h.sim.Calls().JobManager["GET jobs/<id>"] - before; n != 11 {
		t.Errorf("%d jobs asked, want the 11 that answer (the hanging one backed off)", n)
	}
}

// TestSessionsAskedOnce: each session's JobManager is asked once per pass (its job list, which also tells it
// answers), whatever the number of its jobs, and sessions are asked in parallel.
func TestSessionsAskedOnce(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{JobManagerLatency: time.Second},
		Options{JobManagerRefresh: time.Nanosecond, FullListInterval: time.Hour, Parallelism: 10})
	var sessions []string
	for range 10 {
		sessions = append(sessions, h.add(t, simulator.AppSpec{Session: true, SessionJobs: 5}))
	}
	h.pass(t) // adopts the sessions and their jobs
	if n := len(h.reg.List(func(rec *registry.Summary) bool { return rec.Kind == registry.KindSessionJob })); n != 50 {
		t.Fatalf("%d session jobs adopted, want 50", n)
	}
	before := h.sim.Calls().JobManager
	d := h.pass(t)
	after := h.sim.Calls().JobManager
	if n := after["GET jobs/overview"] - before["GET jobs/overview"]; n != 10 {
		t.Errorf("%d job lists in a pass, want one per session (10)", n)
	}
	if n := simulator.Total(after) - simulator.Total(before); n != 10 {
		t.Errorf("%d JobManager calls in a pass, want 10: %v", n, after)
	}
	if d > 6*time.Second {
		t.Errorf("10 sessions of 1 s took %s: not asked in parallel (one after the other: 10 s)", d)
	}
	app, _ := h.sim.App(sessions[2])
	if err := h.sim.SetJobState(sessions[2], app.JobOrder[1], "CANCELED"); err != nil {
		t.Fatal(err)
	}
	h.pass(t)
	if rec, _ := h.reg.Get(t.Context(), ident.SessionJobID(sessions[2], app.JobOrder[1])); rec.State != "CANCELED" {
		t.Errorf("canceled session job: %s", rec.State)
	}
}

// TestPassDeadline: a pass ends at PassTimeout with an error that says so, whatever hangs.
func TestPassDeadline(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{RMLatency: time.Minute}, Options{PassTimeout: 300 * time.Millisecond})
	h.add(t, simulator.AppSpec{})
	began := time.Now()
	err := h.r.Pass(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 20*time.Second {
		t.Errorf("Pass = %v after %s", err, time.Since(began))
	}
}

// TestJobManagerCallsPerPass: a pass asks at most JobManagerCallsPerPass JobManagers whose answer is merely
// due; JobManagers never asked, or whose application's report changed, are asked beyond it.
func TestJobManagerCallsPerPass(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{}, Options{JobManagerRefresh: time.Nanosecond, FullListInterval: time.Hour,
		JobManagerCallsPerPass: 5})
	for range 20 {
		h.add(t, simulator.AppSpec{})
	}
	h.pass(t)
	if n := h.jmCalls(); n != 20 {
		t.Fatalf("first pass: %d JobManager calls, want 20 (none asked before)", n)
	}
	h.pass(t)
	if n := h.jmCalls() - 20; n != 5 {
		t.Errorf("a pass asked %d JobManagers whose answer was due, want 5", n)
	}
	before := h.jmCalls()
	h.add(t, simulator.AppSpec{}) // new: asked beyond the budget
	h.pass(t)
	if n := h.jmCalls() - before; n != 6 {
		t.Errorf("a pass with a new application asked %d JobManagers, want 5 + 1", n)
	}
}

// TestNewSessionJobWithCachedList: a job submitted to a session after the session's job list was read is
// not LOST because that list (still standing) does not name it: the JobManager is asked again.
func TestNewSessionJobWithCachedList(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{}, Options{JobManagerRefresh: time.Hour, FullListInterval: time.Hour})
	sess := h.add(t, simulator.AppSpec{Session: true, SessionJobs: 1})
	h.pass(t)
	jid := strings.Repeat("ab", 16)
	app, _ := h.sim.App(sess)
	hc := h.sim.JobManagerClient(5 * time.Second)
	jm, err := jobmanager.New("http://"+app.Host+":8081", hc)
	if err != nil {
		t.Fatal(err)
	}
	jar, err := jm.UploadJar(t.Context(), "job.jar", strings.NewReader("PK"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jm.RunJar(t.Context(), jar, jobmanager.RunRequest{JobID: jid}); err != nil {
		t.Fatal(err)
	}
	// The record the service writes after the run.
	id := ident.SessionJobID(sess, jid)
	rec := registry.Record{ID: id, Kind: registry.KindSessionJob, ApplicationID: sess, Owner: "yarngate", Target: "session"}
	rec.SetStatus(observe.Status{Schema: observe.SchemaVersion, State: "SUBMITTED", Since: time.Now(),
		YARN: observe.YARN{ApplicationID: sess, State: "RUNNING"}, Flink: observe.Flink{JobID: jid}}, "submitted")
	if _, err := h.reg.Create(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	h.pass(t)
	if got, _ := h.reg.Get(t.Context(), id); got.State != "RUNNING" {
		t.Errorf("a job submitted after the cached list = %s, want RUNNING", got.State)
	}
}

// TestHangingJobManagerCostsOnlyItsOwn: a hanging JobManager (an application's, a session's) is asked once
// in a pass (its own observation, bounded by the timeout); the health checks of its jobs do not ask it while
// it does not answer, so that its session's jobs do not cost one timeout each, and the other session's jobs
// are observed in the same pass.
func TestHangingJobManagerCostsOnlyItsOwn(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	h := newSimHarness(t, simulator.Options{}, Options{JobManagerTimeout: timeout, JobManagerRefresh: time.Nanosecond,
		JobManagerBackoff: time.Hour, FullListInterval: time.Hour, HealthInterval: time.Nanosecond, Parallelism: 4})
	hangApp, okApp := h.add(t, simulator.AppSpec{}), h.add(t, simulator.AppSpec{})
	hangSession := h.add(t, simulator.AppSpec{Session: true, SessionJobs: 5})
	okSession := h.add(t, simulator.AppSpec{Session: true, SessionJobs: 5})
	h.pass(t) // adopts everything
	h.pass(t) // health checked everywhere
	for _, id := range []string{hangApp, hangSession} {
		if err := h.sim.SetBehavior(id, simulator.Hanging); err != nil {
			t.Fatal(err)
		}
	}
	okJobs, _ := h.sim.App(okSession)
	if err := h.sim.SetJobState(okSession, okJobs.JobOrder[2], "CANCELED"); err != nil {
		t.Fatal(err)
	}
	okJob, _ := ident.FlinkJobID(okApp)
	if err := h.sim.SetJobState(okApp, okJob, "RESTARTING"); err != nil {
		t.Fatal(err)
	}
	before := h.sim.Calls().ByApplication
	d := h.pass(t)
	after := h.sim.Calls().ByApplication
	for _, id := range []string{hangApp, hangSession} {
		if n := after[id] - before[id]; n != 1 {
			t.Errorf("hanging JobManager of %s asked %d times in a pass, want once", id, n)
		}
	}
	if n := after[okSession] - before[okSession]; n < 1+4 {
		t.Errorf("the other session's JobManager was asked %d times, want its job list and the health of its running jobs", n)
	}
	// One after the other, the health checks of the hanging session's 5 jobs alone would take 5 timeouts.
	if d >= 5*timeout {
		t.Errorf("a pass with two hanging JobManagers took %s (timeout %s)", d, timeout)
	}
	if rec, _ := h.reg.Get(t.Context(), ident.SessionJobID(okSession, okJobs.JobOrder[2])); rec.State != "CANCELED" {
		t.Errorf("the other session's canceled job = %s, want CANCELED in the same pass", rec.State)
	}
	if rec, _ := h.reg.Get(t.Context(), okApp); rec.Status.Flink.State != "RESTARTING" {
		t.Errorf("the other application's job = %s, want RESTARTING in the same pass", rec.Status.Flink.State)
	}
	t.Logf("pass with two hanging JobManagers: %s", d)
}

// TestEndedPassKeepsNewerObservations: the pass that lists the applications that ended reuses the last list
// of those not ended; an application of that list is taken as its record last saw it, so that what an
// observation since saw (Observe after an action) is not undone by the older list.
func TestEndedPassKeepsNewerObservations(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{StartDelay: time.Hour}, Options{JobManagerRefresh: time.Nanosecond, FullListInterval: time.Hour})
	starting := h.add(t, simulator.AppSpec{State: "ACCEPTED"})
	ending := h.add(t, simulator.AppSpec{})
	h.pass(t)
	if err := h.sim.SetAppState(ending, "FINISHED"); err != nil {
		t.Fatal(err)
	}
	h.pass(t) // lists `starting` ACCEPTED; `ending` left the list
	if rec, _ := h.reg.Get(t.Context(), starting); rec.State != "ACCEPTED" {
		t.Fatalf("starting = %s, want ACCEPTED", rec.State)
	}
	if err := h.sim.SetAppState(starting, "RUNNING"); err != nil {
		t.Fatal(err)
	}
	if err := h.r.Observe(t.Context(), starting); err != nil {
		t.Fatal(err)
	}
	seen, _ := h.reg.Get(t.Context(), starting)
	if seen.State != "RUNNING" {
		t.Fatalf("observed %s, want RUNNING", seen.State)
	}
	h.pass(t) // the ended ones, beside the last list (where `starting` was ACCEPTED)
	if rec, _ := h.reg.Get(t.Context(), ending); rec.State != "FINISHED" {
		t.Errorf("ending = %s, want FINISHED", rec.State)
	}
	if rec, _ := h.reg.Get(t.Context(), starting); rec.State != seen.State || rec.Status.YARN.State != "RUNNING" {
		t.Errorf("after the pass of the ended ones: %s (YARN %s), want what Observe saw: RUNNING", rec.State, rec.Status.YARN.State)
	}
}

// TestJobManagerConnectionsReused: JobManagers asked every pass are asked over the connection the first pass
// opened to each (one idle connection kept per JobManager, however many there are), not a new one per call.
func TestJobManagerConnectionsReused(t *testing.T) {
	t.Parallel()
	const apps = 150 // above http.DefaultTransport's 100 idle connections in all
	h := newSimHarness(t, simulator.Options{}, Options{JobManagerRefresh: time.Nanosecond, FullListInterval: time.Hour})
	for range apps {
		h.add(t, simulator.AppSpec{})
	}
	const passes = 5
	for range passes {
		h.pass(t)
	}
	calls, conns := h.jmCalls(), h.sim.JobManagerConnections()
	if calls < apps*passes {
		t.Fatalf("%d JobManager calls in %d passes over %d applications: the test needs one per pass each", calls, passes, apps)
	}
	// A pass asks up to Parallelism JobManagers at once; a call that finds its JobManager's connection busy
	// opens another, so allow some above one each.
	if limit := int64(apps + apps/10); conns > limit {
		t.Errorf("%d JobManager calls opened %d connections, want at most %d (one per JobManager)", calls, conns, limit)
	}
	t.Logf("%d JobManager calls over %d connections", calls, conns)
}

// countingRegistry counts the records a reconciler has the registry decode.
type countingRegistry struct {
	*registry.Registry
	decoded atomic.Int64
}

func (c *countingRegistry) Cached(id string) (registry.Record, bool) {
	c.decoded.Add(1)
	return c.Registry.Cached(id)
}

func (c *countingRegistry) ByApplication(appID string) (registry.Record, bool) {
	c.decoded.Add(1)
	return c.Registry.ByApplication(appID)
}

func (c *countingRegistry) List(keep func(*registry.Summary) bool) []registry.Record {
	recs := c.Registry.List(keep)
	c.decoded.Add(int64(len(recs)))
	return recs
}

// TestRunningRecordsDecodedOnce: passes over running application jobs and session jobs decode each record
// once, and again only after it changed; an observed change is written.
func TestRunningRecordsDecodedOnce(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{}, Options{JobManagerRefresh: time.Nanosecond, FullListInterval: time.Hour})
	count := &countingRegistry{Registry: h.reg}
	h.r.opts.Registry = count
	var jobs []string
	for range 10 {
		jobs = append(jobs, h.add(t, simulator.AppSpec{}))
	}
	session := h.add(t, simulator.AppSpec{Session: true, SessionJobs: 5})
	h.pass(t) // adopts them
	h.pass(t) // reads them
	before := count.decoded.Load()
	for range 3 {
		h.pass(t)
	}
	if n := count.decoded.Load() - before; n != 0 {
		t.Errorf("three passes with nothing changed decoded %d records, want none", n)
	}
	jid, _ := ident.FlinkJobID(jobs[4])
	if err := h.sim.SetJobState(jobs[4], jid, "RESTARTING"); err != nil {
		t.Fatal(err)
	}
	app, _ := h.sim.App(session)
	if err := h.sim.SetJobState(session, app.JobOrder[2], "CANCELED"); err != nil {
		t.Fatal(err)
	}
	h.pass(t) // observes and writes both
	h.pass(t) // reads the application job's new version (the canceled session job has ended)
	before = count.decoded.Load()
	h.pass(t)
	if n := count.decoded.Load() - before; n != 0 {
		t.Errorf("a pass after the changes were read decoded %d records, want none", n)
	}
	if rec, _ := h.reg.Get(t.Context(), jobs[4]); rec.Status.Flink.State != "RESTARTING" {
		t.Errorf("restarting job: flink.state %s", rec.Status.Flink.State)
	}
	// An application ends: the pass that sees it leave the list of those running and the next, which lists
	// those that ended and takes the running ones as their records last saw them, decode none of those.
	if err := h.sim.SetAppState(jobs[7], "FINISHED"); err != nil {
		t.Fatal(err)
	}
	before = count.decoded.Load()
	h.pass(t)
	h.pass(t)
	if n := count.decoded.Load() - before; n > 2 {
		t.Errorf("the two passes that saw an application end decoded %d records, want at most 2 (the ended one's, for its archive)", n)
	}
	if rec, _ := h.reg.Get(t.Context(), jobs[7]); !rec.Terminal {
		t.Errorf("ended job: %s", rec.State)
	}
	if rec, _ := h.reg.Get(t.Context(), ident.SessionJobID(session, app.JobOrder[2])); rec.State != "CANCELED" {
		t.Errorf("canceled session job: %s", rec.State)
	}
}
