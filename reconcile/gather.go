package reconcile

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/url"
	"path"
	"time"

	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
)

// reportOf is the part of an application report observations use.
func reportOf(app *yarnclient.App) observe.Report {
	return observe.Report{State: string(app.State), FinalStatus: string(app.FinalStatus), Diagnostics: app.Diagnostics,
		Queue: app.Queue, User: app.User, AMContainerLogs: app.AMContainerLogs}
}

// observeApp gathers what there is to see of an application job or a session (its JobManager while the
// application runs; for an ended application with several jobs, their archives) and derives its status.
// sv, for a session, is what its JobManager listed in this pass (nil when not asked): its answer tells
// whether the JobManager answers, at no further call. refresh: the refresher's observation, whose call for an
// answer that came due is not bounded by the pass's JobManager calls.
func (r *Reconciler) observeApp(ctx context.Context, app *yarnclient.App, kind observe.Kind, prev observe.Status, sv *sessionView, refresh bool) (next observe.Status, actions []observe.Action) {
	o := observe.Observation{Report: reportOf(app), Now: r.opts.Now()}
	if !app.State.Terminal() {
		o.JobManager.URL = r.jobManagerURL(ctx, app)
	} else {
		r.forgetLeader(app.ID)
		r.forgetJM(app.ID)
	}
	if url := o.JobManager.URL; url != "" {
		if kind == observe.KindSession && sv != nil && sv.url == url {
			o.JobManager.Answered = sv.answered
		} else if a, ok := r.cachedJM(app, url, kind != observe.KindSession && !refresh); ok {
			// Its answer stands (a session's: the job list of this pass, or a recent one).
			if kind == observe.KindSession && a.session != nil {
				o.JobManager.Answered = a.session.answered
			} else {
				o.JobManager = a.view
			}
		} else if jm, err := jobmanager.New(url, r.jmHTTP); err == nil {
			// Its calls together (a job and its root exception) take at most one JobManagerTimeout.
			jctx, cancel := context.WithTimeout(ctx, r.opts.JobManagerTimeout)
			switch {
			case kind == observe.KindSession:
				_, err = jm.Config(jctx)
				o.JobManager.Answered = err == nil
			case prev.Flink.MultipleJobs:
				r.askJobs(jctx, jm, &o.JobManager)
			default:
				r.askJob(jctx, jm, prev.Flink.JobID, &o.JobManager)
			}
			cancel()
			if ctx.Err() == nil { // an answer cut short by the pass's end says nothing of the JobManager
				view := o.JobManager
				r.rememberJM(app, url, view.Answered, func(a *jmAnswer) { a.view, a.session = view, nil })
			}
		}
	}
	if kind == observe.KindSession {
		return observe.Session(prev, o, r.opts.SessionStopGrace)
	}
	defer func() {
		if next.State != "RUNNING" {
			next.Health = observe.Health{} // health is a running job's
		}
	}()
	switch {
	case !app.State.Terminal() || observe.Settled(kind, prev, o.Now):
	case prev.Flink.MultipleJobs:
		o.Archives = r.applicationArchives(ctx, app.ID)
	case ident.ValidFlinkJobID(prev.Flink.JobID) && !observe.FlinkEnded(prev.Flink.State):
		// The cluster ended before its job's end was seen: the archive tells how the job ended.
		if a := r.archive(ctx, path.Join(r.archiveDir(), prev.Flink.JobID), prev.Flink.JobID); a != nil {
			o.Archives = []observe.Archive{*a}
		}
	}
	return observe.Application(prev, o)
}

// lateArchives reads again the archives of application jobs that ended before their Flink job's end was seen,
// every pass until one appears or observe.ArchiveGrace has passed: a pass no longer lists such an application
// (YARN is asked only for the applications that have not ended), and the JobManager may write the archive, or
// it may become readable, only after YARN reports the application ended.
func (r *Reconciler) lateArchives(ctx context.Context) {
	now := r.opts.Now()
	for _, rec := range r.opts.Registry.List(func(rec *registry.Summary) bool {
		// Conditions of observe.AwaitsArchive that the summary holds, so that only the few records ended
		// within the grace are decoded.
		return rec.Kind == registry.KindJob && observe.YARNEnded(rec.YARNState) && now.Sub(rec.Since) < observe.ArchiveGrace
	}) {
		if !observe.AwaitsArchive(observe.KindJob, rec.Status, now) {
			continue
		}
		jobID := rec.Status.Flink.JobID
		if ctx.Err() != nil {
			return
		}
		if !ident.ValidFlinkJobID(jobID) {
			continue
		}
		if a := r.archive(ctx, path.Join(r.archiveDir(), jobID), jobID); a != nil {
			r.write(ctx, rec.ID, observe.KindJob, observe.WithArchive(rec.Status, *a), "")
		}
	}
}

