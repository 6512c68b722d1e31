package reconcile

import (
	"context"
	"path"
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
}

// reconcileSessionJobs refreshes the jobs of sessions: one job listing per running session, jobs listed
// without a record adopted, then every session job record that has not settled observed.
func (r *Reconciler) reconcileSessionJobs(ctx context.Context, sessions []*yarnclient.App, listed map[string]*yarnclient.App) {
	views := make(map[string]*sessionView, len(sessions))
	for _, app := range sessions {
		if app.State.Terminal() {
			continue
		}
		url := r.jobManagerURL(ctx, app)
		if url == "" {
			continue
		}
		v := &sessionView{url: url, recovering: r.recovering(app)}
		views[app.ID] = v
		jm, err := jobmanager.New(url, r.jmHTTP)
		if err != nil {
			continue
		}
		list, err := jm.Jobs(ctx)
		if err != nil {
			continue // a session that does not answer lists no jobs
		}
		v.answered, v.jobs = true, make(map[string]jobmanager.JobOverview, len(list))
		for _, o := range list {
			if ident.ValidFlinkJobID(o.ID) {
				v.jobs[o.ID] = o
			}
		}
	}
	for appID, v := range views {
		for jid, o := range v.jobs {
			id := ident.SessionJobID(appID, jid)
			if _, ok := r.opts.Registry.Cached(id); !ok {
				r.adoptSessionJob(ctx, listed[appID], id, o)
			}
		}
	}
	for _, rec := range r.opts.Registry.List(func(rec *registry.Record) bool {
		return rec.Kind == registry.KindSessionJob && rec.Launcher == "" && rec.State != StateLaunchFailed
	}) {
		app, ok := listed[rec.ApplicationID]
		if rec.Terminal && (!ok || observe.Settled(observe.KindSessionJob, rec.Status)) {
			if !ok {
				r.missing(ctx, rec)
			}
			continue
		}
		next, actions := r.observeSessionJob(ctx, rec.Status, app, views[rec.ApplicationID])
		r.assessHealth(ctx, rec.ID, &next)
		r.write(ctx, rec.ID, observe.KindSessionJob, next, "")
		r.act(ctx, rec.ID, observe.KindSessionJob, next, actions)
	}
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
	r.assessHealth(ctx, id, &st)
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
