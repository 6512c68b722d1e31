package job

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/launch"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
)

// ErrUpgradeInProgress: the job is being upgraded already.
var ErrUpgradeInProgress = errors.New("an upgrade of the job is in progress")

// Upgrade starts an upgrade of a running application job to a new spec: the upgrade, its new run and (in
// savepoint mode) the stop's savepoint are recorded IN the job's record, and the reconciler's leader drives
// the steps (RunUpgrades). The same upgrade id again answers the job as it is (created false).
func (s *Service) Upgrade(ctx context.Context, id string, req api.UpgradeRequest) (api.Job, bool, error) {
	rec, err := s.jobRecord(ctx, id)
	if err != nil {
		return api.Job{}, false, err
	}
	if err := s.mayModifyJob(ctx, &rec, "upgrade"); err != nil {
		return api.Job{}, false, err
	}
	// An upgrade runs new code as the job's owner: modify access is not enough, the caller must be the owner
	// or may submit for them (proxyUser rules).
	if _, err := s.actFor(ctx, rec.Owner); err != nil {
		return api.Job{}, false, err
	}
	if req.UpgradeID != "" && rec.Upgrade != nil && rec.Upgrade.ID == req.UpgradeID {
		return s.renderJob(rec), false, nil
	}
	var e api.SpecError
	if req.UpgradeID != "" && !validTriggerID(req.UpgradeID) {
		e.Add("upgradeId", "must be 1 to 64 letters, digits, '-', '_' or '.'")
	} else if strings.HasPrefix(req.UpgradeID, "auto-restart-") {
		e.Add("upgradeId", "auto-restart-<n> names the gateway's automatic restarts")
	}
	mode := cmp.Or(string(req.Mode), observe.UpgradeSavepoint)
	if mode != observe.UpgradeSavepoint && mode != observe.UpgradeStateless && mode != observe.UpgradeLastState {
		e.Add("mode", "must be stateless, savepoint or last-state, not %q", mode)
	}
	if req.HealthTimeoutSeconds < 0 {
		e.Add("healthTimeoutSeconds", "must not be negative")
	}
	if rec.Kind != registry.KindJob {
		e.Add("target", "only jobs in their own application cluster are upgraded (this one runs in a %s)", rec.Target)
	}
	if err := e.OrNil(); err != nil {
		return api.Job{}, false, err
	}
	if rec.Upgrade != nil && !observe.UpgradeFinal(rec.Upgrade.Step) {
		return api.Job{}, false, fmt.Errorf("%w: %s is at %s", ErrUpgradeInProgress, id, rec.Upgrade.Step)
	}
	st := rec.Status
	if rec.Terminal || st.JobManager == "" || st.Flink.JobID == "" || st.Flink.MultipleJobs || st.State != string(api.StateRunning) {
		return api.Job{}, false, fmt.Errorf("%w: %s is %s", ErrJobNotRunning, id, rec.State)
	}
	var next api.JobRequest
	if err := json.Unmarshal(rec.Spec, &next); err != nil {
		return api.Job{}, false, &api.SpecError{Problems: []api.FieldProblem{{Field: "spec",
			Reason: "the job's recorded spec cannot be read (an adopted application has none): it cannot be upgraded"}}}
	}
	overlay(&next, req)
	check := next
	if _, err := normalizeJobRequest(&check); err != nil {
		return api.Job{}, false, err
	}
	if next.JarID != "" && s.opts.Jars != nil {
		if ok, err := s.opts.Jars.mayUse(ctx, next.JarID); err != nil {
			return api.Job{}, false, fmt.Errorf("owners of jar %s: %w", next.JarID, err)
		} else if !ok {
			return api.Job{}, false, fmt.Errorf("%w: %s", ErrJarNotFound, next.JarID)
		}
	}
	now := time.Now().UTC()
	u := observe.Upgrade{ID: cmp.Or(req.UpgradeID, "up-"+randomTriggerID()[3:]), Mode: mode, Step: observe.StepStopping, StepAt: now,
		AllowNonRestoredState: req.AllowNonRestoredState, RequestedBy: s.caller(ctx).Name, RequestedAt: now,
		HealthTimeout: s.opts.UpgradeHealthTimeout}
	if req.HealthTimeoutSeconds > 0 {
		u.HealthTimeout = time.Duration(req.HealthTimeoutSeconds) * time.Second
	}
	var sp observe.Savepoint
	if mode == observe.UpgradeSavepoint {
		u.TriggerID = "upgrade-" + u.ID
		sp = observe.Savepoint{TriggerID: u.TriggerID, FlinkTriggerID: flinkTriggerID(st.Flink.JobID, u.TriggerID),
			ApplicationID: rec.ApplicationID, FlinkJobID: st.Flink.JobID, State: observe.SavepointInProgress,
			Format: string(api.FormatCanonical), Stop: true, TargetDirectory: s.defaultSavepointDir(rec),
			RequestedBy: u.RequestedBy, RequestedAt: now}
	}
	spec := redactedSpec(next)
	created := false
	rec, err = s.opts.Registry.Update(ctx, rec.ID, func(r *registry.Record) (bool, error) {
		if r.Upgrade != nil && r.Upgrade.ID == u.ID {
			created = false
			return false, nil
		}
		if r.Upgrade != nil && !observe.UpgradeFinal(r.Upgrade.Step) {
			return false, fmt.Errorf("%w: %s is at %s", ErrUpgradeInProgress, id, r.Upgrade.Step)
		}
		if r.ApplicationID != rec.ApplicationID || r.Terminal {
			return false, fmt.Errorf("%w: %s is %s", ErrJobNotRunning, id, r.State)
		}
		r.EnsureRuns()
		u.From = len(r.Runs) - 1
		for i, run := range r.Runs {
			if run.ApplicationID == r.ApplicationID {
				u.From = i
			}
		}
		r.Runs = append(r.Runs, registry.Run{Spec: spec, User: r.Runs[u.From].User, CreatedAt: now})
		u.To = len(r.Runs) - 1
		s.tagRun(r, u, u.To)
		if mode == observe.UpgradeSavepoint {
			r.SetSavepoint(sp)
		}
		created = true
		return r.SetUpgrade(u, now), nil
	})
	if err != nil {
		return api.Job{}, false, err
	}
	s.opts.Logger.InfoContext(ctx, "upgrade requested", "requestId", RequestID(ctx), "job", rec.ID, "upgradeId", u.ID, "mode", mode)
	return s.renderJob(rec), created, nil
}

