package job

import (
	"context"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// restartRequester is who an automatic restart's upgrade names as its requester: the gateway itself (the
// reconciler's leader), a name no principal has. The restart runs as the job's recorded user, as an
// upgrade's relaunch does.
const restartRequester = "(gateway: automatic restart)"

// autoRestartOf converts a request's autoRestart into the record's policy (nil for none).
func autoRestartOf(a *api.AutoRestartSpec) *observe.AutoRestart {
	if a == nil {
		return nil
	}
	return &observe.AutoRestart{After: time.Duration(a.AfterSeconds) * time.Second, MaxRestarts: a.MaxRestarts}
}

// renderAutoRestart is the autoRestart of a job's API object.
func (s *Service) renderAutoRestart(rec registry.Record) *api.JobAutoRestart {
	a := rec.AutoRestart
	if a == nil {
		return nil
	}
	out := &api.JobAutoRestart{AfterSeconds: int(a.After / time.Second), MaxRestarts: a.MaxRestarts, Enabled: s.opts.AutoRestart,
		Restarts: a.Count}
	if !a.LastAt.IsZero() {
		out.LastRestartAt = ptr(a.LastAt)
	}
	if a.LastReason != "" {
		out.LastReason = ptr(a.LastReason)
	}
	return out
}

// restartInput is what DecideRestart needs to know of a record.
func restartInput(r *registry.Record, enabled bool, now time.Time) observe.RestartInput {
	in := observe.RestartInput{Enabled: enabled, Eligible: r.Kind == registry.KindJob && !r.Status.Flink.MultipleJobs && r.Status.Flink.JobID != "",
		State: r.State, Terminal: r.Terminal, FlinkState: r.Status.Flink.State, Health: r.Status.Health, Upgrading: r.Upgrade != nil && !observe.UpgradeFinal(r.Upgrade.Step),
		Stopping: !r.Status.StopRequested.IsZero(), Now: now}
	for _, sp := range r.Savepoints {
		if sp.State == observe.SavepointInProgress {
			in.SavepointInProgress = true
		}
	}
	return in
}

// autoRestarts begins the automatic restarts that are due (observe.DecideRestart): each one is recorded in
// the job's record as an upgrade to the job's own spec in last-state mode (auto-restart-<n>), which
// driveUpgrade then takes step by step like any upgrade. Called by RunUpgrades on the reconciler's leader.
func (s *Service) autoRestarts(ctx context.Context, now time.Time) {
	if !s.opts.AutoRestart {
		return
	}
	for _, rec := range s.opts.Registry.List(func(r *registry.Summary) bool {
		return r.AutoRestart && !r.Terminal && r.Kind == registry.KindJob && r.Health == observe.HealthUnhealthy
	}) {
		if d := observe.DecideRestart(*rec.AutoRestart, restartInput(&rec, true, now)); d.Restart {
			if _, err := s.beginRestart(ctx, rec.ID, d.Reason, now); err != nil {
				s.opts.Logger.Warn("could not begin an automatic restart; retrying", "job", rec.ID, "error", err)
			}
		}
	}
}

// beginRestart records the automatic restart of a job, deciding again on the record as it is written (so
// that two leaders, or a restart and a user's upgrade, never both begin): the restart's upgrade, its run
// (the current run's spec and user) and the restart count. It returns the upgrade begun, nil when the
// decision no longer holds.
func (s *Service) beginRestart(ctx context.Context, id, reason string, now time.Time) (*observe.Upgrade, error) {
	var begun *observe.Upgrade
	_, err := s.opts.Registry.Update(ctx, id, func(r *registry.Record) (bool, error) {
		begun = nil
		if r.AutoRestart == nil || !observe.DecideRestart(*r.AutoRestart, restartInput(r, s.opts.AutoRestart, now)).Restart {
			return false, nil
		}
		r.EnsureRuns()
		from := len(r.Runs) - 1
		for i, run := range r.Runs {
			if run.ApplicationID == r.ApplicationID {
				from = i
			}
		}
		n := r.AutoRestart.Count + 1
		u := observe.Upgrade{ID: observe.RestartUpgradeID(n), Mode: observe.UpgradeLastState, Step: observe.StepStopping, StepAt: now.UTC(),
			Restart: true, Reason: reason, RequestedBy: restartRequester, RequestedAt: now.UTC(), HealthTimeout: s.opts.UpgradeHealthTimeout, From: from}
		r.Runs = append(r.Runs, registry.Run{Spec: r.Runs[from].Spec, User: r.Runs[from].User, CreatedAt: now.UTC()})
		u.To = len(r.Runs) - 1
		s.tagRun(r, u, u.To)
		r.AutoRestart.Count, r.AutoRestart.LastAt, r.AutoRestart.LastReason = n, now.UTC(), reason
		begun = &u
		return r.SetUpgrade(u, now), nil
	})
	if err == nil && begun != nil {
		s.opts.Logger.Info("automatic restart", "job", id, "upgradeId", begun.ID, "reason", reason)
	}
	return begun, err
}

// observeRestart adds to an automatic restart's observation, while it looks for what to restore, whether
// the job's checkpoints outlive its cancellation and its newest completed savepoint (the fallback).
func (s *Service) observeRestart(ctx context.Context, rec registry.Record, u observe.Upgrade, o *observe.UpgradeObservation) {
	if !u.Restart || u.Step != observe.StepStopping || u.Restore != "" {
		return
	}
	var newest time.Time
	for _, sp := range rec.Savepoints {
		if sp.State == observe.SavepointCompleted && sp.Path != "" && !sp.CompletedAt.Before(newest) {
			o.NewestSavepoint, newest = sp.Path, sp.CompletedAt
		}
	}
	jmURL := rec.Status.JobManager
	if jmURL == "" || rec.Terminal {
		return
	}
	jm, err := jobmanager.New(jmURL, s.jmHTTP)
	if err != nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, s.opts.JobManagerTimeout)
	defer cancel()
	retained, err := jm.RetainsCheckpoints(cctx, rec.Status.Flink.JobID)
	if err != nil {
		s.opts.Logger.Debug("could not read the checkpoint configuration", "job", rec.ID, "error", err)
		return
	}
	o.NotRetained = !retained
}
