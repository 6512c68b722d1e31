package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sync"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
)

// reconcileLoop reconciles the records with YARN every interval while this instance leads, and collects
// unreferenced staging files every GCInterval.
func (r *RecordedJobs) reconcileLoop(ctx context.Context) {
	defer close(r.done)
	tick := time.NewTicker(r.opts.Interval)
	defer tick.Stop()
	var lastGC time.Time
	for {
		if r.opts.Leadership == nil || r.opts.Leadership.IsLeader() {
			if err := r.reconcile(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("reconciliation failed; retrying next interval", "error", err)
			}
			if time.Since(lastGC) >= r.opts.GCInterval && ctx.Err() == nil {
				r.collect(ctx)
				lastGC = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reconcileParallelism bounds the applications described at once (each may ask its JobManager).
const reconcileParallelism = 8

// reconcile is one pass: a single ResourceManager list call for every application carrying the tag of this
// gateway installation (its staging root; instances sharing a registry share it), then: records of applications brought up to date, applications without a record adopted, the
// applications of failed launches killed, the jobs of sessions refreshed from their JobManagers, records
// whose application vanished marked LOST, and terminal records dropped once YARN has forgotten them for
// longer than the retention.
func (r *RecordedJobs) reconcile(ctx context.Context) error {
	began := time.Now()
	home := r.jobs.homeTag()
	apps, err := r.jobs.opts.RM.Apps(ctx, yarnclient.AppsFilter{ApplicationTags: []string{home}})
	if err != nil {
		return fmt.Errorf("list applications: %w", err)
	}
	listed := make(map[string]*yarnclient.App, len(apps))
	var jobApps, sessionApps []*yarnclient.App
	for i := range apps {
		app := &apps[i]
		if !app.HasTag(tagGateway) || !app.HasTag(home) {
			continue
		}
		listed[app.ID] = app
		if app.HasTag(tagKindSession) {
			sessionApps = append(sessionApps, app)
		} else {
			jobApps = append(jobApps, app)
		}
	}
	// Session jobs are written before their sessions, so that whoever sees a session ended sees its jobs'
	// outcome too.
	r.reconcileApps(ctx, jobApps)
	r.reconcileSessionJobs(ctx, apps, listed)
	r.reconcileApps(ctx, sessionApps)
	for _, rec := range r.reg.List(nil) {
		if rec.Kind == registry.KindSessionJob {
			continue
		}
		if _, ok := listed[rec.ApplicationID]; !ok {
			r.missing(ctx, rec)
		} else if !rec.GoneAt.IsZero() {
			r.update(ctx, rec.ID, func(rec *registry.Record) bool {
				rec.GoneAt = time.Time{}
				return true
			})
		}
	}
	r.mu.Lock()
	r.reconciled = time.Now()
	r.mu.Unlock()
	r.jobs.opts.Metrics.observeReconcile(len(listed), time.Since(began))
	return nil
}

// reconcileApps runs reconcileApp for each application, a few at a time.
func (r *RecordedJobs) reconcileApps(ctx context.Context, apps []*yarnclient.App) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, reconcileParallelism)
	for _, app := range apps {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r.reconcileApp(ctx, app)
		})
	}
	wg.Wait()
}

// reconcileApp brings the record of one listed application up to date, or adopts the application.
func (r *RecordedJobs) reconcileApp(ctx context.Context, app *yarnclient.App) {
	rec, known := r.reg.Cached(app.ID)
	if known && rec.State == stateLaunchFailed {
		if !app.State.Terminal() {
			r.log.Warn("killing the application of a launch reported as failed", "applicationId", app.ID)
			if _, err := r.jobs.opts.RM.Kill(ctx, app.ID, "yarngate: the launch was reported as failed"); err != nil {
				r.log.Warn("could not kill the application of a failed launch", "applicationId", app.ID, "error", err)
			}
		}
		return
	}
	if known && rec.Terminal && yarnEnded(rec.View) && !awaitingFailure(rec.View) {
		return // final on both sides: nothing more to learn
	}
	if known && rec.Launcher != "" {
		return // its launch is under way
	}
	var view any
	kind := registry.KindJob
	if app.HasTag(tagKindSession) {
		kind = registry.KindSession
		sess := r.jobs.describeSession(ctx, app)
		if known && rec.State == string(api.SessionStopping) && !sess.State.Terminal() {
			sess.State = api.SessionStopping // stopped through another instance (or an earlier process)
			r.resumeStop(ctx, rec, app)
		}
		view = sess
	} else {
		job, err := r.jobs.describe(ctx, app)
		if err != nil {
			r.log.Debug("could not describe an application", "applicationId", app.ID, "error", err)
			return
		}
		view = job
	}
	if !known {
		r.adopt(ctx, app.ID, kind, view)
		return
	}
	if err := r.record(ctx, app.ID, kind, view); err != nil {
		r.log.Warn("could not update a record", "id", app.ID, "error", err)
	}
}