// overlay applies an upgrade request's changes to a job request.
func overlay(j *api.JobRequest, req api.UpgradeRequest) {
	if req.JarID != "" || req.JarPath != "" {
		j.JarID, j.JarPath = req.JarID, req.JarPath
	}
	if req.EntryClass != nil {
		j.EntryClass = *req.EntryClass
	}
	if req.Args != nil {
		j.Args = req.Args
	}
	if req.FlinkVersion != "" {
		j.FlinkVersion = req.FlinkVersion
	}
	if req.Parallelism != nil {
		j.Parallelism = req.Parallelism
	}
	if req.FlinkConfig != nil {
		j.FlinkConfig = req.FlinkConfig
	}
	j.Savepoint = nil // the upgrade restores its own
}

// tagRun gives run i the idempotency tags of its launch (derived from the job, the upgrade and the run).
func (s *Service) tagRun(r *registry.Record, u observe.Upgrade, i int) {
	sum := sha256.Sum256(r.Runs[i].Spec)
	key := r.ID + "\x00" + u.ID + "\x00" + strconv.Itoa(i)
	r.Runs[i].LaunchTag, r.Runs[i].SpecTag = ident.IdempotencyTags(s.opts.IdempotencySecret, "upgrade", key, hex.EncodeToString(sum[:10]))
}

// upgradeInterval is how often the leader drives the upgrades in progress.
const upgradeInterval = 2 * time.Second

// RunUpgrades drives the upgrades in progress while this instance reconciles (the leader), until ctx ends:
// every step is written to the record before it is taken, so that a new leader or a restarted gateway resumes
// where the last one stopped.
func (s *Service) RunUpgrades(ctx context.Context) {
	t := time.NewTicker(upgradeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.opts.Observer.Leading() {
			continue
		}
		s.autoRestarts(ctx, time.Now())
		for _, rec := range s.opts.Registry.List(func(r *registry.Summary) bool {
			return r.UpgradeStep != "" && !observe.UpgradeFinal(r.UpgradeStep)
		}) {
			s.driveUpgrade(ctx, rec)
		}
	}
}

