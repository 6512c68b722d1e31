package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
)

func TestUpgradeRequest(t *testing.T) {
	const app, flinkJob = "application_1767225600000_0042", "0000019b76daa800000000000000002a"
	spec := `{"name":"counting","jarId":"` + goodID + `","args":["--rate","1"],"flinkConfig":{"a":"b"}}`
	for _, tc := range []struct {
		name  string
		req   api.UpgradeRequest
		kind  string
		state string
		err   error
		// want, on success
		mode, args string
	}{
		{name: "savepoint by default", req: api.UpgradeRequest{UpgradeID: "u1", Args: []string{"--rate", "2"}}, mode: "savepoint", args: `["--rate","2"]`},
		{name: "stateless keeps the arguments", req: api.UpgradeRequest{Mode: api.UpgradeStateless}, mode: "stateless", args: `["--rate","1"]`},
		{name: "last-state", req: api.UpgradeRequest{Mode: api.UpgradeLastState}, mode: "last-state", args: `["--rate","1"]`},
		{name: "bad mode", req: api.UpgradeRequest{Mode: "blue-green"}, err: &api.SpecError{}},
		{name: "bad upgrade id", req: api.UpgradeRequest{UpgradeID: "a b"}, err: &api.SpecError{}},
		{name: "bad new spec", req: api.UpgradeRequest{FlinkConfig: map[string]any{"yarn.application.queue": "x"}}, err: &api.SpecError{}},
		{name: "session job", req: api.UpgradeRequest{}, kind: registry.KindSessionJob, err: &api.SpecError{}},
		{name: "not running", req: api.UpgradeRequest{}, state: "STARTING", err: ErrJobNotRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestService(t, nil)
			s.opts.SavepointRoot = "hdfs://nn:8020/stage/savepoints"
			kind := tc.kind
			if kind == "" {
				kind = registry.KindJob
			}
			state := tc.state
			if state == "" {
				state = "RUNNING"
			}
			seed(t, s, registry.Record{ID: app, Kind: kind, ApplicationID: app, Target: "application", Spec: json.RawMessage(spec)},
				observe.Status{State: state, JobManager: "http://jm:8081", Flink: observe.Flink{JobID: flinkJob}, YARN: observe.YARN{ApplicationID: app, State: "RUNNING", User: "alice"}})
			j, created, err := s.Upgrade(t.Context(), app, tc.req)
			var se *api.SpecError
			switch {
			case tc.err != nil && errors.As(tc.err, &se):
				if !errors.As(err, &se) {
					t.Fatalf("error %v, want a SpecError", err)
				}
				return
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			case err != nil || !created:
				t.Fatalf("Upgrade = %v, %v", created, err)
			}
			if j.Upgrade == nil || j.Upgrade.Step != observe.StepStopping || string(j.Upgrade.Mode) != tc.mode || len(j.Runs) != 2 ||
				!j.Runs[0].Current || j.Runs[0].ApplicationID != app || j.Runs[1].ApplicationID != "" {
				t.Fatalf("job = %+v / %+v", j.Upgrade, j.Runs)
			}
			var next api.JobRequest
			if err := json.Unmarshal(j.Runs[1].Spec, &next); err != nil || mustJSON(next.Args) != tc.args || next.Name != "counting" || next.FlinkConfig["a"] != "b" {
				t.Errorf("new run's spec = %s", j.Runs[1].Spec)
			}
			rec, _ := s.reg.Get(t.Context(), app)
			if rec.Runs[1].LaunchTag == "" || rec.Runs[1].User != "alice" || rec.Upgrade.From != 0 || rec.Upgrade.To != 1 {
				t.Errorf("record = %+v / %+v", rec.Runs, rec.Upgrade)
			}
			if sp, ok := rec.Savepoint(rec.Upgrade.TriggerID); (tc.mode == "savepoint") != ok || (ok && (!sp.Stop || sp.State != observe.SavepointInProgress)) {
				t.Errorf("the stop's savepoint = %+v, %v", sp, ok)
			}
			if len(rec.Outbox) == 0 || rec.Outbox[len(rec.Outbox)-1].Type != registry.EventUpgrade {
				t.Errorf("no upgrade event: %+v", rec.Outbox)
			}
			if tc.req.UpgradeID != "" {
				if _, created, err := s.Upgrade(t.Context(), app, tc.req); err != nil || created {
					t.Errorf("the same upgrade id again = %v, %v", created, err)
				}
			}
			if _, _, err := s.Upgrade(t.Context(), app, api.UpgradeRequest{UpgradeID: "other"}); !errors.Is(err, ErrUpgradeInProgress) {
				t.Errorf("a second upgrade: %v, want ErrUpgradeInProgress", err)
			}
			// Any application id of the job reads the job.
			if got, err := s.Job(t.Context(), app); err != nil || got.ID != app {
				t.Errorf("Job = %+v, %v", got.ID, err)
			}
		})
	}
}

