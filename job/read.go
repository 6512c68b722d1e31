package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/registry"
)

// Job returns a job from its record. Reads cost no cluster call and change nothing: the reconciler keeps
// records true (and adopts applications launched without one).
func (s *Service) Job(ctx context.Context, id string) (api.Job, error) {
	rec, err := s.jobRecord(ctx, id)
	if err != nil {
		return api.Job{}, err
	}
	return s.renderJob(rec), nil
}

// jobRecord reads the record of a job (application or session job).
func (s *Service) jobRecord(ctx context.Context, id string) (registry.Record, error) {
	if !ident.ValidJobID(id) {
		return registry.Record{}, fmt.Errorf("%w: %q is not a job id", ErrJobNotFound, id)
	}
	rec, err := s.opts.Registry.Get(ctx, id)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return registry.Record{}, fmt.Errorf("%w: %s", ErrJobNotFound, id)
	case err != nil:
		return registry.Record{}, fmt.Errorf("read job %s: %w", id, err)
	case !visible(&rec) || !isJob(rec.Kind) || !s.mayJob(s.caller(ctx), &rec, accessView):
		return registry.Record{}, fmt.Errorf("%w: %s", ErrJobNotFound, id)
	}
	return rec, nil
}

// sessionRecord reads the record of a session.
func (s *Service) sessionRecord(ctx context.Context, id string) (registry.Record, error) {
	if !ident.ValidApplicationID(id) {
		return registry.Record{}, fmt.Errorf("%w: %q is not a session id", ErrSessionNotFound, id)
	}
	rec, err := s.opts.Registry.Get(ctx, id)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return registry.Record{}, fmt.Errorf("%w: %s", ErrSessionNotFound, id)
	case err != nil:
		return registry.Record{}, fmt.Errorf("read session %s: %w", id, err)
	case !visible(&rec) || rec.Kind != registry.KindSession || !s.may(s.caller(ctx), &rec, accessView):
		return registry.Record{}, fmt.Errorf("%w: %s", ErrSessionNotFound, id)
	}
	return rec, nil
}

// Wait returns the job once its state has reached target (or passed it, or ended), or after timeout (capped
// by MaxWait). It waits on the record, so that waiting costs no cluster call.
func (s *Service) Wait(ctx context.Context, id string, target api.JobState, timeout time.Duration) (api.Job, error) {
	return waitRecord(ctx, s, id, min(timeout, s.opts.MaxWait), s.Job, func(j api.Job) bool { return j.State.Reached(target) })
}

// Session returns a session from its record.
func (s *Service) Session(ctx context.Context, id string) (api.Session, error) {
	rec, err := s.sessionRecord(ctx, id)
	if err != nil {
		return api.Session{}, err
	}
	return s.renderSession(rec), nil
}

// WaitSession returns the session once its state has reached target (or passed it, or ended), or after
// timeout (capped by MaxWait).
func (s *Service) WaitSession(ctx context.Context, id string, target api.SessionState, timeout time.Duration) (api.Session, error) {
	return waitRecord(ctx, s, id, min(timeout, s.opts.MaxWait), s.Session, func(x api.Session) bool { return x.State.Reached(target) })
}

// waitRecord reads until done says so, waking on every change of the record (and once a second in any
// case), or until timeout passes; it answers with the last read. An id that does not exist answers at once.
func waitRecord[T any](ctx context.Context, s *Service, id string, timeout time.Duration,
	read func(context.Context, string) (T, error), done func(T) bool) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		changed := s.opts.Registry.Changed(id)
		v, err := read(ctx, id)
		if err != nil || done(v) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, nil
		case <-changed:
		case <-time.After(time.Second):
		}
	}
}

