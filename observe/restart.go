package observe

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AutoRestart is a job's automatic restart: its policy (from the job's request) and what the gateway did
// under it. A restart is an upgrade (Upgrade.Restart) of the job to its own spec in last-state mode.
type AutoRestart struct {
	// After is how long the job must have been unhealthy, without a break, before it is restarted.
	After time.Duration `json:"after"`
	// MaxRestarts caps the automatic restarts of the job, over its whole life.
	MaxRestarts int `json:"maxRestarts"`
	// Count is the number of automatic restarts begun (each one an upgrade auto-restart-<Count>).
	Count int `json:"count,omitempty"`
	// LastAt is when the latest began; LastReason why (the health that triggered it).
	LastAt     time.Time `json:"lastAt,omitzero"`
	LastReason string    `json:"lastReason,omitempty"`
}

// RestartUpgradeID is the upgrade id of a job's n-th automatic restart (1 for the first).
func RestartUpgradeID(n int) string { return "auto-restart-" + strconv.Itoa(n) }

// RestartInput is what the decision to restart a job automatically depends on.
type RestartInput struct {
	// Enabled is the gateway's switch (health.autoRestart).
	Enabled bool
	// Eligible says the job runs alone in its own application cluster (not a session or registered
	// cluster's job, not an application of several jobs).
	Eligible bool
	// State and Terminal are the job's; Health its last assessment.
	State    string
	Terminal bool
	// FlinkState is the Flink job's own status ("" when not known): a job being canceled (CANCELLING) is
	// not restarted.
	FlinkState string
	Health     Health
	// Upgrading says an upgrade (or an earlier restart) has not reached a final step; SavepointInProgress
	// that a savepoint or a stop with a savepoint is under way; Stopping that the job is being stopped.
	Upgrading           bool
	SavepointInProgress bool
	Stopping            bool
	Now                 time.Time
}

// RestartDecision is the outcome of DecideRestart: whether to restart now and why (the reason is recorded
// with the restart), or why not (for logs and tests).
type RestartDecision struct {
	Restart bool
	Reason  string
}

// DecideRestart decides whether a job is to be restarted automatically now: its policy allows another
// restart, the gateway's switch is on, the job is RUNNING alone in its application and has been unhealthy
// (whichever check made it so: restarts in the window or an old last checkpoint) without a break for at
// least the policy's After, and nothing else is being done to it (an upgrade or an earlier restart not
// ended, a savepoint or a stop in progress). It is pure.
func DecideRestart(p AutoRestart, in RestartInput) RestartDecision {
	no := func(why string) RestartDecision { return RestartDecision{Reason: why} }
	switch {
	case !in.Enabled:
		return no("automatic restarts are off on this gateway (health.autoRestart)")
	case !in.Eligible:
		return no("only a job alone in its own application cluster is restarted automatically")
	case p.MaxRestarts <= 0 || p.After <= 0:
		return no("the job asked for no automatic restart")
	case in.Terminal || in.State != "RUNNING":
		return no("the job does not run")
	case in.FlinkState != "" && in.FlinkState != "RUNNING" && in.FlinkState != "RESTARTING" && in.FlinkState != "FAILING":
		return no("the Flink job is " + in.FlinkState)
	case in.Upgrading:
		return no("an upgrade or restart of the job is in progress")
	case in.SavepointInProgress:
		return no("a savepoint or stop of the job is in progress")
	case in.Stopping:
		return no("the job is being stopped")
	case in.Health.Status != HealthUnhealthy:
		return no("the job is not unhealthy")
	case in.Health.Since.IsZero():
		return no("the job's health has no start time yet")
	case in.Now.Sub(in.Health.Since) < p.After:
		return no(fmt.Sprintf("unhealthy for %s, less than %s", in.Now.Sub(in.Health.Since).Round(time.Second), p.After))
	case p.Count >= p.MaxRestarts:
		return no(fmt.Sprintf("the job was restarted %d times already, its limit", p.Count))
	}
	return RestartDecision{Restart: true, Reason: fmt.Sprintf("unhealthy for %s: %s",
		in.Now.Sub(in.Health.Since).Round(time.Second), strings.Join(in.Health.Reasons, "; "))}
}
