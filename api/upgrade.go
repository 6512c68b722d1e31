package api

import (
	"encoding/json"
	"time"
)

// UpgradeMode says how an upgrade carries the job's state across.
type UpgradeMode string

// Upgrade modes.
const (
	// UpgradeStateless cancels the job and starts the new spec empty.
	UpgradeStateless UpgradeMode = "stateless"
	// UpgradeSavepoint stops the job with a savepoint and restores it (the default).
	UpgradeSavepoint UpgradeMode = "savepoint"
	// UpgradeLastState reads the job's latest retained checkpoint, cancels the job and restores the
	// checkpoint (the job must retain checkpoints on cancellation).
	UpgradeLastState UpgradeMode = "last-state"
)

// UpgradeRequest is the body of POST /v1/jobs/{id}/upgrade: the new spec's changes (fields absent keep the
// current spec's) and the mode.
type UpgradeRequest struct {
	// UpgradeID makes the request idempotent: the same id again answers the upgrade it started.
	UpgradeID string `json:"upgradeId,omitempty"`
	// Mode is stateless, savepoint (default) or last-state.
	Mode UpgradeMode `json:"mode,omitempty"`
	// JarID, JarPath, EntryClass, Args, FlinkVersion, Parallelism, FlinkConfig: the new spec (FlinkConfig
	// replaces the current one as a whole when given; a jar id or path replaces both).
	JarID        string         `json:"jarId,omitempty"`
	JarPath      string         `json:"jarPath,omitempty"`
	EntryClass   *string        `json:"entryClass,omitempty"`
	Args         []string       `json:"args,omitempty"`
	FlinkVersion string         `json:"flinkVersion,omitempty"`
	Parallelism  *int           `json:"parallelism,omitempty"`
	FlinkConfig  map[string]any `json:"flinkConfig,omitempty"`
	// AllowNonRestoredState lets the new spec drop state the old one had.
	AllowNonRestoredState bool `json:"allowNonRestoredState,omitempty"`
	// HealthTimeoutSeconds bounds how long the new application may take to run and complete a checkpoint
	// before it is rolled back (default: the gateway's upgrades.healthTimeout).
	HealthTimeoutSeconds int `json:"healthTimeoutSeconds,omitempty"`
}

// JobUpgrade is the job's latest upgrade.
type JobUpgrade struct {
	ID   string      `json:"id"`
	Mode UpgradeMode `json:"mode"`
	// Step is STOPPING, LAUNCHING, VERIFYING, ROLLING_BACK, or final: SUCCEEDED, ROLLED_BACK, FAILED.
	Step   string    `json:"step"`
	StepAt time.Time `json:"stepAt"`
	// Restore is the savepoint or checkpoint the new application restores (and a rollback).
	Restore *string `json:"restore,omitempty"`
	// Automatic marks an automatic restart (the job's own spec in last-state mode; id auto-restart-<n>),
	// begun by the gateway because of Reason.
	Automatic bool    `json:"automatic,omitempty"`
	Reason    *string `json:"reason,omitempty"`
	// Failure says why it rolled back or failed.
	Failure     *string    `json:"failure,omitempty"`
	RequestedBy string     `json:"requestedBy,omitempty"`
	RequestedAt time.Time  `json:"requestedAt"`
	EndedAt     *time.Time `json:"endedAt,omitempty"`
}

// Final reports whether the upgrade has ended: SUCCEEDED (the new spec runs), ROLLED_BACK (the previous spec
// runs again) or FAILED (it gave up: the old job runs on, or could not be rolled back).
func (u JobUpgrade) Final() bool {
	switch u.Step {
	case "SUCCEEDED", "ROLLED_BACK", "FAILED":
		return true
	}
	return false
}

// JobRun is one application of a job (a job outlives its applications through upgrades).
type JobRun struct {
	// ApplicationID is absent while its launch is under way.
	ApplicationID string `json:"applicationId,omitempty"`
	// Spec is its job request, without secrets.
	Spec json.RawMessage `json:"spec,omitempty"`
	// Restore is the savepoint or checkpoint it restored.
	Restore *string `json:"restore,omitempty"`
	// Outcome is absent for the current run, else replaced or rolled-back.
	Outcome   string     `json:"outcome,omitempty"`
	Current   bool       `json:"current"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
}