// List returns the jobs the caller may see, newest first, optionally only those in one state.
func (s *Service) List(ctx context.Context, state api.JobState) ([]api.Job, error) {
	p := s.caller(ctx)
	recs := s.opts.Registry.List(func(rec *registry.Record) bool {
		return visible(rec) && isJob(rec.Kind) && (state == "" || rec.State == string(state))
	})
	// Outside List's lock: a session job's access depends on its session's record.
	recs = slices.DeleteFunc(recs, func(rec registry.Record) bool { return !s.mayJob(p, &rec, accessView) })
	jobs := make([]api.Job, 0, len(recs))
	for _, rec := range recs {
		jobs = append(jobs, s.renderJob(rec))
	}
	slices.SortStableFunc(jobs, func(a, b api.Job) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return jobs, nil
}

// ListSessions returns the sessions the caller may see, newest first.
func (s *Service) ListSessions(ctx context.Context) ([]api.Session, error) {
	p := s.caller(ctx)
	recs := s.opts.Registry.List(func(rec *registry.Record) bool { return visible(rec) && rec.Kind == registry.KindSession })
	recs = slices.DeleteFunc(recs, func(rec registry.Record) bool { return !s.may(p, &rec, accessView) })
	out := make([]api.Session, 0, len(recs))
	for _, rec := range recs {
		out = append(out, s.renderSession(rec))
	}
	slices.SortStableFunc(out, func(a, b api.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// rmBase is the active ResourceManager's web address, for links.
func (s *Service) rmBase() string {
	rm, _ := s.opts.RM.ActiveRM()
	return strings.TrimRight(rm.URL, "/")
}

// renderJob is the API object of a job record.
func (s *Service) renderJob(rec registry.Record) api.Job {
	st := rec.Status
	appID := rec.ApplicationID
	job := api.Job{
		ID: rec.ID, Name: rec.Name, Target: rec.Target, State: api.JobState(rec.State), Terminal: rec.Terminal,
		YARN: api.JobYARN{ApplicationID: appID, State: st.YARN.State, FinalStatus: st.YARN.FinalStatus,
			Diagnostics: st.YARN.Diagnostics, Queue: st.YARN.Queue, User: st.YARN.User},
		Flink: api.JobFlink{JobID: st.Flink.JobID, Version: st.Flink.Version, State: optional(st.Flink.State),
			Failure: optional(st.Flink.Failure), Jobs: make([]api.FlinkJob, 0, len(st.Flink.Jobs))},
		Owner: rec.Owner, SubmittedBy: rec.SubmittedBy, ACL: renderACL(rec.ACL), CreatedAt: rec.CreatedAt, UpdatedAt: st.Since,
		History: renderHistory(rec.History),
	}
	if job.Target == "" {
		job.Target = targetApplication
		if rec.Kind == registry.KindSessionJob {
			job.Target = targetSession
		}
	}
	if rec.Kind == registry.KindClusterJob {
		return s.renderClusterJob(rec, job)
	}
	creds := rec.Credentials
	if rec.Kind == registry.KindSessionJob {
		if sess, ok := s.opts.Registry.Cached(rec.ApplicationID); ok {
			creds = sess.Credentials // a session job runs on its session's credentials
		}
	}
	job.Credentials = renderCredentials(creds)
	job.Health = renderHealth(st.Health)
	job.Notifications = renderWebhooks(rec.Webhooks)
	for _, j := range st.Flink.Jobs {
		job.Flink.Jobs = append(job.Flink.Jobs, api.FlinkJob{ID: j.ID, Name: j.Name, State: j.State})
	}
	if job.Flink.JobID == "" && len(st.Flink.Jobs) > 0 {
		job.Flink.JobID = st.Flink.Jobs[0].ID
	}
	base := s.rmBase()
	job.Links.YARN = base + "/cluster/app/" + appID
	if st.JobManager != "" && !rec.Terminal {
		ui := base + "/proxy/" + appID + "/"
		if rec.Kind == registry.KindSessionJob {
			route := "running"
			if st.Flink.State == "FINISHED" || st.Flink.State == "FAILED" || st.Flink.State == "CANCELED" {
				route = "completed"
			}
			ui += "#/job/" + route + "/" + st.Flink.JobID + "/overview"
		}
		job.Links.FlinkUI, job.Links.JobManager = &ui, ptr(st.JobManager)
	}
	return job
}

// renderSession is the API object of a session record.
func (s *Service) renderSession(rec registry.Record) api.Session {
	st := rec.Status
	sess := api.Session{ID: rec.ID, Name: rec.Name, State: api.SessionState(rec.State), FlinkVersion: st.Flink.Version,
		YARN: api.JobYARN{ApplicationID: rec.ApplicationID, State: st.YARN.State, FinalStatus: st.YARN.FinalStatus,
			Diagnostics: st.YARN.Diagnostics, Queue: st.YARN.Queue, User: st.YARN.User},
		Owner: rec.Owner, SubmittedBy: rec.SubmittedBy, ACL: renderACL(rec.ACL), CreatedAt: rec.CreatedAt, UpdatedAt: st.Since,
		Credentials: renderCredentials(rec.Credentials), History: renderHistory(rec.History)}
	base := s.rmBase()
	sess.Links.YARN = base + "/cluster/app/" + rec.ApplicationID
	if st.JobManager != "" && (sess.State == api.SessionRunning || sess.State == api.SessionStopping) {
		sess.Links.FlinkUI, sess.Links.JobManager = ptr(base+"/proxy/"+rec.ApplicationID+"/"), ptr(st.JobManager)
	}
	return sess
}

// renderHistory is the API form of a record's history, never nil.
func renderHistory(h []registry.Transition) []api.StateChange {
	out := make([]api.StateChange, 0, len(h))
	for _, t := range h {
		out = append(out, api.StateChange{State: t.State, At: t.At, Reason: t.Reason})
	}
	return out
}

// renderCredentials is the API form of a record's credentials; nil without.
func renderCredentials(c *registry.Credentials) *api.Credentials {
	if c == nil {
		return nil
	}
	out := &api.Credentials{HDFSTokenExpiresAt: c.HDFSTokenExpires, KeytabPrincipal: optional(c.KeytabPrincipal)}
	if c.KeytabPrincipal == "" {
		out.HDFSAccessUntil = &out.HDFSTokenExpiresAt
	}
	return out
}

// optional is nil for "".
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ValidJobID reports whether id has the form of a job id (an application id, or a session job id).
func ValidJobID(id string) bool { return ident.ValidJobID(id) }

// ValidSessionID reports whether id has the form of a session id (an application id).
func ValidSessionID(id string) bool { return ident.ValidApplicationID(id) }
