// Package reconcile keeps the registry's records true to what runs. One gateway instance at a time (the
// leader of an election, or the only instance) makes a pass every interval, bounded by a deadline: one
// ResourceManager list call for the applications of this installation (those that have not ended, with the
// heavy fields deselected; every application now and then; in the pass after a record's application left
// that list, those that ended since instead, beside the last list), the JobManagers whose answer is due
// (each answer stands for a refresh period unless YARN's report changes; one that timed out is asked again
// after a back-off, first in the pass so that its timeout overlaps the rest; a session's is one job list per
// pass), Parallelism at a time and each bounded by the JobManager timeout, application jobs and session jobs
// at once, then for each record a pure observation (package observe) whose status is written only when it
// changed, and the follow-up actions it asks for (remove launch files, find a failure, kill a session whose stop stalled).
// Beside the passes, a refresher asks JobManagers as their answers come due (refresh.go). A pass also adopts
// applications without a record, kills the applications of launches reported as failed, marks LOST what YARN
// forgot before it ended, drops records after their retention, and now and then collects staging files
// nothing references.
//
// Dependency rule: reconcile uses the client packages (yarnclient, flink/jobmanager, registry, zk types) and
// observe; it never imports the service (job) or the HTTP layer. Only its Run starts goroutines, and Run is
// called by app.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/yarnlogs"
	"github.com/yarngate/yarngate/zk"
)

// rmClient is what the reconciler needs of the ResourceManager; *yarnclient.Client implements it.
type rmClient interface {
	Apps(ctx context.Context, f yarnclient.AppsFilter) ([]yarnclient.App, error)
	App(ctx context.Context, id string) (*yarnclient.App, error)
	Kill(ctx context.Context, id, diagnostics string) (yarnclient.AppState, error)
	ContainerLog(ctx context.Context, amContainerLogs, file string, tailBytes int64) (string, error)
}

// fileStore is the HDFS access the reconciler needs; *hdfs.Store implements it.
type fileStore interface {
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	OpenFile(ctx context.Context, name string) (hdfs.File, error)
	CanActAs() bool
	ReadDir(ctx context.Context, name string) ([]hdfs.DirEntry, error)
	RemoveAll(ctx context.Context, name string) error
}

// recordRegistry is what the reconciler needs of the registry; *registry.Registry implements it.
type recordRegistry interface {
	Get(ctx context.Context, id string) (registry.Record, error)
	Cached(id string) (registry.Record, bool)
	Lookup(id string) (registry.Summary, bool)
	Holds(rec *registry.Record) bool
	ByApplication(appID string) (registry.Record, bool)
	ByLaunchTag(tags []string) (string, bool)
	List(keep func(*registry.Summary) bool) []registry.Record
	Scan(f func(*registry.Summary) bool)
	Create(ctx context.Context, rec registry.Record) (registry.Record, error)
	Update(ctx context.Context, id string, change func(*registry.Record) (bool, error)) (registry.Record, error)
	Delete(ctx context.Context, rec registry.Record) error
	ReleaseKey(ctx context.Context, keyHash string) error
}

// leadership says whether this instance is the one that reconciles; *zk.Election implements it.
type leadership interface {
	IsLeader() bool
}

// instanceLister lists the gateway instances that run now; *zk.Election implements it.
type instanceLister interface {
	Members(ctx context.Context) ([]string, error)
}

// jobManagerLeaders follows the REST leaders of Flink clusters in ZooKeeper, by cluster id (the application
// id); *zk.FlinkLeaders implements it.
type jobManagerLeaders interface {
	Watch(clusterID string) error
	Unwatch(clusterID string)
	Leader(clusterID string) (zk.JobManagerLeader, bool)
}

// StateLaunchFailed is the state of the hidden record a launch reported as failed leaves behind when its
// application may exist: the reconciler kills the application should YARN run it after all.
const StateLaunchFailed = "LAUNCH_FAILED"

