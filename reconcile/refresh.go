package reconcile

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
)

// Between passes, JobManager answers are refreshed as they come due.
//
// A pass asks the JobManagers whose answer is due when it reaches their application. At scale passes run
// back to back (1.5–2 s at 10⁴ running jobs), and an answer that came due just after a pass began waited for
// the next pass and for its place in it: what only a JobManager tells (a restart, a failure, a canceled
// session job) showed up to a refresh period and two passes late. The refresher asks each running
// application job's JobManager, and each session's job list, as soon as the answer is due (within
// refreshTick), Parallelism at a time beside the passes, and writes what changed at once: the application
// job's record, or the records of the session jobs the last pass observed in that session. Passes then find
// those answers fresh, are shorter, and what YARN reports shows sooner too. Session records, session jobs
// submitted since the last pass, ended jobs, health checks and adoption stay with the passes.
//
// One observation of an application (an application job, or a session's jobs) at a time: the pass waits for
// the refresher's (an application job's bounded by the JobManager timeout, a session's by twice that), the
// refresher passes over an application the pass observes (claim), and the pass reads a session's job records
// again once it has claimed the session and takes the job list the refresher got after its own (newestView),
// so that an observation made under an older report or answer is never written over a newer one. The
// refresher takes the application's report from the newest list (latest), only while that list is recent
// and this instance leads, and only for records that have not ended and saw that same report.

// refreshTick is how often the refresher looks for answers that came due.
const refreshTick = 100 * time.Millisecond

// refreshLoop runs the refresher while this instance leads, until ctx ends; it returns once the
// observations it started have.
func (r *Reconciler) refreshLoop(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, r.opts.Parallelism)
	tick := time.NewTicker(refreshTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !r.Leading() || !r.latestFresh() {
			r.mu.Lock()
			clear(r.latest) // another instance observes meanwhile, or the lists fail: wait for the next list
			r.mu.Unlock()
			continue
		}
		for _, id := range r.dueApplications() {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			if !r.Leading() {
				<-slots
				break
			}
			if !r.claim(ctx, id, false) {
				<-slots
				continue
			}
			wg.Go(func() {
				defer func() { <-slots }()
				defer r.release(id)
				r.refresh(ctx, id)
			})
		}
	}
}

// dueApplications lists the running application jobs and sessions whose JobManager answer is due under the
// report of the newest list (an answer under another report is for the pass to ask), soonest due first,
// leaving out those observed now and those whose JobManager did not answer last time (a pass asks them
// again first, so that their timeout overlaps the rest of it).
func (r *Reconciler) dueApplications() []string {
	now := r.opts.Now()
	type due struct {
		id string
		at time.Time
	}
	var ds []due
	r.mu.Lock()
	for id, a := range r.jms {
		if a.failures > 0 || !r.dueLocked(a, now) {
			continue
		}
		if _, busy := r.observing[id]; busy {
			continue
		}
		if app := r.latest[id]; app != nil && a.report == reportKey(app) {
			ds = append(ds, due{id, a.next})
		}
	}
	r.mu.Unlock()
	slices.SortFunc(ds, func(a, b due) int { return a.at.Compare(b.at) })
	ids := make([]string, len(ds))
	for i := range ds {
		ids[i] = ds[i].id
	}
	return ids
}

// refresh observes one application job, or the jobs of one session, whose JobManager answer is due (the
// caller claimed it), if it still is: the pass may have asked it meanwhile, or seen its application end.
func (r *Reconciler) refresh(ctx context.Context, appID string) {
	r.mu.Lock()
	app, a := r.latest[appID], r.jms[appID]
	due := app != nil && a != nil && a.report == reportKey(app) && r.dueLocked(a, r.opts.Now())
	r.mu.Unlock()
	if !due || !r.Leading() { // latest holds no application that ended
		return
	}
	r.opts.Metrics.refreshed()
	if kindOf(app) == observe.KindJob {
		r.observeListed(ctx, app, true)
		return
	}
	// A deadline, as the session's claim holds back the pass: its job list, then a root exception per
	// failing job at most.
	ctx, cancel := context.WithTimeout(ctx, 2*r.opts.JobManagerTimeout)
	defer cancel()
	r.refreshSession(ctx, app)
}

