package job

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// fakeJobManager answers savepoint triggers and stops, recording their bodies; refuse makes it answer 400.
type fakeJobManager struct {
	mu     sync.Mutex
	calls  []string
	refuse bool
}

func (f *fakeJobManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path+" "+string(body))
	if f.refuse {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errors":["job is not running"]}`)
		return
	}
	io.WriteString(w, `{"request-id":"00000000000000000000000000000001"}`)
}

func TestTriggerSavepoint(t *testing.T) {
	const app, flinkJob = "application_1767225600000_0042", "0000019b76daa800000000000000002a"
	for _, tc := range []struct {
		name  string
		stop  bool
		req   api.StopRequest
		spec  string
		state string // of the job, default RUNNING
		jm    *fakeJobManager
		// want
		err        error
		calls      int
		path       string
		savepoint  observe.Savepoint
		wantTarget string
	}{
		{name: "trigger", req: api.StopRequest{TriggerID: "t1"}, calls: 1, path: "/jobs/" + flinkJob + "/savepoints",
			savepoint: observe.Savepoint{TriggerID: "t1", State: observe.SavepointInProgress, Format: "CANONICAL"}, wantTarget: "hdfs://nn:8020/stage/savepoints/" + app},
		{name: "the job's state.savepoints.dir", req: api.StopRequest{TriggerID: "t1"}, spec: `{"flinkConfig":{"state.savepoints.dir":"hdfs:///mine"}}`, calls: 1,
			path: "/jobs/" + flinkJob + "/savepoints", savepoint: observe.Savepoint{TriggerID: "t1", State: observe.SavepointInProgress, Format: "CANONICAL"}, wantTarget: "hdfs:///mine"},
		{name: "stop", stop: true, req: api.StopRequest{Savepoint: true, Drain: true, Format: api.FormatNative, TargetDirectory: "/sp", TriggerID: "s1"}, calls: 1,
			path: "/jobs/" + flinkJob + "/stop", savepoint: observe.Savepoint{TriggerID: "s1", State: observe.SavepointInProgress, Format: "NATIVE", Stop: true, Drain: true}, wantTarget: "/sp"},
		{name: "stop without a savepoint", stop: true, req: api.StopRequest{}, err: &api.SpecError{}},
		{name: "bad trigger id", req: api.StopRequest{TriggerID: "a b"}, err: &api.SpecError{}},
		{name: "bad format", req: api.StopRequest{Format: "ZIP"}, err: &api.SpecError{}},
		{name: "relative target", req: api.StopRequest{TargetDirectory: "sp"}, err: &api.SpecError{}},
		{name: "not running", req: api.StopRequest{}, state: "STARTING", err: ErrJobNotRunning},
		{name: "refused", req: api.StopRequest{TriggerID: "t1"}, jm: &fakeJobManager{refuse: true}, calls: 1, path: "/jobs/" + flinkJob + "/savepoints",
			savepoint: observe.Savepoint{TriggerID: "t1", State: observe.SavepointFailed, Format: "CANONICAL"}, wantTarget: "hdfs://nn:8020/stage/savepoints/" + app},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jm := tc.jm
			if jm == nil {
				jm = &fakeJobManager{}
			}
			srv := httptest.NewServer(jm)
			defer srv.Close()
			s := newTestService(t, nil)
			s.opts.SavepointRoot = "hdfs://nn:8020/stage/savepoints"
			state := tc.state
			if state == "" {
				state = "RUNNING"
			}
			seed(t, s, registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Spec: json.RawMessage(tc.spec + "")},
				observe.Status{State: state, JobManager: srv.URL, Flink: observe.Flink{JobID: flinkJob}, YARN: observe.YARN{ApplicationID: app, State: "RUNNING"}})
			call := func() (api.Savepoint, bool, error) {
				if tc.stop {
					return s.Stop(t.Context(), app, tc.req)
				}
				return s.TriggerSavepoint(t.Context(), app, api.SavepointRequest{TriggerID: tc.req.TriggerID, Format: tc.req.Format, TargetDirectory: tc.req.TargetDirectory})
			}
			sp, created, err := call()
			var spec *api.SpecError
			switch {
			case tc.err != nil && errors.As(tc.err, &spec):
				if !errors.As(err, &spec) {
					t.Fatalf("error %v, want a SpecError", err)
				}
				return
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			case err != nil || !created:
				t.Fatalf("trigger = %+v, %v, %v", sp, created, err)
			}
			if len(jm.calls) != tc.calls || !strings.HasPrefix(jm.calls[0], "POST "+tc.path+" ") {
				t.Fatalf("JobManager calls %v, want one to %s", jm.calls, tc.path)
			}
			rec, _ := s.reg.Get(t.Context(), app)
			got, ok := rec.Savepoint(tc.savepoint.TriggerID)
			if !ok || got.State != tc.savepoint.State || got.Format != tc.savepoint.Format || got.Stop != tc.savepoint.Stop || got.Drain != tc.savepoint.Drain ||
				got.TargetDirectory != tc.wantTarget || got.ApplicationID != app || got.FlinkJobID != flinkJob || len(got.FlinkTriggerID) != 32 {
				t.Errorf("recorded %+v, want %+v with target %s", got, tc.savepoint, tc.wantTarget)
			}
			if !strings.Contains(jm.calls[0], got.FlinkTriggerID) || !strings.Contains(jm.calls[0], tc.wantTarget) {
				t.Errorf("JobManager call %s lacks the trigger id %s or the target", jm.calls[0], got.FlinkTriggerID)
			}
			if sp.State != api.SavepointState(tc.savepoint.State) {
				t.Errorf("answer %+v", sp)
			}
			// The same trigger id again: the same savepoint, no second call; with other parameters: refused.
			again, created, err := call()
			if err != nil || created || again.TriggerID != sp.TriggerID || len(jm.calls) != tc.calls {
				t.Errorf("again = %+v, %v, %v; calls %v", again, created, err, jm.calls)
			}
			if !tc.stop {
				_, _, err := s.TriggerSavepoint(t.Context(), app, api.SavepointRequest{TriggerID: tc.req.TriggerID, Format: api.FormatNative})
				if !errors.Is(err, ErrTriggerIDReused) {
					t.Errorf("another format under the trigger id: %v, want ErrTriggerIDReused", err)
				}
			}
			if list, err := s.Savepoints(t.Context(), app); err != nil || len(list) != 1 {
				t.Errorf("Savepoints = %+v, %v", list, err)
			}
		})
	}
}