// resumeStop kills a session that has been STOPPING for longer than the stop grace (plus a margin), for
// the instance that began the stop may be gone.
func (r *RecordedJobs) resumeStop(ctx context.Context, rec registry.Record, app *yarnclient.App) {
	since := rec.UpdatedAt
	if n := len(rec.History); n > 0 {
		since = rec.History[n-1].At
	}
	if time.Since(since) < r.jobs.opts.SessionStopGrace+time.Minute {
		return
	}
	r.log.Warn("a session stop did not complete; killing its application", "applicationId", app.ID)
	if _, err := r.jobs.opts.RM.Kill(ctx, app.ID, "yarngate: session stop did not complete"); err != nil {
		r.log.Warn("could not kill a session", "applicationId", app.ID, "error", err)
	}
}

// reconcileSessionJobs refreshes the jobs of sessions: those the running sessions' JobManagers list
// (adopting jobs submitted without a record), then every other session job record not yet ended.
func (r *RecordedJobs) reconcileSessionJobs(ctx context.Context, apps []yarnclient.App, listed map[string]*yarnclient.App) {
	seen := map[string]bool{}
	for _, job := range r.jobs.sessionJobs(ctx, apps) {
		seen[job.ID] = true
		if rec, ok := r.reg.Cached(job.ID); ok && rec.Launcher != "" {
			continue
		}
		if err := r.record(ctx, job.ID, registry.KindSessionJob, job); err != nil {
			r.log.Warn("could not update a record", "id", job.ID, "error", err)
		}
	}
	for _, rec := range r.reg.List(func(rec *registry.Record) bool {
		return rec.Kind == registry.KindSessionJob && !seen[rec.ID] && visible(rec)
	}) {
		app, ok := listed[rec.ApplicationID]
		if rec.Terminal {
			if !ok {
				r.missing(ctx, rec)
			}
			continue
		}
		var readErr error
		if !ok {
			readErr = yarnclient.ErrNotFound
		}
		r.jobs.knowSessionJob(rec)
		job, err := r.jobs.describeSessionJob(ctx, rec.ID, app, readErr)
		if err != nil {
			r.log.Debug("could not describe a session job", "id", rec.ID, "error", err)
			continue
		}
		if err := r.record(ctx, rec.ID, registry.KindSessionJob, job); err != nil {
			r.log.Warn("could not update a record", "id", rec.ID, "error", err)
		}
	}
}