// latestMaxAge is how old the newest list may be for the refresher to observe under its reports (at least;
// four intervals when longer): while lists fail, the passes' errors tell, and the refresher waits.
const latestMaxAge = 10 * time.Second

// latestFresh reports whether the newest list of the applications not ended is recent enough for the
// refresher to observe under its reports.
func (r *Reconciler) latestFresh() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.lastActive.IsZero() && r.opts.Now().Sub(r.lastActive) <= max(latestMaxAge, 4*r.opts.Interval)
}

// refreshable reports whether the refresher observes the record of an application job (known: whether it
// has one): not a launch under way or reported as failed, not one an upgrade moved on, not one that ended,
// and only while the record saw YARN's report as the newest list has it (an observation since, Observe's
// on another instance after a cancel, may have seen more: the next pass sorts it out).
func (r *Reconciler) refreshable(known bool, rec *registry.Record, app *yarnclient.App) bool {
	return known && rec.ApplicationID == app.ID && rec.Launcher == "" && rec.State != StateLaunchFailed && !rec.Terminal &&
		rec.Status.YARN.State == string(app.State) && rec.Status.YARN.FinalStatus == string(app.FinalStatus)
}

// postpone makes an application's JobManager answer due again only after a refresh period: the refresher
// found nothing for it to observe now.
func (r *Reconciler) postpone(appID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.jms[appID]; a != nil {
		a.next = r.opts.Now().Add(r.opts.JobManagerRefresh)
	}
}

// refreshSession asks a session's JobManager for its job list and brings the records of the session jobs the
// last pass observed up to date: those that have not ended and that the list names (an ended one, or one it
// does not name, whose end its archive tells, is the passes'; so is the session's own record).
func (r *Reconciler) refreshSession(ctx context.Context, app *yarnclient.App) {
	v := r.sessionJobs(ctx, app)
	if v == nil || !v.answered {
		return
	}
	r.mu.Lock()
	ids := r.sessionJobIDs[app.ID]
	r.mu.Unlock()
	for _, id := range ids {
		rec, ok := r.hotRecord(id)
		if !ok || rec.Terminal || rec.Launcher != "" || rec.State == StateLaunchFailed || rec.ApplicationID != app.ID {
			continue
		}
		if _, listed := v.job(rec.Status.Flink.JobID); !listed {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		r.observeSessionJobRecord(ctx, rec, app, v, false)
	}
}

// claim marks an application as observed now, so that its observations do not overlap: it waits (wait
// true) for one under way to end, or reports false at once; false also when ctx ends first.
func (r *Reconciler) claim(ctx context.Context, appID string, wait bool) bool {
	for {
		r.mu.Lock()
		done, busy := r.observing[appID]
		if !busy {
			r.observing[appID] = make(chan struct{})
			r.mu.Unlock()
			return true
		}
		r.mu.Unlock()
		if !wait {
			return false
		}
		select {
		case <-done:
		case <-ctx.Done():
			return false
		}
	}
}

// release ends the observation of an application that claim began.
func (r *Reconciler) release(appID string) {
	r.mu.Lock()
	done := r.observing[appID]
	delete(r.observing, appID)
	r.mu.Unlock()
	close(done)
}

// setLatestLocked keeps the reports of a list for the refresher: after a list of the applications not ended
// (activeList), those, by id, into the slice kept as r.active (which holds none that ended); after a list of
// those that ended, the reports kept without them. r.mu held.
func (r *Reconciler) setLatestLocked(apps []yarnclient.App, activeList bool) {
	if activeList {
		r.latest = make(map[string]*yarnclient.App, len(r.active))
		for i := range r.active {
			r.latest[r.active[i].ID] = &r.active[i]
		}
		return
	}
	for i := range apps {
		if apps[i].State.Terminal() {
			delete(r.latest, apps[i].ID)
		}
	}
}
