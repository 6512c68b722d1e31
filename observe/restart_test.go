package observe

import (
	"strings"
	"testing"
	"time"
)

func TestDecideRestart(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	policy := AutoRestart{After: time.Minute, MaxRestarts: 2}
	unhealthy := Health{Status: HealthUnhealthy, Reasons: []string{"4 restarts within 10m0s (limit 3)"}, Since: now.Add(-2 * time.Minute)}
	base := RestartInput{Enabled: true, Eligible: true, State: "RUNNING", FlinkState: "RESTARTING", Health: unhealthy, Now: now}
	with := func(f func(*RestartInput)) RestartInput { in := base; f(&in); return in }
	for _, tc := range []struct {
		name    string
		p       AutoRestart
		in      RestartInput
		restart bool
		why     string // a part of the reason
	}{
		{"unhealthy long enough", policy, base, true, "unhealthy for 2m0s: 4 restarts"},
		{"exactly after", policy, with(func(in *RestartInput) { in.Health.Since = now.Add(-time.Minute) }), true, "unhealthy for 1m0s"},
		{"not long enough", policy, with(func(in *RestartInput) { in.Health.Since = now.Add(-59 * time.Second) }), false, "less than 1m0s"},
		{"switch off", policy, with(func(in *RestartInput) { in.Enabled = false }), false, "health.autoRestart"},
		{"session job or several jobs", policy, with(func(in *RestartInput) { in.Eligible = false }), false, "alone"},
		{"no policy", AutoRestart{}, base, false, "asked for no"},
		{"limit reached", AutoRestart{After: time.Minute, MaxRestarts: 2, Count: 2}, base, false, "restarted 2 times"},
		{"one left", AutoRestart{After: time.Minute, MaxRestarts: 2, Count: 1}, base, true, "unhealthy"},
		{"degraded", policy, with(func(in *RestartInput) { in.Health.Status = HealthDegraded }), false, "not unhealthy"},
		{"unknown (no answer)", policy, with(func(in *RestartInput) { in.Health.Status = HealthUnknown }), false, "not unhealthy"},
		{"no since yet", policy, with(func(in *RestartInput) { in.Health.Since = time.Time{} }), false, "no start time"},
		{"not running", policy, with(func(in *RestartInput) { in.State = "STARTING" }), false, "does not run"},
		{"ended", policy, with(func(in *RestartInput) { in.State, in.Terminal = "FAILED", true }), false, "does not run"},
		{"being canceled", policy, with(func(in *RestartInput) { in.FlinkState = "CANCELLING" }), false, "CANCELLING"},
		{"upgrade in progress", policy, with(func(in *RestartInput) { in.Upgrading = true }), false, "upgrade"},
		{"savepoint or stop in progress", policy, with(func(in *RestartInput) { in.SavepointInProgress = true }), false, "savepoint"},
		{"stopping", policy, with(func(in *RestartInput) { in.Stopping = true }), false, "stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DecideRestart(tc.p, tc.in)
			if d.Restart != tc.restart || !strings.Contains(d.Reason, tc.why) {
				t.Errorf("DecideRestart = %v %q, want %v with %q", d.Restart, d.Reason, tc.restart, tc.why)
			}
		})
	}
}

