package registry_test

import (
	"testing"
	"time"

	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/registrytest"
)

// TestUpgradeRuns follows a record through an upgrade that rolls back: its runs, their outcomes, the upgrade
// events, and the lookup by any of its applications (another instance's too).
func TestUpgradeRuns(t *testing.T) {
	s := registrytest.NewMemStore()
	a, b := open(t, s), open(t, s)
	ctx := t.Context()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := registry.Record{ID: "application_1_0001", Kind: registry.KindJob, ApplicationID: "application_1_0001", Spec: []byte(`{"args":["v1"]}`)}
	rec.SetStatus(observe.Status{Schema: observe.SchemaVersion, State: "RUNNING", Since: now, YARN: observe.YARN{ApplicationID: rec.ID, User: "alice"}}, "")
	if _, err := a.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	update := func(f func(r *registry.Record)) registry.Record {
		t.Helper()
		r, err := a.Update(ctx, rec.ID, func(r *registry.Record) (bool, error) { f(r); return true, nil })
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	u := observe.Upgrade{ID: "u1", Mode: observe.UpgradeSavepoint, Step: observe.StepStopping, From: 0, To: 1}
	r := update(func(r *registry.Record) {
		r.EnsureRuns()
		r.Runs = append(r.Runs, registry.Run{Spec: []byte(`{"args":["v2"]}`), LaunchTag: "yarngate-idem:x"})
		r.SetUpgrade(u, now)
	})
	if len(r.Runs) != 2 || r.Runs[0].ApplicationID != rec.ID || r.Runs[0].User != "alice" {
		t.Fatalf("runs = %+v", r.Runs)
	}
	if id, ok := a.ByLaunchTag([]string{"other", "yarngate-idem:x"}); !ok || id != rec.ID {
		t.Errorf("ByLaunchTag = %q, %v", id, ok)
	}
	// The old application finished (stop with a savepoint); the new one is launched.
	r = update(func(r *registry.Record) {
		r.SetState("FINISHED", true, now, "")
		u.Step, u.Restore = observe.StepLaunching, "/sp/1"
		r.SetUpgrade(u, now)
		r.StartRun(1, "application_1_0002", r.Runs[1].Spec, observe.Status{Schema: observe.SchemaVersion, State: "SUBMITTED", Since: now,
			YARN: observe.YARN{ApplicationID: "application_1_0002"}}, now)
	})
	if r.Terminal || r.State != "SUBMITTED" || r.ApplicationID != "application_1_0002" || string(r.Spec) != `{"args":["v2"]}` ||
		r.Runs[0].Outcome != registry.RunReplaced || r.Runs[1].Restore != "/sp/1" {
		t.Fatalf("after the launch: %+v", r)
	}
	if _, ok := a.ByLaunchTag([]string{"yarngate-idem:x"}); ok {
		t.Errorf("a launched run is still indexed by its launch tag")
	}
	// It failed: roll back to run 0's spec from the same savepoint.
	r = update(func(r *registry.Record) {
		u.Step, u.From, u.To = observe.StepRollingBack, 1, 0
		r.SetUpgrade(u, now)
	})
	if len(r.Runs) != 3 || r.Upgrade.To != 2 || string(r.Runs[2].Spec) != `{"args":["v1"]}` || r.Runs[2].Restore != "/sp/1" ||
		r.Runs[2].User != "alice" || r.Runs[1].Outcome != registry.RunRolledBack {
		t.Fatalf("after the rollback step: %+v / %+v", r.Runs, r.Upgrade)
	}
	var steps []string
	for _, e := range r.Outbox {
		if e.Type == registry.EventUpgrade {
			steps = append(steps, e.Data["step"])
		}
	}
	if len(steps) != 3 || steps[0] != "STOPPING" || steps[1] != "LAUNCHING" || steps[2] != "ROLLING_BACK" {
		t.Errorf("upgrade events = %v", steps)
	}
	if r.SetUpgrade(*r.Upgrade, now) {
		t.Errorf("an unchanged upgrade was a change")
	}
	for _, reg := range []*registry.Registry{a, b} {
		if _, err := reg.Get(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
		for _, app := range []string{"application_1_0001", "application_1_0002"} {
			deadline := time.Now().Add(5 * time.Second)
			for {
				got, ok := reg.ByApplication(app)
				if ok && got.ID == rec.ID && len(got.Runs) == 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("ByApplication(%s) = %+v, %v", app, got.ID, ok)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	if _, ok := a.ByApplication("application_1_0009"); ok {
		t.Errorf("an unknown application resolved")
	}
}