// Options configure a Reconciler.
type Options struct {
	// RM, Files and Registry are required.
	RM       rmClient
	Files    fileStore
	Registry recordRegistry
	// Leadership says whether this instance reconciles; nil means always (a single instance).
	Leadership leadership
	// Instances lists the running instances, to tell a launch under way from one cut short; nil means only
	// this one runs.
	Instances instanceLister
	// Leaders follows the JobManager leaders of HA clusters; nil without JobManager HA.
	Leaders jobManagerLeaders
	// Clusters finds the leading JobManagers of registered clusters (*flinkcluster.Locator); nil: jobs in
	// registered clusters are not observed.
	Clusters clusterLocator
	// HomeTag is the application tag of this installation (ident.HomeTag). Required.
	HomeTag string
	// StagingRoot is the absolute HDFS staging root: launch files under <root>/.flink/<application id>, job
	// archives under <root>/archive. Required.
	StagingRoot string
	// HADir is where launched clusters keep their HA data (one directory per application id); "" without HA.
	HADir string
	// RemoteLogs is where YARN aggregates containers' logs: a failed driver's exception is looked for there
	// when the NodeManager no longer serves the JobManager's log. Zero: YARN's default.
	RemoteLogs yarnlogs.Layout
	// Interval is the period of passes. Default 1s.
	Interval time.Duration
	// Retention is how long an ended record is kept after YARN forgot its application. Default 7 days.
	Retention time.Duration
	// LostGrace is how long a new record may miss its application before it is LOST. Default 1 minute.
	LostGrace time.Duration
	// GCInterval is the period of the staging garbage collection. Default 5 minutes.
	GCInterval time.Duration
	// SessionStopGrace is how long a session may take to stop before its application is killed. Default 30s.
	SessionStopGrace time.Duration
	// SavepointRetention bounds the completed savepoints a job keeps; zero keeps them all.
	SavepointRetention observe.Retention
	// JobManagerTimeout bounds one JobManager REST call. Default 5s.
	JobManagerTimeout time.Duration
	// JobManagerRefresh is how long a JobManager's answer stands before it is asked again (sooner when YARN's
	// report of its application changes); a JobManager that did not answer is asked again after a back-off
	// that doubles up to JobManagerBackoff. Defaults 3s and 1 minute.
	JobManagerRefresh, JobManagerBackoff time.Duration
	// FullListInterval is the period of the ResourceManager lists of every application of the installation,
	// ended ones included (what YARN forgot is found there); the passes in between list only the
	// applications that have not ended, or, in the pass after a record's application left that list, those
	// that ended since (one call per pass). Default 1 minute.
	FullListInterval time.Duration
	// Parallelism bounds the applications (and sessions) a pass observes at once, and those the refresher
	// observes beside it (refresh.go). Default 16.
	Parallelism int
	// JobManagerCallsPerPass bounds the JobManagers a pass asks because their answer is due: beyond it, the
	// last answer stands until a later pass, so that a pass stays short however many jobs run (what YARN
	// reports shows first in a pass anyway). A JobManager never asked, or whose application's report
	// changed, is always asked, and so are sessions' (one call lists all their jobs). A twentieth of it bounds
	// the health checks of a pass (states first). Default 10,000: 10⁴ application jobs with a 3 s refresh and
	// passes back to back (1.5–2 s at that size) need 5,000–7,000; 5,000 left answers of part of them two passes
	// old.
	JobManagerCallsPerPass int
	// PassTimeout bounds one pass; what it did not reach waits for the next. Default 30s.
	PassTimeout time.Duration
	// JobManagerDial connects to JobManagers (the DialContext of the transport of JobManager calls, which
	// keeps one idle connection per JobManager: see newJobManagerTransport). Default a net.Dialer's (the
	// simulator hands in one that reaches simulated JobManagers).
	JobManagerDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// LookupHost resolves host names, to tell whether a JobManager address is on the host of its application's
	// AM container. Default net.DefaultResolver.LookupHost.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// HealthInterval is how often the health of each running application job is checked (a few JobManager
	// calls each). Default 30s; negative disables health checks.
	HealthInterval time.Duration
	// HealthThresholds say when a running job is degraded or unhealthy.
	HealthThresholds observe.HealthThresholds
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger and Metrics are required.
	Logger  *slog.Logger
	Metrics *Metrics
}

func (o *Options) validate() error {
	if o.RM == nil || o.Files == nil || o.Registry == nil || o.Logger == nil || o.Metrics == nil {
		return errors.New("reconcile: RM, Files, Registry, Logger and Metrics are required")
	}
	if o.HomeTag == "" || !path.IsAbs(o.StagingRoot) {
		return errors.New("reconcile: HomeTag and an absolute StagingRoot are required")
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.Interval, time.Second}, {&o.Retention, 7 * 24 * time.Hour}, {&o.LostGrace, time.Minute},
		{&o.GCInterval, 5 * time.Minute}, {&o.SessionStopGrace, 30 * time.Second}, {&o.JobManagerTimeout, 5 * time.Second},
		{&o.JobManagerRefresh, 3 * time.Second}, {&o.JobManagerBackoff, time.Minute}, {&o.FullListInterval, time.Minute},
		{&o.PassTimeout, 30 * time.Second}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = defaultHealthInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 16
	}
	if o.JobManagerCallsPerPass <= 0 {
		o.JobManagerCallsPerPass = 10000
	}
	return nil
}

