package observe

import "time"

// Upgrade modes: how the state of the running job crosses to the new spec.
const (
	// UpgradeStateless: the old job is canceled and the new one starts empty.
	UpgradeStateless = "stateless"
	// UpgradeSavepoint: the old job stops with a savepoint and the new one restores it.
	UpgradeSavepoint = "savepoint"
	// UpgradeLastState: the old job's latest retained checkpoint is read, the job canceled (its checkpoint
	// retained: RETAIN_ON_CANCELLATION), and the new one restores the checkpoint.
	UpgradeLastState = "last-state"
)

// Upgrade steps, in order. Every step is recorded before it is taken.
const (
	// StepStopping: the old application is being stopped (with a savepoint, or canceled).
	StepStopping = "STOPPING"
	// StepLaunching: the new spec's application is being launched, restoring Restore.
	StepLaunching = "LAUNCHING"
	// StepVerifying: the new application must run and complete a checkpoint within the health timeout.
	StepVerifying = "VERIFYING"
	// StepRollingBack: the new application failed: it is killed and the previous spec launched again,
	// restoring the same Restore.
	StepRollingBack = "ROLLING_BACK"
	// StepSucceeded, StepRolledBack, StepFailed are final: the new spec runs; the previous spec runs again;
	// the upgrade gave up before the old application stopped (a savepoint that failed) or could not roll back.
	StepSucceeded  = "SUCCEEDED"
	StepRolledBack = "ROLLED_BACK"
	StepFailed     = "FAILED"
)

// UpgradeFinal reports whether an upgrade step is final.
func UpgradeFinal(step string) bool {
	return step == StepSucceeded || step == StepRolledBack || step == StepFailed
}