// missing handles a record whose application YARN does not list: a record not ended is LOST once YARN
// confirms it does not know the application (after LostGrace); an ended one is dropped after the
// retention.
func (r *RecordedJobs) missing(ctx context.Context, rec registry.Record) {
	now := time.Now()
	if rec.Terminal || rec.State == stateLaunchFailed {
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
	app, err := r.jobs.opts.RM.App(ctx, rec.ApplicationID)
	if err == nil {
		r.reconcileApp(ctx, app) // listed late
		return
	}
	if !errors.Is(err, yarnclient.ErrNotFound) {
		return
	}
	reason := fmt.Sprintf("YARN no longer knows application %s although it had not ended "+
		"(the ResourceManager lost it, for example after a restart without recovery)", rec.ApplicationID)
	r.log.Warn("record lost its application", "id", rec.ID, "applicationId", rec.ApplicationID)
	r.update(ctx, rec.ID, func(rec *registry.Record) bool {
		if rec.Terminal {
			return false
		}
		rec.View = lostView(rec.View, reason)
		rec.SetState(string(api.StateLost), true, now, reason)
		rec.GoneAt = now.UTC()
		return true
	})
}

// lostView marks an API object LOST: state, terminal, no JobManager links, the reason in the YARN
// diagnostics.
func lostView(view json.RawMessage, reason string) json.RawMessage {
	var m map[string]any
	if json.Unmarshal(view, &m) != nil || m == nil {
		m = map[string]any{}
	}
	m["state"] = string(api.StateLost)
	if _, ok := m["terminal"]; ok {
		m["terminal"] = true
	}
	if links, ok := m["links"].(map[string]any); ok {
		links["flinkUi"], links["jobManager"] = nil, nil
	}
	if y, ok := m["yarn"].(map[string]any); ok {
		y["diagnostics"] = reason
	}
	b, err := json.Marshal(m)
	if err != nil {
		return view
	}
	return b
}

// update applies change to a record, logging failures (the next pass tries again).
func (r *RecordedJobs) update(ctx context.Context, id string, change func(*registry.Record) bool) {
	if _, err := r.reg.Update(ctx, id, func(rec *registry.Record) (bool, error) { return change(rec), nil }); err != nil {
		r.log.Warn("could not update a record", "id", id, "error", err)
	}
}

// drop removes a record after its retention, with the files it owns and its idempotency key.
func (r *RecordedJobs) drop(ctx context.Context, rec registry.Record) {
	for _, p := range r.filesOf(rec) {
		if err := r.jobs.opts.Files.RemoveAll(ctx, p); err != nil {
			r.log.Warn("could not remove the files of an expired record", "id", rec.ID, "path", p, "error", err)
			return
		}
	}
	if rec.KeyHash != "" {
		if err := r.reg.ReleaseKey(ctx, rec.KeyHash); err != nil {
			r.log.Warn("could not release the idempotency key of an expired record", "id", rec.ID, "error", err)
			return
		}
	}
	if err := r.reg.Delete(ctx, rec); err != nil {
		r.log.Warn("could not drop an expired record", "id", rec.ID, "error", err)
		return
	}
	r.log.Info("dropped an expired record", "id", rec.ID, "state", rec.State, "goneAt", rec.GoneAt)
}

// filesOf lists the HDFS paths a record owns: its launch files and HA data (for applications) and the
// archive of its Flink job.
func (r *RecordedJobs) filesOf(rec registry.Record) []string {
	root := r.jobs.opts.StagingRoot
	var out []string
	if rec.Kind != registry.KindSessionJob {
		out = append(out, path.Join(root, ".flink", rec.ApplicationID))
		if ha := r.jobs.haDir(); ha != "" {
			out = append(out, path.Join(ha, rec.ApplicationID))
		}
	}
	var v struct {
		Flink struct {
			JobID string `json:"jobId"`
		} `json:"flink"`
	}
	if json.Unmarshal(rec.View, &v) == nil && validFlinkJobID(v.Flink.JobID) {
		out = append(out, path.Join(r.jobs.archiveDir(), v.Flink.JobID))
	}
	return append(out, rec.Files...)
}

// awaitingFailure reports whether an API object is a failed job whose failure is still being looked for
// (in the job archive or the JobManager log).
func awaitingFailure(view json.RawMessage) bool {
	var v struct {
		State string `json:"state"`
		Flink *struct {
			Failure *string `json:"failure"`
		} `json:"flink"`
	}
	return json.Unmarshal(view, &v) == nil && v.State == string(api.StateFailed) && v.Flink != nil && v.Flink.Failure == nil
}

// yarnEnded reports whether an API object shows YARN's application ended.
func yarnEnded(view json.RawMessage) bool {
	var v struct {
		YARN struct {
			State string `json:"state"`
		} `json:"yarn"`
	}
	return json.Unmarshal(view, &v) == nil && yarnclient.AppState(v.YARN.State).Terminal()
}

// gcMinAge protects files younger than this from the garbage collection: a launch writes its files before
// its application and record exist.
const gcMinAge = 15 * time.Minute

// collect removes staging files nothing references: launch files and HA data of applications that have
// ended or that no record and no running application names, and job archives without a record older than
// the retention. Files in use are never removed: a live record, a running application, or youth protects
// them.
func (r *RecordedJobs) collect(ctx context.Context) {
	inUse := map[string]bool{}
	for _, rec := range r.reg.List(nil) {
		if !rec.Terminal || !yarnEnded(rec.View) {
			inUse[rec.ApplicationID] = true
		}
	}
	removed := 0
	for _, dir := range []string{path.Join(r.jobs.opts.StagingRoot, ".flink"), r.jobs.haDir()} {
		if dir == "" {
			continue
		}
		removed += r.collectDir(ctx, dir, gcMinAge, func(name string) bool {
			return inUse[name] || !yarnclient.ValidApplicationID(name) // only per-application directories
		})
	}
	archived := map[string]bool{}
	for _, rec := range r.reg.List(nil) {
		for _, p := range r.filesOf(rec) {
			archived[p] = true
		}
	}
	removed += r.collectDir(ctx, r.jobs.archiveDir(), max(r.opts.Retention, gcMinAge), func(name string) bool {
		return archived[path.Join(r.jobs.archiveDir(), name)] || !validFlinkJobID(name) // only job archives
	})
	if removed > 0 {
		r.log.Info("removed unreferenced staging files", "count", removed)
	}
}

// collectDir removes the entries of dir older than minAge that keep does not claim.
func (r *RecordedJobs) collectDir(ctx context.Context, dir string, minAge time.Duration, keep func(string) bool) int {
	entries, err := r.jobs.opts.Files.ReadDir(ctx, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		r.log.Warn("could not list staging files", "dir", dir, "error", err)
		return 0
	}
	n := 0
	for _, e := range entries {
		if keep(e.Name) || time.Since(e.ModTime) < minAge {
			continue
		}
		// An application that still runs may not have a record yet (launched by an older gateway).
		if yarnclient.ValidApplicationID(e.Name) {
			if app, err := r.jobs.opts.RM.App(ctx, e.Name); err == nil && !app.State.Terminal() {
				continue
			} else if err != nil && !errors.Is(err, yarnclient.ErrNotFound) {
				continue
			}
		}
		if err := r.jobs.opts.Files.RemoveAll(ctx, path.Join(dir, e.Name)); err != nil {
			r.log.Warn("could not remove an unreferenced staging file", "path", path.Join(dir, e.Name), "error", err)
			continue
		}
		n++
	}
	return n
}