// Reconciler keeps records in step with YARN and Flink; see the package documentation. Run runs it; Observe
// observes one record at once, on any instance (after a cancel, say).
type Reconciler struct {
	opts      Options
	jmHTTP    *http.Client
	hosts     *hostMatcher
	failures  chan failureSearch // failed jobs whose failure to find
	removals  chan string        // application ids whose launch files to remove
	disposals chan disposal      // savepoints retention dropped

	mu       sync.Mutex
	lastPass time.Time                  // end of the last complete pass
	seeking  map[string]bool            // record ids whose failure is being looked for
	answered map[string]string          // per application: the "<YARN address> <leader>" pair whose leader answered
	refused  map[string]map[string]bool // per application: the JobManager addresses refused (off the AM's host), logged
	jms      map[string]*jmAnswer       // per application: its JobManager's last answer (jmcache.go)
	views    map[string]*sessionView    // per session: what its JobManager listed in the current pass
	budget   atomic.Int64               // JobManager calls left to this pass for answers that are due
	// healthBudget is the health checks left to this pass.
	healthBudget atomic.Int64
	offset       int       // where the next pass starts its walk of the applications (rotate)
	lastFull     time.Time // start of the last full list
	// lastActive is the start of the last list of the applications not ended (or of every application),
	// active the applications it listed that had not ended.
	lastActive time.Time
	active     []yarnclient.App
	// latest is the newest report of each application that has not ended (into active), for the
	// refresher (refresh.go); observing holds the applications observed now, each with a channel closed
	// when its observation ends.
	latest    map[string]*yarnclient.App
	observing map[string]chan struct{}
	// sessionJobIDs are the ids of the session jobs of each session that the last pass observed, for the
	// refresher.
	sessionJobIDs map[string][]string
	// endedSince is set when a record's application left the last list of those not ended: the next pass
	// lists the applications that ended since then (zero: none to list).
	endedSince time.Time
	// healthChecked is when each running job's health was last checked, by record id.
	healthChecked map[string]time.Time
	// disposing holds "<record id>/<trigger id>" of savepoints queued for disposal.
	disposing map[string]bool

	hotMu sync.Mutex
	hot   map[string]registry.Record // decoded records of what has not ended, by id (hot.go)
}

// failureSearch is a failed job whose failure to find.
type failureSearch struct {
	recordID, appID, jobID, logs string
	archiveDir                   string // where to read the job's archive
}

// New checks the options and builds a Reconciler; Run starts it.
func New(opts Options) (*Reconciler, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	jmHTTP := &http.Client{Timeout: opts.JobManagerTimeout, Transport: newJobManagerTransport(opts.JobManagerRefresh, opts.JobManagerDial)}
	return &Reconciler{opts: opts, jmHTTP: jmHTTP, jms: map[string]*jmAnswer{},
		hosts:    newHostMatcher(opts.LookupHost, opts.Now),
		failures: make(chan failureSearch, 256), removals: make(chan string, 256), disposals: make(chan disposal, 64),
		seeking: map[string]bool{}, answered: map[string]string{}, refused: map[string]map[string]bool{},
		healthChecked: map[string]time.Time{}, disposing: map[string]bool{}, hot: map[string]registry.Record{},
		latest: map[string]*yarnclient.App{}, observing: map[string]chan struct{}{}}, nil
}