// Upgrade is a record's upgrade: its mode, the step it is at, and what the steps found.
type Upgrade struct {
	// ID is the caller's upgrade id (or the gateway's); a repeated request with it answers the same upgrade.
	ID   string `json:"id"`
	Mode string `json:"mode"`
	Step string `json:"step"`
	// StepAt is when the step began.
	StepAt time.Time `json:"stepAt"`
	// TriggerID is the stop's savepoint (savepoint mode), in the record's savepoints.
	TriggerID string `json:"triggerId,omitempty"`
	// StopSent says the stop-with-savepoint went to the JobManager (a repeat is deduplicated by it).
	StopSent bool `json:"stopSent,omitempty"`
	// Restore is the savepoint or checkpoint the new application restores, and a rollback too ("" stateless).
	Restore string `json:"restore,omitempty"`
	// From is the run (index in the record's runs) being replaced; To the run being launched (the new
	// spec's, or the rollback's).
	From int `json:"from"`
	To   int `json:"to"`
	// AllowNonRestoredState lets the new spec drop state (not a rollback).
	AllowNonRestoredState bool `json:"allowNonRestoredState,omitempty"`
	// HealthTimeout bounds VERIFYING.
	HealthTimeout time.Duration `json:"healthTimeout"`
	// Restart marks an automatic restart (see DecideRestart): the job's own spec again, in last-state mode,
	// restoring its latest retained checkpoint or, when it retains none on cancellation, its newest completed
	// savepoint (RestoreSavepoint); it is never rolled back. Reason says why the gateway began it.
	Restart          bool   `json:"restart,omitempty"`
	RestoreSavepoint bool   `json:"restoreSavepoint,omitempty"`
	Reason           string `json:"reason,omitempty"`
	// Failure says why the new spec was rolled back or the upgrade failed.
	Failure     string    `json:"failure,omitempty"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	RequestedAt time.Time `json:"requestedAt"`
	EndedAt     time.Time `json:"endedAt,omitzero"`
}

// UpgradeObservation is what the driver of an upgrade saw in one round.
type UpgradeObservation struct {
	// OldEnded says the application being replaced has ended (YARN reports it final).
	OldEnded bool
	// Savepoint is the stop's savepoint (savepoint mode): its state and path.
	SavepointState, SavepointPath, SavepointFailure string
	// LatestCheckpoint is the old job's latest completed, retained checkpoint (last-state mode; "" when none
	// was read); FinalCheckpoint the latest completed checkpoint the ended old job's archive names (last-state:
	// the one it retained when it was canceled; a newer checkpoint may have subsumed the one read before).
	LatestCheckpoint, FinalCheckpoint string
	// NotRetained says the old job's checkpoints do not outlive its cancellation (its checkpoint
	// configuration says they are deleted, or not externalized), and NewestSavepoint is the path of the
	// job's newest completed savepoint: both read for automatic restarts only (Upgrade.Restart).
	NotRetained     bool
	NewestSavepoint string
	// Launched is the application id of the run being launched ("" until it is recorded); LaunchFailure a
	// launch refused for good (a spec the cluster does not take).
	Launched      string
	LaunchFailure string
	// State and Terminal are the record's, when Launched is its current application; Checkpoints counts the
	// new job's completed checkpoints (-1: not known).
	State       string
	Terminal    bool
	Checkpoints int64
	Now         time.Time
}

// UpgradeAction is what the driver does after recording the step UpgradeStep returned.
type UpgradeAction string

// Actions of an upgrade step.
const (
	ActNone UpgradeAction = ""
	// ActStop: send the stop-with-savepoint of TriggerID to the old JobManager.
	ActStop UpgradeAction = "stop"
	// ActCancel: cancel the old job (kill its application when its JobManager does not answer).
	ActCancel UpgradeAction = "cancel"
	// ActLaunch: launch run To (idempotent: an application tagged with its launch key is found instead).
	ActLaunch UpgradeAction = "launch"
	// ActKill: kill the failed new application.
	ActKill UpgradeAction = "kill"
)

// stoppingTimeout bounds STOPPING while the old job runs (a last-state upgrade without a retained
// checkpoint, a stop that never ends): the upgrade fails and the old job runs on.
const stoppingTimeout = 10 * time.Minute

// restartCheckpointWait is how long an automatic restart of a job that retains its checkpoints waits for
// its JobManager to name a completed checkpoint before it restores the newest completed savepoint instead
// (a job in a restart loop may have none to name).
const restartCheckpointWait = time.Minute

// UpgradeStep derives the next state of an upgrade from what was observed, and the action to take once
// that state is recorded. It is pure: the driver writes next (when it differs) before it acts, so that a
// driver that stops anywhere resumes from the record.
func UpgradeStep(u Upgrade, o UpgradeObservation) (Upgrade, UpgradeAction) {
	if UpgradeFinal(u.Step) {
		return u, ActNone
	}
	next := u
	to := func(step, failure string) {
		next.Step, next.StepAt = step, o.Now.UTC()
		if failure != "" {
			next.Failure = failure
		}
		if UpgradeFinal(step) {
			next.EndedAt = o.Now.UTC()
		}
	}
	switch u.Step {
	case StepStopping:
		switch u.Mode {
		case UpgradeSavepoint:
			switch {
			case o.SavepointState == SavepointFailed || o.SavepointState == SavepointDisposed:
				to(StepFailed, "the stop's savepoint failed: "+o.SavepointFailure)
			case o.SavepointState == SavepointCompleted && o.OldEnded:
				next.Restore = o.SavepointPath
				to(StepLaunching, "")
			case o.SavepointState == SavepointCompleted:
				// Stopped with its savepoint: the application ends on its own.
			case o.OldEnded:
				to(StepFailed, "the job ended before its savepoint completed")
			case !u.StopSent:
				return next, ActStop
			case o.Now.Sub(u.StepAt) > stoppingTimeout:
				to(StepFailed, "the stop with a savepoint did not end in time")
			}
		case UpgradeLastState:
			switch {
			case u.Restart && u.Restore == "" && o.NotRetained && o.NewestSavepoint != "":
				next.Restore, next.RestoreSavepoint = o.NewestSavepoint, true
			case u.Restart && u.Restore == "" && o.NotRetained:
				to(StepFailed, "the job retains no checkpoint on cancellation and has no completed savepoint to restart from")
			case u.Restart && u.Restore == "" && o.LatestCheckpoint == "" && o.NewestSavepoint != "" && o.Now.Sub(u.StepAt) > restartCheckpointWait:
				next.Restore, next.RestoreSavepoint = o.NewestSavepoint, true
			case o.OldEnded && o.FinalCheckpoint != "" && !u.RestoreSavepoint:
				next.Restore = o.FinalCheckpoint
				to(StepLaunching, "")
			case u.Restore == "" && o.LatestCheckpoint != "":
				next.Restore = o.LatestCheckpoint // recorded before the job is canceled
			case u.Restore == "" && o.OldEnded:
				to(StepFailed, "the job ended before a retained checkpoint was read")
			case u.Restore == "" && o.Now.Sub(u.StepAt) > stoppingTimeout:
				to(StepFailed, "the job has no completed checkpoint to restore (is checkpointing on?)")
			case u.Restore == "":
			case o.OldEnded:
				to(StepLaunching, "")
			default:
				return next, ActCancel
			}
		default:
			if o.OldEnded {
				to(StepLaunching, "")
			} else {
				return next, ActCancel
			}
		}
	case StepLaunching, StepRollingBack:
		rollback := u.Step == StepRollingBack
		switch {
		case o.Launched != "" && rollback:
			to(StepRolledBack, "")
		case o.Launched != "":
			to(StepVerifying, "")
		case o.LaunchFailure != "" && rollback:
			to(StepFailed, next.Failure+"; the rollback could not be launched: "+o.LaunchFailure)
		case o.LaunchFailure != "" && u.Restart:
			to(StepFailed, "the restart could not be launched: "+o.LaunchFailure)
		case o.LaunchFailure != "":
			next.From, next.To = u.To, u.From // the driver appends the rollback run
			to(StepRollingBack, "the new spec could not be launched: "+o.LaunchFailure)
		case rollback && !o.OldEnded:
			return next, ActKill // the failed new application first
		default:
			return next, ActLaunch
		}
	case StepVerifying:
		switch {
		case u.Restart && o.Terminal:
			// A restart has no other spec to roll back to: the job ended; a restart's limit bounds retries.
			to(StepFailed, "the restarted application ended "+o.State+" before it was healthy")
		case o.Terminal:
			next.From, next.To = u.To, u.From
			to(StepRollingBack, "the new application ended "+o.State+" before it was healthy")
		case o.State == "RUNNING" && o.Checkpoints > 0:
			to(StepSucceeded, "")
		case o.Now.Sub(u.StepAt) > u.HealthTimeout && u.Restart:
			to(StepFailed, "the restarted application did not run and complete a checkpoint within "+u.HealthTimeout.String())
		case o.Now.Sub(u.StepAt) > u.HealthTimeout:
			next.From, next.To = u.To, u.From
			to(StepRollingBack, "the new application did not run and complete a checkpoint within "+u.HealthTimeout.String())
		}
	}
	return next, ActNone
}