// TestUpgradeDriverStop takes the first round of a savepoint upgrade: the stop goes to the JobManager with
// the recorded savepoint's trigger id, and is recorded sent.
func TestUpgradeDriverStop(t *testing.T) {
	const app, flinkJob = "application_1767225600000_0042", "0000019b76daa800000000000000002a"
	jm := &fakeJobManager{}
	srv := httptest.NewServer(jm)
	defer srv.Close()
	s := newTestService(t, nil)
	s.opts.SavepointRoot = "hdfs://nn:8020/stage/savepoints"
	seed(t, s, registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Target: "application", Spec: json.RawMessage(`{"jarId":"` + goodID + `"}`)},
		observe.Status{State: "RUNNING", JobManager: srv.URL, Flink: observe.Flink{JobID: flinkJob}, YARN: observe.YARN{ApplicationID: app, State: "RUNNING"}})
	if _, _, err := s.Upgrade(t.Context(), app, api.UpgradeRequest{UpgradeID: "u1"}); err != nil {
		t.Fatal(err)
	}
	rec, _ := s.reg.Get(t.Context(), app)
	s.driveUpgrade(t.Context(), rec)
	rec, _ = s.reg.Get(t.Context(), app)
	sp, _ := rec.Savepoint(rec.Upgrade.TriggerID)
	if len(jm.calls) != 1 || !strings.HasPrefix(jm.calls[0], "POST /jobs/"+flinkJob+"/stop ") || !strings.Contains(jm.calls[0], sp.FlinkTriggerID) {
		t.Fatalf("JobManager calls = %v", jm.calls)
	}
	if !rec.Upgrade.StopSent || rec.Upgrade.Step != observe.StepStopping {
		t.Fatalf("upgrade after the stop = %+v", rec.Upgrade)
	}
	// The next round waits for the savepoint: no second call.
	s.driveUpgrade(t.Context(), rec)
	if len(jm.calls) != 1 {
		t.Errorf("JobManager calls = %v, want one", jm.calls)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestUpgradeNeedsTheOwner: modify access through the ACL lets bob cancel alice's job, not run new code as her.
func TestUpgradeNeedsTheOwner(t *testing.T) {
	const app, flinkJob = "application_1767225600000_0042", "0000019b76daa800000000000000002a"
	s := newTestService(t, nil)
	s.opts.Impersonation.Disabled = true
	seed(t, s, registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Target: "application", Owner: "alice",
		ACL: &registry.ACL{Modify: []string{"bob"}}, Spec: json.RawMessage(`{"jarId":"` + goodID + `"}`)},
		observe.Status{State: "RUNNING", JobManager: "http://jm:8081", Flink: observe.Flink{JobID: flinkJob}, YARN: observe.YARN{ApplicationID: app, State: "RUNNING"}})
	if _, _, err := s.Upgrade(as(authn.Principal{Name: "bob", User: "bob"}), app, api.UpgradeRequest{}); !errors.Is(err, ErrForbidden) {
		t.Errorf("bob's upgrade: %v, want ErrForbidden", err)
	}
	if _, created, err := s.Upgrade(as(authn.Principal{Name: "alice", User: "alice"}), app, api.UpgradeRequest{}); err != nil || !created {
		t.Errorf("alice's upgrade: %v, %v", created, err)
	}
}

// TestUpgradeLaunchOnce: a launch step resumed after a crash finds the application the stopped driver had
// submitted under the run's tag and records it, instead of launching a second one; without one, it launches
// with the tags and the restore.
func TestUpgradeLaunchOnce(t *testing.T) {
	const app, flinkJob = "application_1767225600000_0042", "0000019b76daa800000000000000002a"
	for _, found := range []bool{true, false} {
		t.Run(fmt.Sprint("found=", found), func(t *testing.T) {
			l := &fakeLauncher{}
			if found {
				l.found = &yarnclient.App{ID: "application_1767225600000_0043", User: "alice"}
			}
			s := newTestService(t, l)
			seed(t, s, registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Target: "application", Spec: json.RawMessage(`{"jarId":"` + goodID + `"}`)},
				observe.Status{State: "RUNNING", JobManager: "http://jm:8081", Flink: observe.Flink{JobID: flinkJob}, YARN: observe.YARN{ApplicationID: app, State: "RUNNING"}})
			if _, _, err := s.Upgrade(t.Context(), app, api.UpgradeRequest{UpgradeID: "u1", Mode: api.UpgradeStateless}); err != nil {
				t.Fatal(err)
			}
			// The old job ended (canceled); the driver recorded LAUNCHING, then stopped.
			rec, err := s.reg.Update(t.Context(), app, func(r *registry.Record) (bool, error) {
				r.SetStatus(observe.Status{Schema: observe.SchemaVersion, State: "CANCELED", Since: time.Now(), YARN: observe.YARN{ApplicationID: app, State: "FINISHED"}}, "")
				u := *r.Upgrade
				u.Step = observe.StepLaunching
				return r.SetUpgrade(u, time.Now()), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			s.driveUpgrade(t.Context(), rec)
			rec, _ = s.reg.Get(t.Context(), app)
			want := "application_1767225600000_0043"
			if !found {
				want = l.submits[0]
				if len(l.specs) != 1 || len(l.specs[0].Tags) != 2 || l.specs[0].Tags[0] != rec.Runs[1].LaunchTag || l.specs[0].Savepoint != nil {
					t.Fatalf("launched %+v", l.specs)
				}
			} else if len(l.submits) != 0 {
				t.Fatalf("launched again: %v", l.submits)
			}
			if rec.ApplicationID != want || rec.Runs[1].ApplicationID != want || rec.Terminal || rec.State != "SUBMITTED" || rec.ID != app {
				t.Fatalf("record after the launch: %s %s %v runs %+v", rec.ApplicationID, rec.State, rec.Terminal, rec.Runs)
			}
			if got, ok := s.reg.ByApplication(want); !ok || got.ID != app {
				t.Errorf("ByApplication(%s) = %v", want, ok)
			}
			// The next round moves on to VERIFYING.
			s.driveUpgrade(t.Context(), rec)
			if rec, _ = s.reg.Get(t.Context(), app); rec.Upgrade.Step != observe.StepVerifying {
				t.Errorf("step %s, want VERIFYING", rec.Upgrade.Step)
			}
		})
	}
}