// askJob asks a JobManager for one job (and the root exception of a failing one).
func (r *Reconciler) askJob(ctx context.Context, jm *jobmanager.Client, jobID string, view *observe.JobManager) {
	d, err := jm.Job(ctx, jobID)
	switch {
	case errors.Is(err, jobmanager.ErrNotFound):
		view.Answered = true // it does not know the job (yet)
	case err == nil:
		view.Answered = true
		view.Job = &observe.FlinkJob{ID: jobID, Name: d.Name, State: string(d.State)}
		if d.State == "FAILED" || d.State == "FAILING" {
			view.RootException, _ = jm.RootException(ctx, jobID)
		}
	}
}

// askJobs asks a JobManager for all its jobs.
func (r *Reconciler) askJobs(ctx context.Context, jm *jobmanager.Client, view *observe.JobManager) {
	list, err := jm.Jobs(ctx)
	if err != nil {
		return
	}
	view.Answered = true
	for _, o := range list {
		view.Jobs = append(view.Jobs, observe.FlinkJob{ID: o.ID, Name: o.Name, State: string(o.State)})
		if o.State == "FAILED" && view.RootException == "" {
			view.RootException, _ = jm.RootException(ctx, o.ID)
		}
	}
}

// maxArchiveSize bounds how much of a job archive is read.
const maxArchiveSize = 16 << 20

// readArchive reads a job archive; nil when there is none.
func (r *Reconciler) readArchive(ctx context.Context, name string) []byte {
	f, err := r.opts.Files.Open(ctx, name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.opts.Logger.WarnContext(ctx, "could not read a job archive", "path", name, "error", err)
		}
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxArchiveSize))
	if err != nil {
		r.opts.Logger.WarnContext(ctx, "could not read a job archive", "path", name, "error", err)
		return nil
	}
	return b
}

// archive reads what the archive at name says of an ended job; nil when there is none or it names no end.
func (r *Reconciler) archive(ctx context.Context, name, jobID string) *observe.Archive {
	b := r.readArchive(ctx, name)
	if b == nil {
		return nil
	}
	st, err := jobmanager.ArchivedJobStatus(b, jobID)
	if err != nil || !st.Terminal() {
		return nil
	}
	a := &observe.Archive{JobID: jobID, State: string(st)}
	a.Failure, _ = jobmanager.ArchivedRootException(b, jobID)
	return a
}

// applicationArchives reads the archives of every job of an application with several jobs (its JobManager
// archives them into a directory of the application's own).
func (r *Reconciler) applicationArchives(ctx context.Context, appID string) []observe.Archive {
	dir := path.Join(r.archiveDir(), appID)
	entries, err := r.opts.Files.ReadDir(ctx, dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.opts.Logger.WarnContext(ctx, "could not list job archives", "path", dir, "error", err)
		}
		return nil
	}
	var out []observe.Archive
	for _, e := range entries {
		if !ident.ValidFlinkJobID(e.Name) {
			continue
		}
		if a := r.archive(ctx, path.Join(dir, e.Name), e.Name); a != nil {
			out = append(out, *a)
		}
	}
	return out
}

// amURL is the JobManager's REST base of a running Flink application as YARN reports it (Flink registers its
// REST endpoint as the AM's RPC address), "" when it does not run.
func amURL(app *yarnclient.App) string {
	if app.State == yarnclient.StateRunning && app.AMRPCAddress != "" && app.AMRPCAddress != "N/A" {
		return "http://" + app.AMRPCAddress
	}
	return ""
}