// Run makes a pass every interval while this instance leads, collects garbage every GCInterval, and runs
// the workers of follow-up actions, until ctx ends; it returns once they have stopped.
func (r *Reconciler) Run(ctx context.Context) {
	defer r.jmHTTP.CloseIdleConnections() // after the workers (deferred calls run last first)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { r.removeLoop(ctx) })
	wg.Go(func() { r.failureLoop(ctx) })
	wg.Go(func() { r.disposeLoop(ctx) })
	wg.Go(func() { r.refreshLoop(ctx) })
	tick := time.NewTicker(r.opts.Interval)
	defer tick.Stop()
	var lastGC time.Time
	for {
		if !r.Leading() {
			r.dropHot() // another instance writes the records meanwhile (the refresher drops its reports itself)
		} else {
			if err := r.Pass(ctx); err != nil && ctx.Err() == nil {
				r.opts.Logger.Warn("reconciliation failed; retrying next interval", "error", err)
			}
			if r.opts.Now().Sub(lastGC) >= r.opts.GCInterval && ctx.Err() == nil {
				r.collect(ctx)
				lastGC = r.opts.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Leading reports whether this instance reconciles.
func (r *Reconciler) Leading() bool { return r.opts.Leadership == nil || r.opts.Leadership.IsLeader() }

// LastPass is when the last complete pass ended; zero before the first.
func (r *Reconciler) LastPass() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastPass
}

// activeStates are the states of applications that have not ended.
var activeStates = []yarnclient.AppState{yarnclient.StateNew, yarnclient.StateNewSaving, yarnclient.StateSubmitted,
	yarnclient.StateAccepted, yarnclient.StateRunning}

// endedStates are the terminal states.
var endedStates = []yarnclient.AppState{yarnclient.StateFinished, yarnclient.StateFailed, yarnclient.StateKilled}

// endedMargin widens the list of applications that ended since the last list, for the clocks of the
// gateway and the ResourceManager, which tells finish times by its own.
const endedMargin = 5 * time.Minute

// Pass is one reconciliation, bounded by PassTimeout: one ResourceManager list call for the applications
// of this installation (every FullListInterval all of them; else those that have not ended — or, in the pass
// after a record's application left that list, those that ended since, beside the applications of the last
// list of those not ended: so that a pass costs one call), the JobManagers whose answers are due, then every
// record brought up to date: application jobs and session jobs at once, then sessions. Session jobs are
// written before their sessions, so that whoever sees a session ended sees its jobs' outcome too.
func (r *Reconciler) Pass(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.PassTimeout)
	defer cancel()
	began := r.opts.Now()
	r.budget.Store(int64(r.opts.JobManagerCallsPerPass))
	r.healthBudget.Store(int64(max(1, r.opts.JobManagerCallsPerPass/20)))
	r.mu.Lock()
	full := r.lastFull.IsZero() || began.Sub(r.lastFull) >= r.opts.FullListInterval
	endedSince, active := r.endedSince, r.active
	r.mu.Unlock()
	endedPass := !full && !endedSince.IsZero()
	f := yarnclient.AppsFilter{ApplicationTags: []string{r.opts.HomeTag}, DeSelects: yarnclient.DeSelectAll}
	var apps []yarnclient.App
	if endedPass {
		f.States, f.FinishedTimeBegin = endedStates, endedSince.Add(-endedMargin).UnixMilli()
		ended, err := r.opts.RM.Apps(ctx, f)
		if err != nil {
			return fmt.Errorf("list applications that ended: %w", err)
		}
		apps = withEnded(active, ended, r.hotByApplication)
	} else {
		if !full {
			f.States = activeStates
		}
		var err error
		if apps, err = r.opts.RM.Apps(ctx, f); err != nil {
			return fmt.Errorf("list applications: %w", err)
		}
	}
	left := !full && !endedPass && r.left(apps)
	r.mu.Lock()
	switch {
	case endedPass:
		r.endedSince = time.Time{}
	default:
		if left {
			r.endedSince = r.lastActive // it was listed then, not ended
		} else {
			r.endedSince = time.Time{} // a full list has every application
		}
		r.lastActive = began
		r.active = r.active[:0:0]
		for i := range apps {
			if !apps[i].State.Terminal() {
				r.active = append(r.active, apps[i])
			}
		}
	}
	r.setLatestLocked(apps, !endedPass)
	if full {
		r.lastFull = began
	}
	r.mu.Unlock()
	listed := make(map[string]*yarnclient.App, len(apps))
	var jobApps, sessionApps []*yarnclient.App
	for i := range apps {
		app := &apps[i]
		if !app.HasTag(ident.TagGateway) || !app.HasTag(r.opts.HomeTag) {
			continue
		}
		listed[app.ID] = app
		if app.HasTag(ident.TagKindSession) {
			sessionApps = append(sessionApps, app)
		} else {
			jobApps = append(jobApps, app)
		}
	}
	m := r.opts.Metrics
	t := m.phase("list", began, r.opts.Now())
	// Application jobs and session jobs at once (their records and JobManagers are apart): a JobManager
	// that hangs in one costs the other nothing.
	var wg sync.WaitGroup
	wg.Go(func() {
		r.reconcileSessionJobs(ctx, sessionApps, listed, full)
		m.phase("session_jobs", t, r.opts.Now())
	})
	r.each(ctx, r.ordered(r.rotate(jobApps)), r.reconcileApp)
	m.phase("applications", t, r.opts.Now())
	wg.Wait()
	t = r.opts.Now()
	r.each(ctx, sessionApps, r.reconcileApp)
	t = m.phase("sessions", t, r.opts.Now())
	r.reconcileClusterJobs(ctx)
	t = m.phase("cluster_jobs", t, r.opts.Now())
	r.lateArchives(ctx)
	t = m.phase("late_archives", t, r.opts.Now())
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pass cut short after %s: %w", r.opts.Now().Sub(began), err)
	}
	if !full {
		// Records whose application was not listed are left to the next full list.
		r.opts.Metrics.observePass(len(listed), r.opts.Now().Sub(began))
		return nil
	}
	now := r.opts.Now()
	for _, rec := range r.opts.Registry.List(func(rec *registry.Summary) bool { return r.fullCheckDue(rec, listed, now) }) {
		if _, ok := listed[rec.ApplicationID]; !ok {
			r.missing(ctx, rec)
		} else if !rec.GoneAt.IsZero() {
			r.update(ctx, rec.ID, func(rec *registry.Record) bool {
				rec.GoneAt = time.Time{}
				return true
			})
		}
	}
	r.savepoints(ctx)
	r.pruneHot()
	m.phase("full", t, r.opts.Now())
	r.mu.Lock()
	r.lastPass = r.opts.Now()
	r.mu.Unlock()
	r.opts.Metrics.observePass(len(listed), r.opts.Now().Sub(began))
	return nil
}

// withEnded is the applications of the last list of those not ended, with those of a list of those that
// ended since in their place (or added). An application of the older list is as its record last saw it
// (when it has a record): that list is a pass old, and an observation since (Observe, after a cancel) may
// have seen more.
func withEnded(active, ended []yarnclient.App, byApplication func(appID string) (registry.Record, bool)) []yarnclient.App {
	at := make(map[string]int, len(active))
	out := slices.Clone(active)
	for i := range out {
		at[out[i].ID] = i
		if rec, ok := byApplication(out[i].ID); ok && rec.ApplicationID == out[i].ID && rec.Status.YARN.State != "" {
			asRecorded(&out[i], rec.Status.YARN)
		}
	}
	for _, app := range ended {
		if i, ok := at[app.ID]; ok {
			out[i] = app
		} else {
			out = append(out, app)
		}
	}
	return out
}

// asRecorded sets what an application report says of the application's state to what a record last saw.
func asRecorded(app *yarnclient.App, y observe.YARN) {
	app.State, app.FinalStatus, app.Diagnostics = yarnclient.AppState(y.State), yarnclient.FinalStatus(y.FinalStatus), y.Diagnostics
	app.Queue, app.User, app.AMContainerLogs = y.Queue, y.User, y.AMContainerLogs
}

// left reports whether the application of a record that had not ended (as last observed) is missing from
// apps, a list of the applications that have not ended: it ended since (or YARN forgot it).
func (r *Reconciler) left(apps []yarnclient.App) bool {
	active := make(map[string]bool, len(apps))
	for i := range apps {
		active[apps[i].ID] = true
	}
	found := false
	r.opts.Registry.Scan(func(rec *registry.Summary) bool {
		if onYARN(rec.Kind) && rec.Launcher == "" && rec.State != StateLaunchFailed &&
			!yarnclient.AppState(rec.YARNState).Terminal() && !active[rec.ApplicationID] {
			found = true
		}
		return !found
	})
	return found
}

// rotate starts each pass's walk of the applications where the last one's JobManager calls ended (by
// JobManagerCallsPerPass), so that when the calls run out every application's JobManager gets its turn.
func (r *Reconciler) rotate(apps []*yarnclient.App) []*yarnclient.App {
	if len(apps) == 0 {
		return apps
	}
	r.mu.Lock()
	off := r.offset % len(apps)
	r.offset = off + r.opts.JobManagerCallsPerPass
	r.mu.Unlock()
	return append(slices.Clone(apps[off:]), apps[:off]...)
}

// ordered puts first the applications whose JobManager did not answer last time and is to be asked again
// (most likely to take its timeout: begun first, it overlaps the rest of the pass instead of ending it
// late), then those whose YARN report changed since their JobManager was asked, or that ended (what YARN
// tells shows first: at 10⁴ applications, the rest of the pass takes half a second), then those whose
// observation needs no JobManager call, then those whose JobManager answer is due; the order within each
// stays.
func (r *Reconciler) ordered(apps []*yarnclient.App) []*yarnclient.App {
	now := r.opts.Now()
	var retry, changed, quiet, due []*yarnclient.App
	r.mu.Lock()
	for _, app := range apps {
		a := r.jms[app.ID]
		switch {
		case a != nil && a.failures > 0 && amURL(app) != "" && a.report == reportKey(app) && r.dueLocked(a, now):
			retry = append(retry, app)
		case a != nil && a.report != reportKey(app) || a == nil && app.State.Terminal():
			changed = append(changed, app)
		case amURL(app) == "" || a != nil && !r.dueLocked(a, now):
			quiet = append(quiet, app)
		default:
			due = append(due, app)
		}
	}
	r.mu.Unlock()
	return slices.Concat(retry, changed, quiet, due)
}

// each runs f for each application, Parallelism at a time, until ctx ends.
func (r *Reconciler) each(ctx context.Context, apps []*yarnclient.App, f func(context.Context, *yarnclient.App)) {
	eachOf(ctx, r.opts.Parallelism, apps, f)
}

// eachOf runs f for each item, n at a time, until ctx ends; it returns when every f it started has.
func eachOf[T any](ctx context.Context, n int, items []T, f func(context.Context, T)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, n)
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(ctx, it)
		})
	}
	wg.Wait()
}

