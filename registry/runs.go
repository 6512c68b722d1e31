package registry

import (
	"encoding/json"
	"time"

	"github.com/yarngate/yarngate/observe"
)

// Outcomes of a run (an application of a job that outlives its applications).
const (
	// RunReplaced: an upgrade replaced it with a newer run.
	RunReplaced = "replaced"
	// RunRolledBack: its spec was rolled back (it did not become healthy, or was not launched).
	RunRolledBack = "rolled-back"
)

// Run is one application of a job: the first is the one the job was submitted with, each upgrade (and
// rollback) adds one. The job's id stays its first application's id.
type Run struct {
	// ApplicationID is its YARN application; "" until its launch is recorded.
	ApplicationID string `json:"applicationId,omitempty"`
	// Spec is its job request, without secrets.
	Spec json.RawMessage `json:"spec,omitempty"`
	// Restore is the savepoint or checkpoint it restored ("" for none).
	Restore string `json:"restore,omitempty"`
	// LaunchTag is the idempotency tag its application is launched with (upgrade runs): a launch resumed
	// after a restart finds the application by it instead of launching twice.
	LaunchTag string `json:"launchTag,omitempty"`
	// SpecTag is the tag that identifies its spec (with LaunchTag).
	SpecTag string `json:"specTag,omitempty"`
	// User is the user its application runs as.
	User string `json:"user,omitempty"`
	// Outcome is "" for the current run, RunReplaced or RunRolledBack.
	Outcome   string    `json:"outcome,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
}

// EnsureRuns gives a record of one application its first run (records of earlier versions have none).
func (r *Record) EnsureRuns() {
	if len(r.Runs) == 0 && r.ApplicationID != "" {
		r.Runs = []Run{{ApplicationID: r.ApplicationID, Spec: r.Spec, User: r.Status.YARN.User, CreatedAt: r.CreatedAt, StartedAt: r.CreatedAt}}
	}
}

// HasApplication reports whether the application is one of the record's runs (or its current one).
func (r *Record) HasApplication(appID string) bool {
	if r.ApplicationID == appID {
		return true
	}
	for _, run := range r.Runs {
		if run.ApplicationID == appID {
			return true
		}
	}
	return false
}

// SetUpgrade stores the next state of the record's upgrade and publishes an EventUpgrade when its step
// changed; false when nothing changed. Entering ROLLING_BACK appends the rollback run (the spec of run
// next.To, restoring next.Restore) and points next.To at it; leaving a run marks its outcome.
func (r *Record) SetUpgrade(next observe.Upgrade, now time.Time) bool {
	prev := r.Upgrade
	if prev != nil && *prev == next {
		return false
	}
	if next.Step == observe.StepRollingBack && (prev == nil || prev.Step != observe.StepRollingBack) {
		spec, user := json.RawMessage(nil), ""
		if next.To >= 0 && next.To < len(r.Runs) {
			spec, user = r.Runs[next.To].Spec, r.Runs[next.To].User
		}
		if next.From >= 0 && next.From < len(r.Runs) {
			r.Runs[next.From].Outcome = RunRolledBack
			if r.Runs[next.From].EndedAt.IsZero() {
				r.Runs[next.From].EndedAt = now.UTC()
			}
		}
		r.Runs = append(r.Runs, Run{Spec: spec, User: user, Restore: next.Restore, CreatedAt: now.UTC()})
		next.To = len(r.Runs) - 1
	}
	if next.Step == observe.StepLaunching && next.To >= 0 && next.To < len(r.Runs) {
		r.Runs[next.To].Restore = next.Restore
	}
	r.Upgrade = &next
	if prev == nil || prev.Step != next.Step {
		data := map[string]string{"step": next.Step, "upgradeId": next.ID, "mode": next.Mode}
		if next.Restore != "" {
			data["restore"] = next.Restore
		}
		if next.Restart {
			data["reason"] = "auto-restart" // the upgrade is an automatic restart; its cause is the event's reason
		}
		if next.To >= 0 && next.To < len(r.Runs) && r.Runs[next.To].ApplicationID != "" {
			data["applicationId"] = r.Runs[next.To].ApplicationID
		}
		reason := next.Failure
		if reason == "" && next.Restart {
			reason = next.Reason
		}
		r.Publish(Event{Type: EventUpgrade, At: now, State: r.State, Reason: reason, Data: data})
	}
	return true
}

// StartRun records the launch of run i as application appID: it becomes the record's current application
// (the job's state follows it from status st on, even after an application that ended), and the run it
// replaces is marked replaced.
func (r *Record) StartRun(i int, appID string, spec json.RawMessage, st observe.Status, now time.Time) {
	for j := range r.Runs {
		if j != i && r.Runs[j].ApplicationID == r.ApplicationID && r.Runs[j].EndedAt.IsZero() {
			r.Runs[j].EndedAt = now.UTC()
			if r.Runs[j].Outcome == "" {
				r.Runs[j].Outcome = RunReplaced
			}
		}
	}
	r.Runs[i].ApplicationID, r.Runs[i].StartedAt = appID, now.UTC()
	r.ApplicationID, r.Spec = appID, spec
	r.Terminal, r.EndedAt, r.GoneAt = false, time.Time{}, time.Time{}
	r.SetStatus(st, "upgrade: application "+appID)
}
