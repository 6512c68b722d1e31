package job

import (
	"context"
	"fmt"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
)

// Cancel cancels a job through its JobManager, or kills its YARN application when kill is set, the
// JobManager does not answer or the job does not run yet; the outcome is observed at once. A session job
// is canceled through its session's JobManager only (one job never kills the shared session). A job that
// has ended is returned unchanged.
func (s *Service) Cancel(ctx context.Context, id string, kill bool) (api.Job, error) {
	rec, err := s.jobRecord(ctx, id)
	if err != nil {
		return api.Job{}, err
	}
	if err := s.mayModifyJob(ctx, &rec, "cancel"); err != nil {
		return api.Job{}, err
	}
	if rec.Terminal {
		return s.renderJob(rec), nil
	}
	st := rec.Status
	if rec.Kind == registry.KindClusterJob {
		return s.cancelClusterJob(ctx, rec)
	}
	if rec.Kind == registry.KindSessionJob {
		if st.JobManager == "" {
			return api.Job{}, fmt.Errorf("%w: cannot cancel %s", ErrSessionNotRunning, id)
		}
		if err := s.cancelFlink(ctx, st.JobManager, []string{st.Flink.JobID}); err != nil {
			return api.Job{}, fmt.Errorf("cancel %s: %w", id, err)
		}
		s.opts.Logger.InfoContext(ctx, "session job cancel requested", "requestId", RequestID(ctx), "job", id)
		return s.renderJob(rec), nil
	}
	if !kill && st.JobManager != "" {
		jobs := []string{st.Flink.JobID}
		if st.Flink.MultipleJobs {
			jobs = jobs[:0]
			for _, j := range st.Flink.Jobs {
				if j.State != "FINISHED" && j.State != "FAILED" && j.State != "CANCELED" {
					jobs = append(jobs, j.ID)
				}
			}
		}
		if len(jobs) > 0 {
			err := s.cancelFlink(ctx, st.JobManager, jobs)
			if err == nil {
				s.opts.Logger.InfoContext(ctx, "job cancel requested", "requestId", RequestID(ctx), "applicationId", id)
				return s.observed(ctx, rec), nil
			}
			s.opts.Logger.InfoContext(ctx, "cancel through the JobManager failed; killing the application",
				"requestId", RequestID(ctx), "applicationId", id, "error", err)
		}
	}
	state, err := s.opts.RM.Kill(asAppUser(ctx, rec), rec.ApplicationID, "killed through yarngate (request "+RequestID(ctx)+")")
	if err != nil {
		return api.Job{}, fmt.Errorf("kill %s: %w", id, err)
	}
	s.opts.Logger.InfoContext(ctx, "application killed", "requestId", RequestID(ctx), "applicationId", id, "state", state)
	return s.observed(ctx, rec), nil
}

// cancelFlink asks a JobManager to cancel jobs.
func (s *Service) cancelFlink(ctx context.Context, jmURL string, jobs []string) error {
	jm, err := jobmanager.New(jmURL, s.jmHTTP)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := jm.Cancel(ctx, j); err != nil {
			return err
		}
	}
	return nil
}

// observed observes a job or session at once (after acting on it) and renders its record as it is then.
func (s *Service) observed(ctx context.Context, rec registry.Record) api.Job {
	if err := s.opts.Observer.Observe(ctx, rec.ID); err != nil {
		s.opts.Logger.Debug("observation after an action failed; the reconciler will", "id", rec.ID, "error", err)
	}
	if fresh, err := s.opts.Registry.Get(ctx, rec.ID); err == nil {
		rec = fresh
	}
	return s.renderJob(rec)
}

// sessionShutdownTimeout bounds the JobManager's DELETE /cluster of a session stop.
const sessionShutdownTimeout = 10 * time.Second

// StopSession stops a session: it is recorded STOPPING (every instance reports it so until it has ended), its
// JobManager is asked to shut the cluster down (which ends its jobs), and the reconciler kills the
// application should it not have ended within the stop grace. A session without a JobManager yet is killed at
// once. A session that has ended is returned unchanged.
func (s *Service) StopSession(ctx context.Context, id string) (api.Session, error) {
	rec, err := s.sessionRecord(ctx, id)
	if err != nil {
		return api.Session{}, err
	}
	if p := s.caller(ctx); !s.may(p, &rec, accessModify) {
		return api.Session{}, forbidden(p, "stop", &rec)
	}
	if rec.Terminal {
		return s.renderSession(rec), nil
	}
	if rec, err = s.opts.Registry.Update(ctx, id, func(r *registry.Record) (bool, error) {
		return r.SetStatus(observe.Stopping(r.Status, time.Now()), "stop requested (request "+RequestID(ctx)+")"), nil
	}); err != nil {
		return api.Session{}, fmt.Errorf("record the stop of %s: %w", id, err)
	}
	s.opts.Logger.InfoContext(ctx, "session stop requested", "requestId", RequestID(ctx), "applicationId", id)
	if jm := rec.Status.JobManager; jm != "" {
		sctx, cancel := context.WithTimeout(ctx, sessionShutdownTimeout)
		err := s.opts.Launcher.ShutdownSession(sctx, id, jm)
		cancel()
		if err == nil {
			return s.renderSession(rec), nil
		}
		s.opts.Logger.InfoContext(ctx, "session shutdown through the JobManager failed; killing", "applicationId", id, "error", err)
	}
	if _, err := s.opts.RM.Kill(asAppUser(ctx, rec), rec.ApplicationID, "session stopped through yarngate (request "+RequestID(ctx)+")"); err != nil {
		s.opts.Logger.Warn("could not kill a session; the reconciler will retry", "applicationId", id, "error", err)
	}
	if err := s.opts.Observer.Observe(ctx, id); err == nil {
		if fresh, err := s.opts.Registry.Get(ctx, id); err == nil {
			rec = fresh
		}
	}
	return s.renderSession(rec), nil
}

// mayModifyJob checks that the caller may act on a job: its owner, an administrator, someone its ACL grants
// modify, or, for a session job, someone who may modify the session.
func (s *Service) mayModifyJob(ctx context.Context, rec *registry.Record, action string) error {
	if p := s.caller(ctx); !s.mayJob(p, rec, accessModify) {
		return forbidden(p, action, rec)
	}
	return nil
}

// asAppUser returns ctx under which ResourceManager calls act as the user rec's application runs as: behind
// SPNEGO the gateway kills as a proxy user for the owner, whom the ResourceManager's modify ACL admits.
func asAppUser(ctx context.Context, rec registry.Record) context.Context {
	return yarnclient.AsUser(ctx, rec.Status.YARN.User)
}