// kindOf is the record kind of a listed application.
func kindOf(app *yarnclient.App) observe.Kind {
	if app.HasTag(ident.TagKindSession) {
		return observe.KindSession
	}
	return observe.KindJob
}

// reconcileApp brings the record of one listed application up to date, or adopts the application, once an
// observation of it under way (the refresher's) has ended.
func (r *Reconciler) reconcileApp(ctx context.Context, app *yarnclient.App) {
	if !r.claim(ctx, app.ID, true) {
		return
	}
	defer r.release(app.ID)
	r.observeListed(ctx, app, false)
}

// observeListed is reconcileApp once the application is claimed. refresh: an observation of the refresher,
// for an answer that came due (not bounded by the pass's JobManager calls; no health check, no adoption).
func (r *Reconciler) observeListed(ctx context.Context, app *yarnclient.App, refresh bool) {
	rec, known := r.hotByApplication(app.ID)
	if refresh && !r.refreshable(known, &rec, app) {
		r.postpone(app.ID)
		return
	}
	kind := kindOf(app)
	switch {
	case known && rec.ApplicationID != app.ID:
		return // an earlier run of a job upgraded since: the upgrade stopped it
	case known && yarnclient.AppState(rec.Status.YARN.State).Terminal() && !app.State.Terminal():
		return // an observation newer than this report (Observe's, after a cancel) saw the application end
	case !known && r.upgradeLaunch(app):
		return // the launch of an upgrade, recorded by its driver
	case known && rec.State == StateLaunchFailed:
		if !app.State.Terminal() {
			r.opts.Logger.Warn("killing the application of a launch reported as failed", "applicationId", app.ID)
			if _, err := r.opts.RM.Kill(yarnclient.AsUser(ctx, app.User), app.ID, "yarngate: the launch was reported as failed"); err != nil {
				r.opts.Logger.Warn("could not kill the application of a failed launch", "applicationId", app.ID, "error", err)
			}
		}
		return
	case known && rec.Launcher != "":
		return // its launch is under way
	case known && observe.Settled(kind, rec.Status, r.opts.Now()):
		r.forgetLeader(app.ID)
		return // final on both sides: nothing more to learn
	}
	prev := rec.Status
	if !known {
		prev = adoptedStatus(app)
	}
	r.mu.Lock()
	sv := r.views[app.ID]
	r.mu.Unlock()
	next, actions := r.observeApp(ctx, app, kind, prev, sv, refresh)
	switch {
	case kind != observe.KindJob:
	case refresh:
		r.healthOnlyIfRunning(app.ID, &next)
	default:
		r.assessHealth(ctx, app.ID, app.ID, &next)
	}
	if !known {
		r.adopt(ctx, app, kind, next)
	} else {
		r.writeOver(ctx, &rec, kind, next, "")
	}
	r.act(ctx, app.ID, kind, next, actions)
}

