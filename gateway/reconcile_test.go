package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/registrytest"
	"github.com/yarngate/yarngate/yarnclient"
)

// listRM is a ResourceManager holding a set of applications; it counts the calls made.
type listRM struct {
	rmClient
	mu    sync.Mutex
	apps  map[string]yarnclient.App
	kills []string
	calls atomic.Int64
}

func (f *listRM) set(app yarnclient.App) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apps[app.ID] = app
}

func (f *listRM) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.apps, id)
}

func (f *listRM) Apps(_ context.Context, filter yarnclient.AppsFilter) ([]yarnclient.App, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []yarnclient.App
	for _, a := range f.apps {
		if len(filter.ApplicationTags) == 0 || a.HasTag(filter.ApplicationTags[0]) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *listRM) App(_ context.Context, id string) (*yarnclient.App, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[id]
	if !ok {
		return nil, yarnclient.ErrNotFound
	}
	return &a, nil
}

func (f *listRM) Kill(_ context.Context, id, _ string) (yarnclient.AppState, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kills = append(f.kills, id)
	a := f.apps[id]
	a.State, a.FinalStatus = yarnclient.StateKilled, yarnclient.FinalKilled
	f.apps[id] = a
	return a.State, nil
}

func (f *listRM) ActiveRM() (yarnclient.RM, bool) { return yarnclient.RM{URL: "http://rm:8088"}, true }

// gcFiles records removals and lists nothing.
type gcFiles struct {
	fileStore
	mu      sync.Mutex
	removed []string
	dirs    map[string][]hdfs.DirEntry
}

func (f *gcFiles) RemoveAll(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, name)
	return nil
}

func (f *gcFiles) ReadDir(_ context.Context, name string) ([]hdfs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.dirs[name]; ok {
		return d, nil
	}
	return nil, fs.ErrNotExist
}

func (f *gcFiles) Open(context.Context, string) (io.ReadCloser, error) { return nil, fs.ErrNotExist }
func (f *gcFiles) URI(name string) string                              { return "hdfs://nn:8020" + name }

