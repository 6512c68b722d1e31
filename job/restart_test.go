package job

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// TestAutoRestartRequest: a request's autoRestart is refused where it cannot work (the gateway's switch off,
// a session job, several jobs, bad values) and otherwise recorded and rendered.
func TestAutoRestartRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		enabled bool
		mutate  func(*api.JobRequest)
		field   string // the field of the 400, "" for success
	}{
		{"recorded", true, func(r *api.JobRequest) {}, ""},
		{"switch off", false, func(r *api.JobRequest) {}, "autoRestart"},
		{"session job", true, func(r *api.JobRequest) { r.Target, r.SessionID = "session", "application_1767225600000_0001" }, "autoRestart"},
		{"several jobs", true, func(r *api.JobRequest) { r.MultipleJobs = true }, "autoRestart"},
		{"no delay", true, func(r *api.JobRequest) { r.AutoRestart.AfterSeconds = 0 }, "autoRestart.afterSeconds"},
		{"no restarts", true, func(r *api.JobRequest) { r.AutoRestart.MaxRestarts = 0 }, "autoRestart.maxRestarts"},
		{"too many restarts", true, func(r *api.JobRequest) { r.AutoRestart.MaxRestarts = 101 }, "autoRestart.maxRestarts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestService(t, nil)
			s.opts.AutoRestart = tc.enabled
			req := jobRequest(goodID)
			req.AutoRestart = &api.AutoRestartSpec{AfterSeconds: 90, MaxRestarts: 2}
			tc.mutate(&req)
			j, _, err := s.Submit(t.Context(), req, "")
			if tc.field != "" {
				var se *api.SpecError
				if !errors.As(err, &se) || !strings.Contains(mustJSON(se.Problems), `"field":"`+tc.field+`"`) {
					t.Fatalf("Submit = %v, want a 400 on %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a := j.AutoRestart; a == nil || a.AfterSeconds != 90 || a.MaxRestarts != 2 || !a.Enabled || a.Restarts != 0 || a.LastReason != nil {
				t.Fatalf("autoRestart = %+v", a)
			}
			if rec, _ := s.reg.Get(t.Context(), j.ID); rec.AutoRestart == nil || rec.AutoRestart.After != 90*time.Second {
				t.Fatalf("record's policy = %+v", rec.AutoRestart)
			}
		})
	}
}

// TestAutoRestartBegins: the leader's round begins a restart only when it is due, recording it as an
// upgrade of the job's own spec in last-state mode with a run of its own, counted, and announced by an
// upgrade event; a second round begins no other.
func TestAutoRestartBegins(t *testing.T) {
	const app, flinkJob = "application_1767225600000_0042", "0000019b76daa800000000000000002a"
	now := time.Now()
	spec := `{"name":"counting","jarId":"` + goodID + `","args":["--mode","counting"],"autoRestart":{"afterSeconds":60,"maxRestarts":2}}`
	unhealthy := observe.Health{Status: observe.HealthUnhealthy, Reasons: []string{"4 restarts within 10m0s (limit 3)"}, CheckedAt: now, Since: now.Add(-2 * time.Minute)}
	for _, tc := range []struct {
		name    string
		enabled bool
		mutate  func(*registry.Record, *observe.Status)
		begun   bool
	}{
		{"due", true, func(*registry.Record, *observe.Status) {}, true},
		{"switch off", false, func(*registry.Record, *observe.Status) {}, false},
		{"not unhealthy long enough", true, func(_ *registry.Record, st *observe.Status) { st.Health.Since = now.Add(-30 * time.Second) }, false},
		{"limit reached", true, func(r *registry.Record, _ *observe.Status) { r.AutoRestart.Count = 2 }, false},
		{"a user's stop in progress", true, func(r *registry.Record, _ *observe.Status) {
			r.Savepoints = []observe.Savepoint{{TriggerID: "s", State: observe.SavepointInProgress, Stop: true}}
		}, false},
		{"an upgrade in progress", true, func(r *registry.Record, _ *observe.Status) {
			r.Upgrade = &observe.Upgrade{ID: "u", Mode: observe.UpgradeSavepoint, Step: observe.StepVerifying}
		}, false},
		{"a session job", true, func(r *registry.Record, _ *observe.Status) { r.Kind = registry.KindSessionJob }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestService(t, nil)
			s.opts.AutoRestart = tc.enabled
			rec := registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Target: "application", Owner: "alice", Spec: json.RawMessage(spec),
				AutoRestart: &observe.AutoRestart{After: time.Minute, MaxRestarts: 2}}
			st := observe.Status{State: "RUNNING", JobManager: "http://jm:8081", Health: unhealthy, Flink: observe.Flink{JobID: flinkJob, State: "RESTARTING"},
				YARN: observe.YARN{ApplicationID: app, State: "RUNNING", User: "alice"}}
			tc.mutate(&rec, &st)
			seed(t, s, rec, st)
			s.autoRestarts(t.Context(), now)
			got, _ := s.reg.Get(t.Context(), app)
			if !tc.begun {
				if got.Upgrade != nil && got.Upgrade.Restart {
					t.Fatalf("restart begun: %+v", got.Upgrade)
				}
				return
			}
			u := got.Upgrade
			if u == nil || !u.Restart || u.ID != "auto-restart-1" || u.Mode != observe.UpgradeLastState || u.Step != observe.StepStopping ||
				u.From != 0 || u.To != 1 || !strings.Contains(u.Reason, "4 restarts") || u.RequestedBy != restartRequester {
				t.Fatalf("upgrade = %+v", u)
			}
			if len(got.Runs) != 2 || string(got.Runs[1].Spec) != spec || got.Runs[1].User != "alice" || got.Runs[1].LaunchTag == "" {
				t.Fatalf("runs = %+v", got.Runs)
			}
			if got.AutoRestart.Count != 1 || got.AutoRestart.LastReason != u.Reason {
				t.Fatalf("policy = %+v", got.AutoRestart)
			}
			var ev *registry.Event
			for i := range got.Outbox {
				if got.Outbox[i].Type == registry.EventUpgrade {
					ev = &got.Outbox[i]
				}
			}
			if ev == nil || ev.Data["upgradeId"] != "auto-restart-1" || ev.Data["step"] != "STOPPING" || ev.Data["reason"] != "auto-restart" || ev.Reason != u.Reason {
				t.Fatalf("upgrade event = %+v", ev)
			}
			j := s.renderJob(got)
			if j.AutoRestart == nil || j.AutoRestart.Restarts != 1 || j.AutoRestart.LastReason == nil || j.Upgrade == nil || !j.Upgrade.Automatic {
				t.Fatalf("job object: %+v / %+v", j.AutoRestart, j.Upgrade)
			}
			// The next round: the restart is in progress, nothing else begins.
			s.autoRestarts(t.Context(), now.Add(time.Second))
			if again, _ := s.reg.Get(t.Context(), app); again.AutoRestart.Count != 1 || len(again.Runs) != 2 {
				t.Fatalf("a second restart: %+v, %d runs", again.AutoRestart, len(again.Runs))
			}
		})
	}
}