// upgradeLaunch reports whether an application is the launch of an upgrade that its record does not name
// yet (its driver records it, or finds it by its tag after a restart).
func (r *Reconciler) upgradeLaunch(app *yarnclient.App) bool {
	_, ok := r.opts.Registry.ByLaunchTag(app.ApplicationTags)
	return ok
}

// Observe observes one job or session now and writes its status when it changed; any instance may call it
// (after a cancel or a stop, so that the answer shows the outcome). Records of session jobs and of launches
// under way are left to the passes.
func (r *Reconciler) Observe(ctx context.Context, id string) error {
	rec, err := r.opts.Registry.Get(ctx, id)
	if err != nil {
		return err
	}
	if rec.Kind == registry.KindClusterJob {
		r.reconcileClusterJobsOf(ctx, rec.ApplicationID, []registry.Record{rec})
		return nil
	}
	if !onYARN(rec.Kind) || rec.Launcher != "" || rec.State == StateLaunchFailed {
		return nil
	}
	if !r.claim(ctx, rec.ApplicationID, true) { // not beside the refresher's observation of it
		return ctx.Err()
	}
	defer r.release(rec.ApplicationID)
	app, err := r.opts.RM.App(ctx, rec.ApplicationID)
	if err != nil {
		return fmt.Errorf("read application %s: %w", rec.ApplicationID, err)
	}
	r.forgetJM(app.ID) // asked to look now: its JobManager too
	kind := observe.Kind(rec.Kind)
	next, actions := r.observeApp(ctx, app, kind, rec.Status, nil, false)
	r.write(ctx, rec.ID, kind, next, "")
	if r.Leading() {
		r.act(ctx, app.ID, kind, next, actions)
	}
	return nil
}

