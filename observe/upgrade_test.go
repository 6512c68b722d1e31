package observe

import (
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
)

func TestUpgradeStep(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	later := t0.Add(time.Minute)
	base := func(mode, step string) Upgrade {
		return Upgrade{ID: "u", Mode: mode, Step: step, StepAt: t0, From: 0, To: 1, HealthTimeout: 5 * time.Minute}
	}
	with := func(u Upgrade, f func(*Upgrade)) Upgrade { f(&u); return u }
	tests := []struct {
		name     string
		u        Upgrade
		o        UpgradeObservation
		wantStep string
		wantAct  UpgradeAction
		check    func(t *testing.T, next Upgrade)
	}{
		{name: "savepoint: stop not sent yet", u: base(UpgradeSavepoint, StepStopping),
			o: UpgradeObservation{SavepointState: SavepointInProgress}, wantStep: StepStopping, wantAct: ActStop},
		{name: "savepoint: stop sent, waiting", u: with(base(UpgradeSavepoint, StepStopping), func(u *Upgrade) { u.StopSent = true }),
			o: UpgradeObservation{SavepointState: SavepointInProgress}, wantStep: StepStopping},
		{name: "savepoint: completed, job still ending", u: with(base(UpgradeSavepoint, StepStopping), func(u *Upgrade) { u.StopSent = true }),
			o: UpgradeObservation{SavepointState: SavepointCompleted, SavepointPath: "/sp/1"}, wantStep: StepStopping},
		{name: "savepoint: completed and ended → launch restoring it", u: with(base(UpgradeSavepoint, StepStopping), func(u *Upgrade) { u.StopSent = true }),
			o: UpgradeObservation{SavepointState: SavepointCompleted, SavepointPath: "/sp/1", OldEnded: true}, wantStep: StepLaunching,
			check: func(t *testing.T, n Upgrade) {
				if n.Restore != "/sp/1" || !n.StepAt.Equal(later) {
					t.Errorf("restore %q at %v", n.Restore, n.StepAt)
				}
			}},
		{name: "savepoint: failed → upgrade failed, old job untouched", u: base(UpgradeSavepoint, StepStopping),
			o: UpgradeObservation{SavepointState: SavepointFailed, SavepointFailure: "boom"}, wantStep: StepFailed,
			check: func(t *testing.T, n Upgrade) {
				if n.Failure != "the stop's savepoint failed: boom" || n.EndedAt.IsZero() {
					t.Errorf("failure %q ended %v", n.Failure, n.EndedAt)
				}
			}},
		{name: "savepoint: job ended without it", u: with(base(UpgradeSavepoint, StepStopping), func(u *Upgrade) { u.StopSent = true }),
			o: UpgradeObservation{SavepointState: SavepointInProgress, OldEnded: true}, wantStep: StepFailed},
		{name: "savepoint: stop never ends", u: with(base(UpgradeSavepoint, StepStopping), func(u *Upgrade) { u.StopSent = true }),
			o: UpgradeObservation{SavepointState: SavepointInProgress, Now: t0.Add(stoppingTimeout + time.Second)}, wantStep: StepFailed},
		{name: "last-state: checkpoint read is recorded before the cancel", u: base(UpgradeLastState, StepStopping),
			o: UpgradeObservation{LatestCheckpoint: "/cp/chk-7"}, wantStep: StepStopping, wantAct: ActNone,
			check: func(t *testing.T, n Upgrade) {
				if n.Restore != "/cp/chk-7" {
					t.Errorf("restore %q", n.Restore)
				}
			}},
		{name: "last-state: no checkpoint yet, wait", u: base(UpgradeLastState, StepStopping), wantStep: StepStopping},
		{name: "last-state: recorded → cancel", u: with(base(UpgradeLastState, StepStopping), func(u *Upgrade) { u.Restore = "/cp/chk-7" }),
			wantStep: StepStopping, wantAct: ActCancel},
		{name: "last-state: canceled → launch", u: with(base(UpgradeLastState, StepStopping), func(u *Upgrade) { u.Restore = "/cp/chk-7" }),
			o: UpgradeObservation{OldEnded: true}, wantStep: StepLaunching},
		{name: "last-state: the checkpoint the canceled job retained wins", u: with(base(UpgradeLastState, StepStopping), func(u *Upgrade) { u.Restore = "/cp/chk-7" }),
			o: UpgradeObservation{OldEnded: true, FinalCheckpoint: "/cp/chk-9"}, wantStep: StepLaunching,
			check: func(t *testing.T, n Upgrade) {
				if n.Restore != "/cp/chk-9" {
					t.Errorf("restore %q", n.Restore)
				}
			}},
		{name: "last-state: ended without checkpoint", u: base(UpgradeLastState, StepStopping),
			o: UpgradeObservation{OldEnded: true}, wantStep: StepFailed},
		{name: "stateless: cancel", u: base(UpgradeStateless, StepStopping), wantStep: StepStopping, wantAct: ActCancel},
		{name: "stateless: canceled → launch without restore", u: base(UpgradeStateless, StepStopping),
			o: UpgradeObservation{OldEnded: true}, wantStep: StepLaunching,
			check: func(t *testing.T, n Upgrade) {
				if n.Restore != "" {
					t.Errorf("restore %q", n.Restore)
				}
			}},
		{name: "launching: launch", u: base(UpgradeSavepoint, StepLaunching), o: UpgradeObservation{OldEnded: true}, wantStep: StepLaunching, wantAct: ActLaunch},
		{name: "launching: recorded → verify", u: base(UpgradeSavepoint, StepLaunching), o: UpgradeObservation{Launched: "app_2"}, wantStep: StepVerifying},
		{name: "launching: refused → roll back", u: base(UpgradeSavepoint, StepLaunching), o: UpgradeObservation{LaunchFailure: "no such class"},
			wantStep: StepRollingBack, check: func(t *testing.T, n Upgrade) {
				if n.From != 1 || n.To != 0 || n.Failure != "the new spec could not be launched: no such class" {
					t.Errorf("from %d to %d failure %q", n.From, n.To, n.Failure)
				}
			}},
		{name: "verifying: starting", u: base(UpgradeSavepoint, StepVerifying), o: UpgradeObservation{Launched: "app_2", State: "SUBMITTED"}, wantStep: StepVerifying},
		{name: "verifying: running without checkpoint", u: base(UpgradeSavepoint, StepVerifying),
			o: UpgradeObservation{Launched: "app_2", State: "RUNNING", Checkpoints: 0}, wantStep: StepVerifying},
		{name: "verifying: running with a checkpoint → succeeded", u: base(UpgradeSavepoint, StepVerifying),
			o: UpgradeObservation{Launched: "app_2", State: "RUNNING", Checkpoints: 1}, wantStep: StepSucceeded},
		{name: "verifying: failed → roll back", u: base(UpgradeSavepoint, StepVerifying),
			o: UpgradeObservation{Launched: "app_2", State: "FAILED", Terminal: true}, wantStep: StepRollingBack,
			check: func(t *testing.T, n Upgrade) {
				if n.From != 1 || n.To != 0 {
					t.Errorf("from %d to %d", n.From, n.To)
				}
			}},
		{name: "verifying: timeout → roll back", u: base(UpgradeSavepoint, StepVerifying),
			o: UpgradeObservation{Launched: "app_2", State: "RUNNING", Checkpoints: 0, Now: t0.Add(6 * time.Minute)}, wantStep: StepRollingBack},
		{name: "rolling back: kill the failed application first", u: base(UpgradeSavepoint, StepRollingBack), wantStep: StepRollingBack, wantAct: ActKill},
		{name: "rolling back: launch the previous spec", u: base(UpgradeSavepoint, StepRollingBack), o: UpgradeObservation{OldEnded: true},
			wantStep: StepRollingBack, wantAct: ActLaunch},
		{name: "rolling back: launched → rolled back", u: base(UpgradeSavepoint, StepRollingBack), o: UpgradeObservation{Launched: "app_3"},
			wantStep: StepRolledBack},
		{name: "rolling back: refused → failed", u: base(UpgradeSavepoint, StepRollingBack), o: UpgradeObservation{OldEnded: true, LaunchFailure: "x"},
			wantStep: StepFailed},
		{name: "final steps stay", u: base(UpgradeSavepoint, StepSucceeded), o: UpgradeObservation{OldEnded: true}, wantStep: StepSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.o.Now.IsZero() {
				tt.o.Now = later
			}
			next, act := UpgradeStep(tt.u, tt.o)
			if next.Step != tt.wantStep || act != tt.wantAct {
				t.Fatalf("UpgradeStep = %s, %q; want %s, %q (%+v)", next.Step, act, tt.wantStep, tt.wantAct, next)
			}
			if next.Step == tt.u.Step && next.StepAt != tt.u.StepAt {
				t.Errorf("the step's time moved without a new step")
			}
			if tt.check != nil {
				tt.check(t, next)
			}
		})
	}
}

// TestUpgradeFinalMatchesAPI: the API's JobUpgrade.Final, which clients wait on, agrees with UpgradeFinal.
func TestUpgradeFinalMatchesAPI(t *testing.T) {
	for _, step := range []string{StepStopping, StepLaunching, StepVerifying, StepRollingBack, StepSucceeded, StepRolledBack, StepFailed} {
		if got, want := (api.JobUpgrade{Step: step}).Final(), UpgradeFinal(step); got != want {
			t.Errorf("api.JobUpgrade{Step: %s}.Final() = %v, UpgradeFinal = %v", step, got, want)
		}
	}
}