func TestHealthFollowing(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	for _, tc := range []struct {
		name       string
		prev, next Health
		want       time.Time
	}{
		{"first assessment", Health{}, Health{Status: HealthUnhealthy, CheckedAt: t1}, t1},
		{"same status keeps its start", Health{Status: HealthUnhealthy, Since: t0}, Health{Status: HealthUnhealthy, CheckedAt: t1}, t0},
		{"a change starts again", Health{Status: HealthDegraded, Since: t0}, Health{Status: HealthUnhealthy, CheckedAt: t1}, t1},
		{"a record of before Since", Health{Status: HealthUnhealthy}, Health{Status: HealthUnhealthy, CheckedAt: t1}, t1},
		{"not assessed", Health{Status: HealthUnhealthy, Since: t0}, Health{}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.next.Following(tc.prev).Since; !got.Equal(tc.want) {
				t.Errorf("Since = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRestartSteps: an automatic restart (Upgrade.Restart) restores the retained checkpoint like a
// last-state upgrade, falls back to the newest savepoint when the job retains no checkpoint, and fails
// instead of rolling back.
func TestRestartSteps(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	later := t0.Add(time.Minute)
	restart := func(step string, f func(*Upgrade)) Upgrade {
		u := Upgrade{ID: RestartUpgradeID(1), Mode: UpgradeLastState, Step: step, StepAt: t0, From: 0, To: 1,
			HealthTimeout: 5 * time.Minute, Restart: true, Reason: "unhealthy"}
		if f != nil {
			f(&u)
		}
		return u
	}
	for _, tc := range []struct {
		name        string
		u           Upgrade
		o           UpgradeObservation
		wantStep    string
		wantAct     UpgradeAction
		wantRestore string
		wantFromSP  bool
	}{
		{name: "retained checkpoint recorded first", u: restart(StepStopping, nil),
			o: UpgradeObservation{LatestCheckpoint: "/cp/chk-7", Now: later}, wantStep: StepStopping, wantRestore: "/cp/chk-7"},
		{name: "then canceled", u: restart(StepStopping, func(u *Upgrade) { u.Restore = "/cp/chk-7" }),
			o: UpgradeObservation{Now: later}, wantStep: StepStopping, wantAct: ActCancel, wantRestore: "/cp/chk-7"},
		{name: "ended: the checkpoint it retained", u: restart(StepStopping, func(u *Upgrade) { u.Restore = "/cp/chk-7" }),
			o: UpgradeObservation{OldEnded: true, FinalCheckpoint: "/cp/chk-8", Now: later}, wantStep: StepLaunching, wantRestore: "/cp/chk-8"},
		{name: "not retained: newest savepoint", u: restart(StepStopping, nil),
			o:        UpgradeObservation{LatestCheckpoint: "/cp/chk-7", NotRetained: true, NewestSavepoint: "/sp/3", Now: later},
			wantStep: StepStopping, wantRestore: "/sp/3", wantFromSP: true},
		{name: "savepoint chosen, ended: the archive's checkpoint is not taken", u: restart(StepStopping, func(u *Upgrade) { u.Restore, u.RestoreSavepoint = "/sp/3", true }),
			o: UpgradeObservation{OldEnded: true, FinalCheckpoint: "/cp/chk-9", Now: later}, wantStep: StepLaunching, wantRestore: "/sp/3", wantFromSP: true},
		{name: "not retained, no savepoint: fails, the job runs on", u: restart(StepStopping, nil),
			o: UpgradeObservation{NotRetained: true, Now: later}, wantStep: StepFailed},
		{name: "no checkpoint named for a while: newest savepoint", u: restart(StepStopping, nil),
			o: UpgradeObservation{NewestSavepoint: "/sp/3", Now: t0.Add(restartCheckpointWait + time.Second)}, wantStep: StepStopping,
			wantRestore: "/sp/3", wantFromSP: true},
		{name: "no checkpoint named yet: wait", u: restart(StepStopping, nil),
			o: UpgradeObservation{NewestSavepoint: "/sp/3", Now: later}, wantStep: StepStopping},
		{name: "launch refused: fails, no rollback", u: restart(StepLaunching, func(u *Upgrade) { u.Restore = "/cp/chk-8" }),
			o: UpgradeObservation{OldEnded: true, LaunchFailure: "bad jar", Now: later}, wantStep: StepFailed, wantRestore: "/cp/chk-8"},
		{name: "launched → verifying", u: restart(StepLaunching, nil), o: UpgradeObservation{Launched: "app2", Now: later}, wantStep: StepVerifying},
		{name: "healthy → succeeded", u: restart(StepVerifying, nil),
			o: UpgradeObservation{Launched: "app2", State: "RUNNING", Checkpoints: 1, Now: later}, wantStep: StepSucceeded},
		{name: "ended → failed, no rollback", u: restart(StepVerifying, nil),
			o: UpgradeObservation{Launched: "app2", State: "FAILED", Terminal: true, Checkpoints: -1, Now: later}, wantStep: StepFailed},
		{name: "no checkpoint in time → failed, no rollback", u: restart(StepVerifying, nil),
			o: UpgradeObservation{Launched: "app2", State: "RUNNING", Now: t0.Add(6 * time.Minute)}, wantStep: StepFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, act := UpgradeStep(tc.u, tc.o)
			if next.Step != tc.wantStep || act != tc.wantAct || next.Restore != tc.wantRestore || next.RestoreSavepoint != tc.wantFromSP {
				t.Errorf("UpgradeStep = %s %q restore %q (savepoint %v), want %s %q %q (%v); failure %q", next.Step, act, next.Restore,
					next.RestoreSavepoint, tc.wantStep, tc.wantAct, tc.wantRestore, tc.wantFromSP, next.Failure)
			}
			if next.From != tc.u.From || next.To != tc.u.To {
				t.Errorf("runs moved: %d→%d", next.From, next.To)
			}
		})
	}
}