// adoptedStatus is the status an application without a record starts from, as far as its tags tell.
func adoptedStatus(app *yarnclient.App) observe.Status {
	s := observe.Status{YARN: observe.YARN{ApplicationID: app.ID},
		Flink: observe.Flink{Version: ident.TagValue(app.ApplicationTags, ident.TagFlinkPrefix)}}
	if app.HasTag(ident.TagMultipleJobs) {
		s.Flink.MultipleJobs = true
	} else if !app.HasTag(ident.TagKindSession) {
		s.Flink.JobID, _ = ident.FlinkJobID(app.ID)
	}
	return s
}

// adopt records an application found in YARN that has no record (launched by an older gateway, or whose
// launcher died before writing its record).
func (r *Reconciler) adopt(ctx context.Context, app *yarnclient.App, kind observe.Kind, st observe.Status) {
	rec := registry.Record{ID: app.ID, Kind: string(kind), ApplicationID: app.ID, Owner: app.User, Name: app.Name,
		Target: ident.TagValue(app.ApplicationTags, ident.TagTargetPrefix), CreatedAt: app.Started().UTC()}
	rec.SetStatus(st, "adopted")
	if _, err := r.opts.Registry.Create(ctx, rec); err == nil {
		r.opts.Metrics.wrote(kind)
		r.opts.Logger.Info("adopted an application without a record", "id", app.ID, "kind", kind, "state", st.State)
	} else if !errors.Is(err, registry.ErrExists) {
		r.opts.Logger.Warn("could not adopt an application", "id", app.ID, "error", err)
	}
}

// write stores a status when it differs from the record's. A status the record in memory already has costs
// no registry update (most observations of a pass change nothing).
func (r *Reconciler) write(ctx context.Context, id string, kind observe.Kind, st observe.Status, reason string) {
	if rec, ok := r.opts.Registry.Cached(id); ok && unchanged(rec, st) {
		return
	}
	r.store(ctx, id, kind, st, reason)
}

// writeOver is write for the record seen, which the status was observed from: while the registry holds that
// version, seen is what the status is compared with, so that a pass does not decode each record twice.
func (r *Reconciler) writeOver(ctx context.Context, seen *registry.Record, kind observe.Kind, st observe.Status, reason string) {
	if !r.opts.Registry.Holds(seen) {
		r.write(ctx, seen.ID, kind, st, reason) // changed since: compare with what it is now
		return
	}
	if !unchanged(*seen, st) {
		r.store(ctx, seen.ID, kind, st, reason)
	}
}

// store writes st as a record's status (see write), inside a registry update that reads the record as
// stored.
func (r *Reconciler) store(ctx context.Context, id string, kind observe.Kind, st observe.Status, reason string) {
	wrote := false
	_, err := r.opts.Registry.Update(ctx, id, func(rec *registry.Record) (bool, error) {
		if rec.Launcher != "" || rec.State == StateLaunchFailed {
			return false, nil // a launch under way writes its own record
		}
		if a := st.YARN.ApplicationID; a != "" && a != rec.ApplicationID {
			return false, nil // observed before an upgrade moved the record to its next application
		}
		if rec.Status.State == st.State {
			st.Since = rec.Status.Since // another observer saw the change first (Observe beside a pass)
		}
		wrote = rec.SetStatus(st, reason)
		return wrote, nil
	})
	if err != nil {
		r.opts.Logger.Warn("could not update a record", "id", id, "error", err)
		return
	}
	if wrote {
		r.opts.Metrics.wrote(kind)
	}
}

// unchanged reports whether writing st would leave a record as it is (see write).
func unchanged(rec registry.Record, st observe.Status) bool {
	if rec.Status.State == st.State {
		st.Since = rec.Status.Since
	}
	return rec.Status.Equal(st)
}

// update applies change to a record, logging failures (the next pass tries again).
func (r *Reconciler) update(ctx context.Context, id string, change func(*registry.Record) bool) {
	if _, err := r.opts.Registry.Update(ctx, id, func(rec *registry.Record) (bool, error) { return change(rec), nil }); err != nil {
		r.opts.Logger.Warn("could not update a record", "id", id, "error", err)
	}
}

// fullCheckDue reports, from a record's summary, whether the full pass has anything to do with it: clear
// the GoneAt of a listed record that has one, or what missing does with one not listed (mark an ended record
// gone, drop it after the retention, look for the application of one that had not ended). The others are
// not decoded.
func (r *Reconciler) fullCheckDue(rec *registry.Summary, listed map[string]*yarnclient.App, now time.Time) bool {
	if !onYARN(rec.Kind) {
		return false
	}
	if _, ok := listed[rec.ApplicationID]; ok {
		return !rec.GoneAt.IsZero()
	}
	if rec.Terminal || rec.State == StateLaunchFailed {
		return rec.GoneAt.IsZero() || now.Sub(rec.GoneAt) >= r.opts.Retention
	}
	return now.Sub(rec.CreatedAt) >= r.opts.LostGrace
}