func newRecordedTest(t *testing.T, opts RecordedJobsOptions) (*RecordedJobs, *listRM, *gcFiles, *registry.Registry) {
	t.Helper()
	rm := &listRM{apps: map[string]yarnclient.App{}}
	files := &gcFiles{dirs: map[string][]hdfs.DirEntry{}}
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	jobs := &JobService{
		opts: JobServiceOptions{RM: rm, Files: files, Jars: fakeJarGetter{}, Logger: slog.New(slog.DiscardHandler), Metrics: metrics,
			MaxWait: time.Minute, StagingRoot: "/staging", User: "yarngate", SessionStopGrace: time.Second},
		tracker: newJobTracker(), sessions: newSessionRegistry(),
		jmHTTP: &http.Client{Timeout: time.Second}, jmStream: &http.Client{},
		cleanups: make(chan string, 64), diagnoses: make(chan diagnosis, 64), bg: ctx, stop: stop,
	}
	reg := registrytest.Open(t, registrytest.NewMemStore())
	opts.Jobs, opts.Registry, opts.Logger = jobs, reg, slog.New(slog.NewTextHandler(t.Output(), nil))
	if opts.Instance == "" {
		opts.Instance = "test-instance"
	}
	if opts.Leadership == nil {
		opts.Leadership = &flagLeader{} // never leads: the test drives reconcile itself
	}
	r, err := NewRecordedJobs(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, rm, files, reg
}

const (
	appA = "application_1700000000000_0001"
	appB = "application_1700000000000_0002"
	appS = "application_1700000000000_0003"
)

func taggedApp(id string, state yarnclient.AppState, tags ...string) yarnclient.App {
	final := yarnclient.FinalUndefined
	switch state {
	case yarnclient.StateFinished:
		final = yarnclient.FinalSucceeded
	case yarnclient.StateKilled:
		final = yarnclient.FinalKilled
	}
	return yarnclient.App{ID: id, Name: "job-" + id[len(id)-4:], State: state, FinalStatus: final, User: "yarngate",
		StartedTime: 1700000000000, ApplicationTags: append([]string{tagGateway, homeTagOf("/staging"), tagTargetPrefix + "application"}, tags...)}
}

func TestReconcileFollowsYARN(t *testing.T) {
	r, rm, _, reg := newRecordedTest(t, RecordedJobsOptions{})
	ctx := t.Context()
	rm.set(taggedApp(appA, yarnclient.StateAccepted))
	rm.set(taggedApp(appS, yarnclient.StateAccepted, tagKindSession))
	rm.set(yarnclient.App{ID: appB, State: yarnclient.StateRunning}) // not the gateway's
	other := taggedApp("application_1700000000000_0009", yarnclient.StateRunning)
	other.ApplicationTags = []string{tagGateway, homeTagOf("/elsewhere")}
	rm.set(other) // another installation's

	if err := r.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	job, err := r.Job(ctx, appA)
	if err != nil || job.State != api.StateAccepted {
		t.Fatalf("adopted job = %+v, %v", job, err)
	}
	if sess, err := r.Session(ctx, appS); err != nil || sess.State != api.SessionStarting {
		t.Fatalf("adopted session = %+v, %v", sess, err)
	}
	if _, err := r.Job(ctx, appS); err == nil {
		t.Fatal("a session is served as a job")
	}
	if _, ok := reg.Cached(appB); ok {
		t.Fatal("an application without the gateway's tag was adopted")
	}
	if _, ok := reg.Cached(other.ID); ok {
		t.Fatal("another installation's application was adopted")
	}

	rm.set(taggedApp(appA, yarnclient.StateFinished))
	if err := r.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	rec, _ := reg.Cached(appA)
	if rec.State != string(api.StateFinished) || !rec.Terminal || len(rec.History) != 2 || rec.History[0].Reason != "adopted" {
		t.Fatalf("record after FINISHED: %+v", rec)
	}

	// Thousands of reads cost no ResourceManager call.
	before := rm.calls.Load()
	for range 2000 {
		if _, err := r.Job(ctx, appA); err != nil {
			t.Fatal(err)
		}
	}
	if jobs, err := r.List(ctx, ""); err != nil || len(jobs) != 1 {
		t.Fatalf("List = %v, %v", jobs, err)
	}
	if n := rm.calls.Load() - before; n != 0 {
		t.Fatalf("%d ResourceManager calls for 2000 reads", n)
	}
}

func TestReconcileLostAndRetention(t *testing.T) {
	r, rm, files, reg := newRecordedTest(t, RecordedJobsOptions{LostGrace: time.Nanosecond, Retention: 50 * time.Millisecond})
	ctx := t.Context()
	rm.set(taggedApp(appA, yarnclient.StateRunning))
	rm.set(taggedApp(appB, yarnclient.StateFinished))
	if err := r.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Update(ctx, appB, func(rec *registry.Record) (bool, error) {
		rec.KeyHash = "k"
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.ClaimKey(ctx, "k", registry.KeyClaim{ID: appB}); err != nil {
		t.Fatal(err)
	}

	// YARN forgets both: the running one is LOST with a reason, the finished one keeps its state.
	rm.remove(appA)
	rm.remove(appB)
	if err := r.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	job, err := r.Job(ctx, appA)
	if err != nil || job.State != api.StateLost || !job.Terminal || !strings.Contains(job.YARN.Diagnostics, "no longer knows") ||
		job.Links.JobManager != nil {
		t.Fatalf("vanished running job = %+v, %v", job, err)
	}
	rec, _ := reg.Cached(appA)
	if last := rec.History[len(rec.History)-1]; last.State != string(api.StateLost) || last.Reason == "" {
		t.Fatalf("LOST transition %+v", last)
	}
	if job, err := r.Job(ctx, appB); err != nil || job.State != api.StateFinished {
		t.Fatalf("finished job after YARN forgot it = %+v, %v", job, err)
	}

	// After the retention the record, its files and its key go.
	time.Sleep(60 * time.Millisecond)
	if err := r.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Cached(appB); ok {
		t.Fatal("record kept past its retention")
	}
	if _, err := reg.Claim(ctx, "k"); err == nil {
		t.Fatal("idempotency key kept past the record's retention")
	}
	want := "/staging/.flink/" + appB
	found := false
	for _, p := range files.removed {
		found = found || p == want
	}
	if !found {
		t.Fatalf("removed %v, want %s among them", files.removed, want)
	}
}

func TestReconcileKillsFailedLaunchesAndOnlyWhenLeading(t *testing.T) {
	lead := &flagLeader{}
	r, rm, _, reg := newRecordedTest(t, RecordedJobsOptions{Leadership: lead, Interval: 10 * time.Millisecond})
	ctx := t.Context()
	rm.set(taggedApp(appA, yarnclient.StateRunning))
	if _, err := reg.Create(ctx, registry.Record{ID: appA, Kind: registry.KindJob, ApplicationID: appA, State: stateLaunchFailed, Terminal: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := rm.calls.Load(); n != 0 {
		t.Fatalf("a follower made %d ResourceManager calls", n)
	}
	lead.set(true)
	deadline := time.Now().Add(2 * time.Second)
	for {
		rm.mu.Lock()
		kills := len(rm.kills)
		rm.mu.Unlock()
		if kills > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the application of a failed launch was not killed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := r.Job(ctx, appA); err == nil {
		t.Fatal("a failed launch is served as a job")
	}
}

func TestApplyViewKeepsTerminalState(t *testing.T) {
	view := func(state string, yarn string) json.RawMessage {
		b, _ := json.Marshal(api.Job{ID: appA, State: api.JobState(state), Terminal: api.JobState(state).Terminal(), YARN: api.JobYARN{State: yarn}})
		return b
	}
	cases := []struct {
		name      string
		from, to  json.RawMessage
		changed   bool
		wantState string
		wantYARN  string
	}{
		{"moves on", view("STARTING", "RUNNING"), view("RUNNING", "RUNNING"), true, "RUNNING", "RUNNING"},
		{"same view", view("RUNNING", "RUNNING"), view("RUNNING", "RUNNING"), false, "RUNNING", "RUNNING"},
		{"terminal stays, YARN catches up", view("FINISHED", "RUNNING"), view("RUNNING", "FINISHED"), true, "FINISHED", "FINISHED"},
		{"terminal stays, nothing new", view("FINISHED", "FINISHED"), view("FAILED", "FINISHED"), false, "FINISHED", "FINISHED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := registry.Record{Kind: registry.KindJob}
			applyView(&rec, registry.KindJob, c.from)
			changed := applyView(&rec, registry.KindJob, c.to)
			var got api.Job
			json.Unmarshal(rec.View, &got) //nolint:errcheck
			if changed != c.changed || rec.State != c.wantState || string(got.State) != c.wantState || got.YARN.State != c.wantYARN {
				t.Fatalf("changed %v state %s view %s/%s", changed, rec.State, got.State, got.YARN.State)
			}
		})
	}
}

func TestRedactedSpec(t *testing.T) {
	spec := redactedSpec(api.JobRequest{Name: "x", FlinkConfig: map[string]any{
		"s3.secret-key": "hunter2", "fs.azure.account.key.password": "p", "parallelism.default": 4}})
	s := string(spec)
	if strings.Contains(s, "hunter2") || strings.Contains(s, `"p"`) || !strings.Contains(s, `"parallelism.default":4`) {
		t.Fatalf("redacted spec %s", s)
	}
}

// homeTagOf is the home tag of a gateway whose fake file store qualifies paths as they are.
func homeTagOf(root string) string {
	return (&JobService{opts: JobServiceOptions{Files: &gcFiles{}, StagingRoot: root}}).homeTag()
}

// flagLeader is a leadership switched by the test.
type flagLeader struct{ v atomic.Bool }

func (f *flagLeader) IsLeader() bool { return f.v.Load() }
func (f *flagLeader) set(v bool)     { f.v.Store(v) }

// staticInstances lists fixed instance ids.
type staticInstances []string

func (s staticInstances) Members(context.Context) ([]string, error) { return s, nil }

func TestClaimKeyAcrossInstances(t *testing.T) {
	r, _, _, reg := newRecordedTest(t, RecordedJobsOptions{Instance: "me", Instances: staticInstances{"me", "other"}})
	ctx := t.Context()
	cases := []struct {
		name        string
		existing    *registry.KeyClaim
		fingerprint string
		later       func() // runs while claimKey waits
		wantEarlier string
		wantErr     error
		wantHolder  string
	}{
		{name: "free key", fingerprint: "f", wantHolder: "me"},
		{name: "done by anyone", existing: &registry.KeyClaim{ID: appA, Fingerprint: "f"}, fingerprint: "f", wantEarlier: appA},
		{name: "other request", existing: &registry.KeyClaim{ID: appA, Fingerprint: "f"}, fingerprint: "g", wantErr: ErrIdempotencyKeyReused},
		{name: "launcher gone", existing: &registry.KeyClaim{Fingerprint: "f", Launcher: "crashed"}, fingerprint: "f", wantHolder: "me"},
		{name: "launcher alive: wait for it", existing: &registry.KeyClaim{Fingerprint: "f", Launcher: "other"}, fingerprint: "f",
			later: func() {}, wantEarlier: appB},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hash := "key" + string(rune('a'+i))
			if c.existing != nil {
				if _, _, err := reg.ClaimKey(ctx, hash, *c.existing); err != nil {
					t.Fatal(err)
				}
			}
			if c.later != nil {
				go func() {
					time.Sleep(300 * time.Millisecond)
					cl, _ := reg.Claim(ctx, hash)
					cl.ID, cl.Launcher = appB, ""
					reg.MoveClaim(ctx, hash, cl) //nolint:errcheck
				}()
			}
			claim, earlier, err := r.claimKey(ctx, hash, c.fingerprint)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil || earlier != c.wantEarlier {
				t.Fatalf("claimKey = %+v, %q, %v; want earlier %q", claim, earlier, err, c.wantEarlier)
			}
			if c.wantHolder != "" {
				stored, _ := reg.Claim(ctx, hash)
				if stored.Launcher != c.wantHolder || claim.Version != stored.Version {
					t.Fatalf("stored claim %+v, returned %+v", stored, claim)
				}
			}
		})
	}
}

func TestCollectRemovesOnlyUnreferencedFiles(t *testing.T) {
	r, rm, files, reg := newRecordedTest(t, RecordedJobsOptions{Retention: time.Hour})
	ctx := t.Context()
	old, young := time.Now().Add(-2*time.Hour), time.Now()
	const (
		appRunning = "application_1700000000000_0011" // record not ended
		appNoRec   = "application_1700000000000_0012" // running in YARN, no record (an older gateway)
		appEnded   = "application_1700000000000_0013" // record ended, YARN ended
		appOrphan  = "application_1700000000000_0014" // nothing knows it
		appYoung   = "application_1700000000000_0015" // a launch under way
	)
	rm.set(taggedApp(appRunning, yarnclient.StateRunning))
	rm.set(taggedApp(appNoRec, yarnclient.StateRunning))
	rm.set(taggedApp(appEnded, yarnclient.StateFinished))
	if err := r.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if err := reg.Delete(ctx, mustCached(t, reg, appNoRec)); err != nil {
		t.Fatal(err)
	}
	endedJob := mustCached(t, reg, appEnded)
	var v api.Job
	json.Unmarshal(endedJob.View, &v) //nolint:errcheck
	entry := func(name string, at time.Time) hdfs.DirEntry {
		return hdfs.DirEntry{Name: name, FileInfo: hdfs.FileInfo{ModTime: at, Mode: fs.ModeDir}}
	}
	files.dirs["/staging/.flink"] = []hdfs.DirEntry{entry(appRunning, old), entry(appNoRec, old), entry(appEnded, old),
		entry(appOrphan, old), entry(appYoung, young), entry("not-an-app", old)}
	files.dirs["/staging/archive"] = []hdfs.DirEntry{entry(v.Flink.JobID, old), entry(strings.Repeat("ab", 16), old),
		entry(strings.Repeat("cd", 16), young)}
	r.collect(ctx)
	got := strings.Join(files.removed, " ")
	want := "/staging/.flink/" + appEnded + " /staging/.flink/" + appOrphan + " /staging/archive/" + strings.Repeat("ab", 16)
	if got != want {
		t.Fatalf("removed %s\nwant    %s", got, want)
	}
}

func mustCached(t *testing.T, reg *registry.Registry, id string) registry.Record {
	t.Helper()
	rec, ok := reg.Cached(id)
	if !ok {
		t.Fatalf("no record %s", id)
	}
	return rec
}

func TestFailedLaunchRecordRevivedByRetry(t *testing.T) {
	r, _, _, reg := newRecordedTest(t, RecordedJobsOptions{})
	ctx := t.Context()
	failed := &launchError{applicationID: appA, err: errors.New("submit: timeout")}
	view := api.Job{ID: appA, State: api.StateAccepted, YARN: api.JobYARN{ApplicationID: appA, State: "ACCEPTED"}}
	calls := 0
	launch := func(context.Context) (string, bool, error) {
		calls++
		if calls == 1 {
			return "", false, failed
		}
		return appA, false, nil // the retry finds the application by its idempotency tag
	}
	if _, err := r.launchOnce(ctx, registry.KindJob, "k", "f", nil, launch, func() any { return &view }); !errors.Is(err, failed) {
		t.Fatalf("first launch: %v", err)
	}
	if rec, ok := reg.Cached(appA); !ok || rec.State != stateLaunchFailed || visible(&rec) {
		t.Fatalf("failed launch record %+v", rec)
	}
	if _, err := r.Job(ctx, appA); err == nil {
		t.Fatal("a failed launch is served")
	}
	if _, err := r.launchOnce(ctx, registry.KindJob, "k", "f", nil, launch, func() any { return &view }); err != nil {
		t.Fatalf("retry: %v", err)
	}
	job, err := r.Job(ctx, appA)
	if err != nil || job.State != api.StateAccepted {
		t.Fatalf("after the retry: %+v, %v", job, err)
	}
	if c, err := reg.Claim(ctx, keyHash(registry.KindJob, "k")); err != nil || c.ID != appA {
		t.Fatalf("key claim %+v, %v", c, err)
	}
}

func TestUnknownIDsCostOneResourceManagerCall(t *testing.T) {
	r, rm, _, _ := newRecordedTest(t, RecordedJobsOptions{})
	ctx := t.Context()
	for range 100 {
		if _, err := r.Job(ctx, appB); !errors.Is(err, ErrJobNotFound) {
			t.Fatalf("unknown job: %v", err)
		}
		if _, err := r.Session(ctx, appS); !errors.Is(err, ErrSessionNotFound) {
			t.Fatalf("unknown session: %v", err)
		}
	}
	if n := rm.calls.Load(); n != 2 {
		t.Fatalf("%d ResourceManager calls for 200 reads of two unknown ids, want 2", n)
	}
}