// driveUpgrade takes one round of a record's upgrade: observe, record the next step, act.
func (s *Service) driveUpgrade(ctx context.Context, rec registry.Record) {
	u := *rec.Upgrade
	o := s.observeUpgrade(ctx, rec, u)
	next, act := observe.UpgradeStep(u, o)
	if next != u {
		var err error
		if rec, err = s.setUpgrade(ctx, rec.ID, u, next); err != nil {
			s.opts.Logger.Warn("could not record an upgrade step; retrying", "job", rec.ID, "step", next.Step, "error", err)
			return
		}
		s.opts.Logger.Info("upgrade step", "job", rec.ID, "upgradeId", u.ID, "step", rec.Upgrade.Step, "failure", rec.Upgrade.Failure)
		u = *rec.Upgrade
	}
	switch act {
	case observe.ActStop:
		s.upgradeStop(ctx, rec, u)
	case observe.ActCancel:
		s.upgradeCancel(ctx, rec, u)
	case observe.ActKill:
		if app := rec.Runs[u.From].ApplicationID; app != "" {
			if _, err := s.opts.RM.Kill(yarnclient.AsUser(ctx, rec.Runs[u.From].User), app, "yarngate: upgrade rolled back"); err != nil {
				s.opts.Logger.Warn("could not kill the application of a failed upgrade; retrying", "job", rec.ID, "applicationId", app, "error", err)
			}
		}
	case observe.ActLaunch:
		if err := s.upgradeLaunch(ctx, rec, u); err != nil {
			if !permanentLaunchError(err) {
				s.opts.Logger.Warn("the launch of an upgrade failed; retrying", "job", rec.ID, "error", err)
				return
			}
			o.LaunchFailure = err.Error()
			if next, _ := observe.UpgradeStep(u, o); next != u {
				if _, err := s.setUpgrade(ctx, rec.ID, u, next); err != nil {
					s.opts.Logger.Warn("could not record an upgrade step; retrying", "job", rec.ID, "error", err)
				}
			}
		}
	}
}

// setUpgrade writes the next state of an upgrade over the one it was derived from.
func (s *Service) setUpgrade(ctx context.Context, id string, prev, next observe.Upgrade) (registry.Record, error) {
	now := time.Now()
	return s.opts.Registry.Update(ctx, id, func(r *registry.Record) (bool, error) {
		if r.Upgrade == nil || *r.Upgrade != prev {
			return false, errors.New("the upgrade changed meanwhile")
		}
		changed := r.SetUpgrade(next, now)
		if to := r.Upgrade.To; r.Upgrade.Step == observe.StepRollingBack && r.Runs[to].LaunchTag == "" {
			s.tagRun(r, *r.Upgrade, to)
		}
		return changed, nil
	})
}

// permanentLaunchError reports whether a launch failed for good (the spec), not for a while (the cluster).
func permanentLaunchError(err error) bool {
	var se *api.SpecError
	return errors.As(err, &se) || errors.Is(err, ErrJarNotFound) || errors.Is(err, ErrYARNRejected) ||
		errors.Is(err, ErrUnknownQueue) || errors.Is(err, launch.ErrSpecMismatch)
}

// observeUpgrade gathers what the next step of an upgrade depends on.
func (s *Service) observeUpgrade(ctx context.Context, rec registry.Record, u observe.Upgrade) observe.UpgradeObservation {
	o := observe.UpgradeObservation{Now: time.Now(), Checkpoints: -1}
	from := rec.Runs[u.From]
	switch {
	case from.ApplicationID == "":
		o.OldEnded = true
	case from.ApplicationID == rec.ApplicationID:
		o.OldEnded = rec.Terminal || yarnclient.AppState(rec.Status.YARN.State).Terminal()
	default:
		o.OldEnded = true // an earlier run: the record moved on
	}
	if sp, ok := rec.Savepoint(u.TriggerID); ok && u.TriggerID != "" {
		o.SavepointState, o.SavepointPath, o.SavepointFailure = sp.State, sp.Path, sp.Failure
	}
	jmURL := rec.Status.JobManager
	if u.Step == observe.StepStopping && u.Mode == observe.UpgradeLastState && u.Restore == "" && jmURL != "" && !rec.Terminal {
		if jm, err := jobmanager.New(jmURL, s.jmHTTP); err == nil {
			cctx, cancel := context.WithTimeout(ctx, s.opts.JobManagerTimeout)
			o.LatestCheckpoint, err = jm.LatestCheckpoint(cctx, rec.Status.Flink.JobID)
			cancel()
			if err != nil {
				s.opts.Logger.Debug("could not read the latest checkpoint", "job", rec.ID, "error", err)
			}
		}
	}
	s.observeRestart(ctx, rec, u, &o)
	if u.Step == observe.StepStopping && u.Mode == observe.UpgradeLastState && o.OldEnded && !u.RestoreSavepoint && s.opts.ArchivedCheckpoint != nil {
		o.FinalCheckpoint = s.opts.ArchivedCheckpoint(ctx, rec.Status.Flink.JobID)
	}
	o.Launched = rec.Runs[u.To].ApplicationID
	if o.Launched != "" && o.Launched == rec.ApplicationID {
		o.State, o.Terminal = rec.State, rec.Terminal
		if u.Step == observe.StepVerifying && rec.State == string(api.StateRunning) && jmURL != "" {
			if jm, err := jobmanager.New(jmURL, s.jmHTTP); err == nil {
				cctx, cancel := context.WithTimeout(ctx, s.opts.JobManagerTimeout)
				if c, err := jm.CheckpointStats(cctx, rec.Status.Flink.JobID); err == nil {
					o.Checkpoints = c.Completed
				}
				cancel()
			}
		}
	}
	return o
}