// TestAutoRestartFallsBackToSavepoint: a restarting job whose checkpoint configuration says it retains no
// checkpoint on cancellation restores its newest completed savepoint.
func TestAutoRestartFallsBackToSavepoint(t *testing.T) {
	const app, flinkJob = "application_1767225600000_0042", "0000019b76daa800000000000000002a"
	jm := &fakeJobManager{} // answers the checkpoint configuration without externalization
	srv := httptest.NewServer(jm)
	defer srv.Close()
	s := newTestService(t, nil)
	s.opts.AutoRestart = true
	now := time.Now()
	seed(t, s, registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Target: "application", Spec: json.RawMessage(`{"jarId":"` + goodID + `"}`),
		AutoRestart: &observe.AutoRestart{After: time.Second, MaxRestarts: 1},
		Savepoints: []observe.Savepoint{
			{TriggerID: "a", State: observe.SavepointCompleted, Path: "hdfs:///sp/a", CompletedAt: now.Add(-time.Hour)},
			{TriggerID: "b", State: observe.SavepointCompleted, Path: "hdfs:///sp/b", CompletedAt: now.Add(-time.Minute)},
			{TriggerID: "c", State: observe.SavepointFailed, CompletedAt: now}}},
		observe.Status{State: "RUNNING", JobManager: srv.URL, Flink: observe.Flink{JobID: flinkJob, State: "RUNNING"},
			Health: observe.Health{Status: observe.HealthUnhealthy, CheckedAt: now, Since: now.Add(-time.Minute)},
			YARN:   observe.YARN{ApplicationID: app, State: "RUNNING"}})
	s.autoRestarts(t.Context(), now)
	rec, _ := s.reg.Get(t.Context(), app)
	if rec.Upgrade == nil || !rec.Upgrade.Restart {
		t.Fatalf("no restart: %+v", rec.Upgrade)
	}
	s.driveUpgrade(t.Context(), rec)
	rec, _ = s.reg.Get(t.Context(), app)
	if rec.Upgrade.Restore != "hdfs:///sp/b" || !rec.Upgrade.RestoreSavepoint || rec.Upgrade.Step != observe.StepStopping {
		t.Fatalf("upgrade = %+v", rec.Upgrade)
	}
	if !strings.Contains(strings.Join(jm.calls, "\n"), "GET /jobs/"+flinkJob+"/checkpoints/config") {
		t.Fatalf("JobManager calls = %v", jm.calls)
	}
	// The next round cancels the job.
	s.driveUpgrade(t.Context(), rec)
	if last := jm.calls[len(jm.calls)-1]; !strings.HasPrefix(last, "PATCH /jobs/"+flinkJob) {
		t.Errorf("JobManager calls = %v, want the cancel last", jm.calls)
	}
}