// jobManagerURL returns the REST base of the JobManager of a running Flink application, "" when none runs.
//
// Only an address on the host of the application's current AM container (YARN's amHostHttpAddress) is taken,
// from YARN or from ZooKeeper: both name what the job itself registered or wrote (see onAMHost).
//
// For an application launched with HA and a gateway that follows leaders, it is the leader ZooKeeper
// names, when certain; the cluster is watched from its first observation and unwatched once it has ended.
// Without a certain leader it is the address YARN reports: also for good when the leader znode's ACL refuses
// the gateway (a cluster launched with high-availability.zookeeper.client.acl: creator, readable only by
// the SASL identity that wrote it; go-zookeeper has no SASL). While a new attempt starts the two may disagree:
// ZooKeeper keeps a dead JobManager's znode until its session expires, and the new JobManager may lead
// before YARN reports its attempt running. Then the leader is used only if it accepts connections (checked
// once per pair of addresses).
func (r *Reconciler) jobManagerURL(ctx context.Context, app *yarnclient.App) string {
	am := amURL(app)
	if am != "" && !r.onAMHost(ctx, app, am, "yarn") {
		am = ""
	}
	if r.opts.Leaders == nil || !app.HasTag(ident.TagHA) {
		return am
	}
	l, watched := r.opts.Leaders.Leader(app.ID)
	if !watched {
		if err := r.opts.Leaders.Watch(app.ID); err != nil {
			r.opts.Logger.Warn("cannot follow the JobManager leader in ZooKeeper", "applicationId", app.ID, "error", err)
		}
		l = r.firstLeader(ctx, app.ID)
	}
	if !l.Known || !l.Certain || l.Address == "" || l.Address == am || !r.onAMHost(ctx, app, l.Address, "zookeeper") {
		return am
	}
	pair := am + " " + l.Address
	r.mu.Lock()
	known := r.answered[app.ID] == pair
	r.mu.Unlock()
	if known && am != "" {
		return l.Address
	}
	if listening(ctx, l.Address) {
		r.mu.Lock()
		r.answered[app.ID] = pair
		r.mu.Unlock()
		return l.Address
	}
	return am
}

// firstReadWait bounds the wait for the first read of a leader znode just watched.
const firstReadWait = 2 * time.Second

// firstLeader waits (briefly) for the first read of a leader znode just watched, so that an instance that
// starts reconciling (a new leader, a restart) sees the same JobManager address as its predecessor did,
// instead of YARN's for one pass and the leader's the next — two writes of a record that did not change.
func (r *Reconciler) firstLeader(ctx context.Context, appID string) zk.JobManagerLeader {
	deadline := time.Now().Add(firstReadWait)
	for {
		l, _ := r.opts.Leaders.Leader(appID)
		if l.Certain || l.Err != nil || time.Now().After(deadline) {
			return l
		}
		select {
		case <-ctx.Done():
			return l
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// forgetLeader stops following the JobManager leader of an application that has ended.
func (r *Reconciler) forgetLeader(appID string) {
	r.mu.Lock()
	delete(r.refused, appID)
	r.mu.Unlock()
	if r.opts.Leaders == nil {
		return
	}
	if _, watched := r.opts.Leaders.Leader(appID); watched {
		r.opts.Leaders.Unwatch(appID)
	}
	r.mu.Lock()
	delete(r.answered, appID)
	r.mu.Unlock()
}

// jobRecoveryGrace is how long after a JobManager became leader a job it does not know may still be
// recovering from the HA stores.
const jobRecoveryGrace = 2 * time.Minute

// recovering reports whether the JobManager of an HA application may still be recovering its jobs.
func (r *Reconciler) recovering(app *yarnclient.App) bool {
	if r.opts.Leaders == nil || !app.HasTag(ident.TagHA) {
		return false
	}
	l, ok := r.opts.Leaders.Leader(app.ID)
	if errors.Is(l.Err, zk.ErrNoAuth) {
		// The leader znode's ACL keeps the gateway out (Flink's high-availability.zookeeper.client.acl:
		// creator): ZooKeeper will never say, so the JobManager's own answers decide.
		return false
	}
	return ok && (!l.Known || !l.Certain || r.opts.Now().Sub(l.Since) < jobRecoveryGrace)
}

// leaderProbeTimeout bounds the check that a leader ZooKeeper names is alive.
const leaderProbeTimeout = time.Second

// listening reports whether something accepts TCP connections at the REST base URL base. A JobManager that
// died refuses them at once; a new one busy starting up accepts them before it answers its first requests.
func listening(ctx context.Context, base string) bool {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return false
	}
	d := net.Dialer{Timeout: leaderProbeTimeout}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