// upgradeStop sends the stop-with-savepoint of an upgrade (the JobManager deduplicates a repeat by its
// trigger id), and records it sent, or the savepoint failed when the JobManager refused it.
func (s *Service) upgradeStop(ctx context.Context, rec registry.Record, u observe.Upgrade) {
	sp, ok := rec.Savepoint(u.TriggerID)
	if !ok {
		return
	}
	jm, err := jobmanager.New(rec.Status.JobManager, s.jmHTTP)
	if err == nil {
		tctx, cancel := context.WithTimeout(ctx, savepointTimeout)
		_, err = jm.Stop(tctx, sp.FlinkJobID, jobmanager.StopRequest{TargetDirectory: sp.TargetDirectory, FormatType: sp.Format, TriggerID: sp.FlinkTriggerID})
		cancel()
	}
	s.opts.Logger.Info("upgrade: stop with a savepoint", "job", rec.ID, "triggerId", sp.TriggerID, "error", err)
	refused := err != nil && (errors.Is(err, jobmanager.ErrBadRequest) || errors.Is(err, jobmanager.ErrNotFound))
	if err != nil && !refused {
		return // asked again next round
	}
	now := time.Now().UTC()
	next := u
	next.StopSent = true
	if _, err := s.opts.Registry.Update(ctx, rec.ID, func(r *registry.Record) (bool, error) {
		if r.Upgrade == nil || *r.Upgrade != u {
			return false, nil
		}
		if refused {
			sp.State, sp.Failure, sp.CompletedAt = observe.SavepointFailed, "the JobManager refused it: "+err.Error(), now
			r.SetSavepoint(sp)
		}
		return r.SetUpgrade(next, now), nil
	}); err != nil {
		s.opts.Logger.Warn("could not record the stop of an upgrade", "job", rec.ID, "error", err)
	}
}

// upgradeCancel cancels the job being replaced (stateless and last-state), killing its application when its
// JobManager does not take the cancel.
func (s *Service) upgradeCancel(ctx context.Context, rec registry.Record, u observe.Upgrade) {
	from := rec.Runs[u.From]
	if from.ApplicationID != rec.ApplicationID {
		return
	}
	if jmURL := rec.Status.JobManager; jmURL != "" && rec.Status.Flink.JobID != "" {
		cctx, cancel := context.WithTimeout(ctx, s.opts.JobManagerTimeout)
		err := s.cancelFlink(cctx, jmURL, []string{rec.Status.Flink.JobID})
		cancel()
		if err == nil {
			return
		}
	}
	if _, err := s.opts.RM.Kill(yarnclient.AsUser(ctx, from.User), from.ApplicationID, "yarngate: replaced by an upgrade"); err != nil {
		s.opts.Logger.Warn("could not stop the application an upgrade replaces; retrying", "job", rec.ID, "error", err)
	}
}