// missing handles a record whose application YARN does not list: a record not ended is LOST once YARN
// confirms it does not know the application (after LostGrace); an ended one is dropped after the retention.
func (r *Reconciler) missing(ctx context.Context, rec registry.Record) {
	now := r.opts.Now()
	if rec.Terminal || rec.State == StateLaunchFailed {
		switch {
		case rec.GoneAt.IsZero():
			r.update(ctx, rec.ID, func(rec *registry.Record) bool {
				rec.GoneAt = now.UTC()
				return true
			})
		case now.Sub(rec.GoneAt) >= r.opts.Retention:
			r.drop(ctx, rec)
		}
		return
	}
	if rec.Kind == registry.KindSessionJob || now.Sub(rec.CreatedAt) < r.opts.LostGrace {
		return
	}
	if rec.Launcher != "" {
		if alive, err := r.alive(ctx, rec.Launcher); err != nil || alive {
			return
		}
	}
	app, err := r.opts.RM.App(ctx, rec.ApplicationID)
	if err == nil {
		r.reconcileApp(ctx, app) // listed late
		return
	}
	if !errors.Is(err, yarnclient.ErrNotFound) {
		return
	}
	reason := fmt.Sprintf("YARN no longer knows application %s although it had not ended "+
		"(the ResourceManager lost it, for example after a restart without recovery)", rec.ApplicationID)
	r.opts.Logger.Warn("record lost its application", "id", rec.ID, "applicationId", rec.ApplicationID)
	kind := observe.Kind(rec.Kind)
	r.update(ctx, rec.ID, func(rec *registry.Record) bool {
		if rec.Terminal {
			return false
		}
		if rec.Launcher != "" {
			rec.Launcher = ""
		}
		rec.SetStatus(observe.Lost(kind, rec.Status, reason, now), reason)
		rec.GoneAt = now.UTC()
		return true
	})
	r.forgetLeader(rec.ApplicationID)
}

// alive reports whether a gateway instance runs.
func (r *Reconciler) alive(ctx context.Context, instance string) (bool, error) {
	if r.opts.Instances == nil {
		return false, nil
	}
	ids, err := r.opts.Instances.Members(ctx)
	if err != nil {
		return false, fmt.Errorf("list gateway instances: %w", err)
	}
	return slices.Contains(ids, instance), nil
}

// drop removes a record after its retention, with the files it owns and its idempotency key.
func (r *Reconciler) drop(ctx context.Context, rec registry.Record) {
	for _, p := range r.filesOf(rec) {
		if err := r.opts.Files.RemoveAll(ctx, p); err != nil {
			r.opts.Logger.Warn("could not remove the files of an expired record", "id", rec.ID, "path", p, "error", err)
			return
		}
	}
	if rec.KeyHash != "" {
		if err := r.opts.Registry.ReleaseKey(ctx, rec.KeyHash); err != nil {
			r.opts.Logger.Warn("could not release the idempotency key of an expired record", "id", rec.ID, "error", err)
			return
		}
	}
	if err := r.opts.Registry.Delete(ctx, rec); err != nil {
		r.opts.Logger.Warn("could not drop an expired record", "id", rec.ID, "error", err)
		return
	}
	r.opts.Logger.Info("dropped an expired record", "id", rec.ID, "state", rec.State, "goneAt", rec.GoneAt)
}

// archiveDir is where JobManagers archive ended jobs (jobmanager.archive.fs.dir, set by launch): one file per
// Flink job id, and one directory per application that may run several jobs.
func (r *Reconciler) archiveDir() string { return path.Join(r.opts.StagingRoot, "archive") }

// filesOf lists the HDFS paths a record owns: the launch files and HA data of its application, and the
// archive of its Flink job (or the archive directory of an application with several jobs).
func (r *Reconciler) filesOf(rec registry.Record) []string {
	var out []string
	if onYARN(rec.Kind) {
		out = append(out, path.Join(r.opts.StagingRoot, ".flink", rec.ApplicationID))
		if r.opts.HADir != "" {
			out = append(out, path.Join(r.opts.HADir, rec.ApplicationID))
		}
	}
	if rec.Status.Flink.MultipleJobs {
		out = append(out, path.Join(r.archiveDir(), rec.ApplicationID))
	}
	if ident.ValidFlinkJobID(rec.Status.Flink.JobID) {
		out = append(out, path.Join(r.archiveDir(), rec.Status.Flink.JobID))
	}
	return append(out, rec.Files...)
}
