package reconcile

import (
	"context"
	"path"
	"sync"
	"time"

	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
)

// sessionView is what one session's JobManager answered in a pass: every job it lists, by Flink job id.
type sessionView struct {
	url        string
	answered   bool
	jobs       map[string]jobmanager.JobOverview
	recovering bool
	cached     bool      // an answer of an earlier pass: a job it does not list may be newer than it
	at         time.Time // when it was asked
}

// reconcileSessionJobs refreshes the jobs of sessions: one job listing per running session whose answer is
// due (JobManagerRefresh; after a back-off when it did not answer), sessions asked Parallelism at a time,
// jobs listed without a record adopted, then every session job record that has not settled observed. In
// a pass that did not list every application (full false), records whose session was not listed wait for
// the next full one.
func (r *Reconciler) reconcileSessionJobs(ctx context.Context, sessions []*yarnclient.App, listed map[string]*yarnclient.App, full bool) {
	views := make(map[string]*sessionView, len(sessions))
	var mu sync.Mutex
	r.each(ctx, r.ordered(sessions), func(ctx context.Context, app *yarnclient.App) {
		if app.State.Terminal() || !r.claim(ctx, app.ID, true) {
			return
		}
		v := r.sessionJobs(ctx, app)
		r.release(app.ID)
		if v != nil {
			mu.Lock()
			views[app.ID] = v
			mu.Unlock()
		}
	})
	r.mu.Lock()
	r.views = views
	r.mu.Unlock()
	for appID, v := range views { // views is not written from here on
		for jid, o := range v.jobs {
			id := ident.SessionJobID(appID, jid)
			if _, ok := r.opts.Registry.Lookup(id); !ok {
				r.adoptSessionJob(ctx, listed[appID], id, o)
			}
		}
	}
	// The records of each session in turn, sessions Parallelism at a time: a record's observation may ask its
	// JobManager (a root exception, its health) or read an archive, and one session's slow JobManager must
	// not hold up the others' jobs.
	bySession := map[string][]registry.Record{}
	defer func() { r.keepSessionJobs(bySession, listed) }()
	for _, rec := range r.hotList(func(rec *registry.Summary) bool {
		if rec.Kind != registry.KindSessionJob || rec.Launcher != "" || rec.State == StateLaunchFailed {
			return false
		}
		_, ok := listed[rec.ApplicationID]
		if !full && !ok {
			return false
		}
		return !(ok && observe.SessionJobSettled(rec.State, rec.FailureKnown))
	}) {
		bySession[rec.ApplicationID] = append(bySession[rec.ApplicationID], rec)
	}
	groups := make([]string, 0, len(bySession))
	for id := range bySession {
		groups = append(groups, id)
	}
	eachOf(ctx, r.opts.Parallelism, groups, func(ctx context.Context, appID string) {
		if !r.claim(ctx, appID, true) {
			return
		}
		defer r.release(appID)
		r.observeSessionGroup(ctx, listed[appID], appID, views[appID], bySession[appID])
	})
}

// observeSessionGroup brings the records of one session's jobs up to date, the session claimed. app is the
// session's report (nil when YARN did not list it), v what its JobManager listed in this pass (nil when not
// asked), recs the records as the pass found them before it claimed the session: each is read again, and
// the refresher's job list taken when newer, since the refresher may have observed the session meanwhile.
func (r *Reconciler) observeSessionGroup(ctx context.Context, app *yarnclient.App, appID string, v *sessionView, recs []registry.Record) {
	v = r.newestView(appID, v) // read only: this session's view is this goroutine's alone
	for _, found := range recs {
		if ctx.Err() != nil {
			return
		}
		rec, ok := r.hotRecord(found.ID)
		if !ok || rec.ApplicationID != appID || rec.Launcher != "" || rec.State == StateLaunchFailed {
			continue // dropped, or a launch under way writes it
		}
		if rec.Terminal && (app == nil || observe.Settled(observe.KindSessionJob, rec.Status, r.opts.Now())) {
			if app == nil {
				r.missing(ctx, rec)
			}
			continue
		}
		if _, known := v.job(rec.Status.Flink.JobID); app != nil && v != nil && v.cached && v.answered && !known {
			// An earlier answer does not list the job (submitted since?): only a new one may say the
			// JobManager does not know it.
			r.forgetJM(app.ID)
			if fresh := r.sessionJobs(ctx, app); fresh != nil {
				v = fresh
			}
		}
		r.observeSessionJobRecord(ctx, rec, app, v, true)
	}
}

// observeSessionJobRecord brings the record of a session job up to date from what its session's JobManager
// listed (v) and YARN's report of the session (app); health: the pass's observation, which checks the job's
// health when due (the refresher's only drops the health of a job that no longer runs).
func (r *Reconciler) observeSessionJobRecord(ctx context.Context, rec registry.Record, app *yarnclient.App, v *sessionView, health bool) {
	next, actions := r.observeSessionJob(ctx, rec.Status, app, v)
	if health {
		r.assessHealth(ctx, rec.ID, rec.ApplicationID, &next)
	} else {
		r.healthOnlyIfRunning(rec.ID, &next)
	}
	r.writeOver(ctx, &rec, observe.KindSessionJob, next, "")
	r.act(ctx, rec.ID, observe.KindSessionJob, next, actions)
}