// upgradeLaunch launches run u.To restoring u.Restore, once: an application already launched with the run's
// tag (by a driver that stopped before recording it) is recorded instead.
func (s *Service) upgradeLaunch(ctx context.Context, rec registry.Record, u observe.Upgrade) error {
	run := rec.Runs[u.To]
	if run.LaunchTag == "" {
		return errors.New("the run has no launch tag yet")
	}
	var req api.JobRequest
	if err := json.Unmarshal(run.Spec, &req); err != nil {
		return &api.SpecError{Problems: []api.FieldProblem{{Field: "spec", Reason: "the run's spec cannot be read: " + err.Error()}}}
	}
	cfg, err := normalizeJobRequest(&req)
	if err != nil {
		return err
	}
	app, err := s.opts.Launcher.FindByTags(ctx, run.LaunchTag, run.SpecTag, launch.Job)
	if err != nil {
		return err
	}
	if app != nil {
		jobID := ""
		if !app.HasTag(ident.TagMultipleJobs) {
			jobID, _ = ident.FlinkJobID(app.ID)
		}
		s.opts.Logger.Info("upgrade: found the application of an interrupted launch", "job", rec.ID, "applicationId", app.ID)
		return s.startRun(ctx, rec.ID, u, app.ID, initialStatus(rec.Kind, app.ID, cmp.Or(app.User, run.User, s.opts.User),
			ident.TagValue(app.ApplicationTags, ident.TagFlinkPrefix), jobID, false, time.Now()))
	}
	spec := launch.Spec{Kind: launch.Job, Name: req.Name, Target: req.Target, JarID: req.JarID, JarPath: req.JarPath,
		EntryClass: req.EntryClass, Args: req.Args, Queue: req.Queue, FlinkVersion: req.FlinkVersion, FlinkConfig: cfg,
		User: run.User, Tags: []string{run.LaunchTag, run.SpecTag}}
	if u.Restore != "" {
		spec.Savepoint = &flink.Savepoint{Path: u.Restore, ClaimMode: string(api.ClaimModeNoClaim),
			AllowNonRestoredState: u.AllowNonRestoredState && u.Step == observe.StepLaunching}
	}
	if req.Parallelism != nil {
		spec.Parallelism = *req.Parallelism
	}
	sizeOf(&spec, req.JobManager, req.TaskManager)
	p, err := s.opts.Launcher.Prepare(ctx, spec)
	if err != nil {
		return err
	}
	na, err := s.opts.Launcher.NewApplication(ctx, p)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.LaunchTimeout)
	defer cancel()
	l, err := s.opts.Launcher.Submit(lctx, p, na)
	if err != nil {
		return err
	}
	s.opts.Logger.Info("upgrade: launched", "job", rec.ID, "upgradeId", u.ID, "step", u.Step, "applicationId", l.ApplicationID, "restore", u.Restore)
	return s.startRun(lctx, rec.ID, u, l.ApplicationID, initialStatus(rec.Kind, l.ApplicationID, cmp.Or(p.User(), s.opts.User),
		p.FlinkVersion, l.FlinkJobID, l.MultipleJobs, time.Now()))
}

// startRun records the launched application of run u.To as the job's current one.
func (s *Service) startRun(ctx context.Context, id string, u observe.Upgrade, appID string, st observe.Status) error {
	_, err := s.opts.Registry.Update(context.WithoutCancel(ctx), id, func(r *registry.Record) (bool, error) {
		if r.Upgrade == nil || r.Upgrade.ID != u.ID || r.Runs[u.To].ApplicationID != "" {
			return false, nil
		}
		r.StartRun(u.To, appID, r.Runs[u.To].Spec, st, time.Now())
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("record the upgrade's application %s: %w", appID, err)
	}
	return nil
}

// renderUpgrade is the upgrade and runs of a job's API object.
func renderUpgrade(rec registry.Record) (*api.JobUpgrade, []api.JobRun) {
	if rec.Upgrade == nil && len(rec.Runs) <= 1 {
		return nil, nil
	}
	var up *api.JobUpgrade
	if u := rec.Upgrade; u != nil {
		up = &api.JobUpgrade{ID: u.ID, Mode: api.UpgradeMode(u.Mode), Step: u.Step, StepAt: u.StepAt,
			RequestedBy: u.RequestedBy, RequestedAt: u.RequestedAt}
		if u.Restore != "" {
			up.Restore = ptr(u.Restore)
		}
		if u.Failure != "" {
			up.Failure = ptr(u.Failure)
		}
		if up.Automatic = u.Restart; u.Reason != "" {
			up.Reason = ptr(u.Reason)
		}
		if !u.EndedAt.IsZero() {
			up.EndedAt = ptr(u.EndedAt)
		}
	}
	runs := make([]api.JobRun, 0, len(rec.Runs))
	for _, r := range rec.Runs {
		jr := api.JobRun{ApplicationID: r.ApplicationID, Spec: r.Spec, Outcome: r.Outcome,
			Current: r.ApplicationID != "" && r.ApplicationID == rec.ApplicationID}
		if r.Restore != "" {
			jr.Restore = ptr(r.Restore)
		}
		if !r.StartedAt.IsZero() {
			jr.StartedAt = ptr(r.StartedAt)
		}
		if !r.EndedAt.IsZero() {
			jr.EndedAt = ptr(r.EndedAt)
		}
		runs = append(runs, jr)
	}
	return up, runs
}