// newestView is v, or the session's JobManager answer kept since, when the refresher asked it after v was
// (the session is claimed: no answer comes meanwhile; a newer answer may be another JobManager's, the leader
// since).
func (r *Reconciler) newestView(appID string, v *sessionView) *sessionView {
	if v == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.jms[appID]; a != nil && a.session != nil && a.session.at.After(v.at) {
		n := *a.session
		n.recovering, n.cached = v.recovering, true
		return &n
	}
	return v
}

// keepSessionJobs keeps, for the refresher, the ids of the session jobs of each listed session that a pass
// observed (those submitted since wait for the next pass).
func (r *Reconciler) keepSessionJobs(bySession map[string][]registry.Record, listed map[string]*yarnclient.App) {
	ids := make(map[string][]string, len(bySession))
	for appID, recs := range bySession {
		if _, ok := listed[appID]; !ok {
			continue
		}
		for i := range recs {
			ids[appID] = append(ids[appID], recs[i].ID)
		}
	}
	r.mu.Lock()
	r.sessionJobIDs = ids
	r.mu.Unlock()
}

// sessionJobs is what a running session's JobManager lists: its last answer while that stands, else a
// new one (nil when no JobManager runs).
func (r *Reconciler) sessionJobs(ctx context.Context, app *yarnclient.App) *sessionView {
	url := r.jobManagerURL(ctx, app)
	if url == "" {
		return nil
	}
	if a, ok := r.cachedJM(app, url, false); ok && a.session != nil {
		v := *a.session
		v.recovering, v.cached = r.recovering(app), true
		return &v
	}
	v := &sessionView{url: url, recovering: r.recovering(app), at: r.opts.Now()}
	jm, err := jobmanager.New(url, r.jmHTTP)
	if err != nil {
		return v
	}
	list, err := jm.Jobs(ctx)
	if ctx.Err() != nil {
		return v // cut short by the pass's end: nothing learnt
	}
	if err == nil {
		v.answered, v.jobs = true, make(map[string]jobmanager.JobOverview, len(list))
		for _, o := range list {
			if ident.ValidFlinkJobID(o.ID) {
				v.jobs[o.ID] = o
			}
		}
	}
	keep := *v
	r.rememberJM(app, url, v.answered, func(a *jmAnswer) { a.session, a.view = &keep, observe.JobManager{URL: url, Answered: keep.answered} })
	return v
}

// job returns what the view lists of a job (false when it does not, or v is nil).
func (v *sessionView) job(id string) (jobmanager.JobOverview, bool) {
	if v == nil {
		return jobmanager.JobOverview{}, false
	}
	o, ok := v.jobs[id]
	return o, ok
}

// observeSessionJob gathers what there is to see of one session job and derives its status. app is nil when
// YARN no longer lists the session; v is nil when its JobManager was not asked (no JobManager runs).
func (r *Reconciler) observeSessionJob(ctx context.Context, prev observe.Status, app *yarnclient.App, v *sessionView) (observe.Status, []observe.Action) {
	o := observe.Observation{Now: r.opts.Now()}
	jid := prev.Flink.JobID
	needArchive := app == nil || app.State.Terminal()
	if app != nil {
		o.Report = reportOf(app)
	}
	if v != nil {
		o.JobManager = observe.JobManager{URL: v.url, Answered: v.answered, Recovering: v.recovering}
		if ov, ok := v.jobs[jid]; ok {
			o.JobManager.Job = &observe.FlinkJob{ID: jid, Name: ov.Name, State: string(ov.State)}
			if (ov.State == "FAILED" || ov.State == "FAILING") && prev.Flink.Failure == "" {
				if jm, err := jobmanager.New(v.url, r.jmHTTP); err == nil {
					o.JobManager.RootException, _ = jm.RootException(ctx, jid)
				}
			}
		} else if v.answered {
			needArchive = true
		}
	}
	if needArchive {
		if a := r.archive(ctx, path.Join(r.archiveDir(), jid), jid); a != nil {
			o.Archives = []observe.Archive{*a}
		}
	}
	return observe.SessionJob(prev, o, app == nil)
}

// adoptSessionJob records a job a session's JobManager lists that has no record (submitted by a gateway
// that stopped before writing it, or by hand).
func (r *Reconciler) adoptSessionJob(ctx context.Context, session *yarnclient.App, id string, o jobmanager.JobOverview) {
	if session == nil {
		return
	}
	prev := observe.Status{YARN: observe.YARN{ApplicationID: session.ID},
		Flink: observe.Flink{JobID: o.ID, Version: ident.TagValue(session.ApplicationTags, ident.TagFlinkPrefix)}}
	view := &sessionView{url: "", answered: true, jobs: map[string]jobmanager.JobOverview{o.ID: o}}
	view.url = amURL(session)
	st, _ := r.observeSessionJob(ctx, prev, session, view)
	r.assessHealth(ctx, id, session.ID, &st)
	rec := registry.Record{ID: id, Kind: registry.KindSessionJob, ApplicationID: session.ID, Owner: session.User,
		Name: o.Name, Target: "session", CreatedAt: time.UnixMilli(o.StartTime).UTC()}
	if o.StartTime <= 0 {
		rec.CreatedAt = time.Time{}
	}
	rec.SetStatus(st, "adopted")
	if _, err := r.opts.Registry.Create(ctx, rec); err == nil {
		r.opts.Metrics.wrote(observe.KindSessionJob)
		r.opts.Logger.Info("adopted a session job without a record", "id", id, "state", st.State)
	}
}
