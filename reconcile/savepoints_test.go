package reconcile

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// savepointJM answers the savepoint status and disposal calls of a JobManager.
type savepointJM struct {
	mu       sync.Mutex
	disposed []string
}

func (m *savepointJM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	switch r.Method + " " + r.URL.Path {
	case "GET /jobs/f1/savepoints/trigger-a":
		io.WriteString(w, `{"status":{"id":"COMPLETED"},"operation":{"location":"hdfs://nn:8020/sp/a"}}`)
	case "GET /jobs/f1/savepoints/trigger-b":
		io.WriteString(w, `{"status":{"id":"IN_PROGRESS"}}`)
	case "GET /jobs/f1/savepoints/trigger-c":
		io.WriteString(w, `{"status":{"id":"COMPLETED"},"operation":{"failure-cause":{"class":"x","stack-trace":"org.apache.flink.runtime.checkpoint.CheckpointException: declined\n\tat a.b(C.java:1)"}}}`)
	case "POST /savepoint-disposal":
		m.disposed = append(m.disposed, string(body))
		io.WriteString(w, `{"request-id":"d1"}`)
	case "GET /savepoint-disposal/d1":
		io.WriteString(w, `{"status":{"id":"COMPLETED"},"operation":{}}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"errors":["not found"]}`)
	}
}

func TestSavepointsObservedAndRetained(t *testing.T) {
	now := time.Now().UTC()
	for _, tc := range []struct {
		name          string
		jobManager    bool // the record has a running JobManager
		wantJMDispose bool
	}{
		{name: "disposed through the JobManager", jobManager: true, wantJMDispose: true},
		{name: "removed from HDFS without one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{LostGrace: time.Hour, SavepointRetention: observe.Retention{MaxCount: 2}})
			jm := &savepointJM{}
			srv := httptest.NewServer(jm)
			defer srv.Close()
			sp := func(id, state string, completed time.Time) observe.Savepoint {
				s := observe.Savepoint{TriggerID: id, FlinkTriggerID: "trigger-" + id, ApplicationID: appA, FlinkJobID: "f1", State: state,
					RequestedAt: now.Add(-time.Minute), CompletedAt: completed}
				if state == observe.SavepointCompleted {
					s.Path = "hdfs://nn:8020/sp/" + id
				}
				return s
			}
			st := observe.Status{Schema: observe.SchemaVersion, State: "RUNNING", Since: now, Flink: observe.Flink{JobID: "f1"},
				YARN: observe.YARN{ApplicationID: appA, State: "RUNNING", User: "alice"}}
			if tc.jobManager {
				st.JobManager = srv.URL
			}
			rec := registry.Record{ID: appA, Kind: registry.KindJob, ApplicationID: appA, Owner: "alice", CreatedAt: now,
				Savepoints: []observe.Savepoint{sp("old1", observe.SavepointCompleted, now.Add(-3*time.Hour)),
					sp("old2", observe.SavepointCompleted, now.Add(-2*time.Hour)),
					sp("a", observe.SavepointInProgress, time.Time{}), sp("b", observe.SavepointInProgress, time.Time{}),
					sp("c", observe.SavepointInProgress, time.Time{})}}
			rec.SetStatus(st, "")
			if _, err := h.reg.Create(t.Context(), rec); err != nil {
				t.Fatal(err)
			}
			h.pass(t)
			got := h.record(t, appA)
			want := map[string]string{"old1": observe.SavepointCompleted, "old2": observe.SavepointCompleted, "b": observe.SavepointInProgress}
			if tc.jobManager {
				want["a"], want["c"] = observe.SavepointCompleted, observe.SavepointFailed
			} else { // nobody to ask: still in progress while the job runs
				want["a"], want["c"] = observe.SavepointInProgress, observe.SavepointInProgress
			}
			for id, state := range want {
				if s, _ := got.Savepoint(id); s.State != state {
					t.Errorf("savepoint %s = %+v, want %s", id, s, state)
				}
			}
			if a, _ := got.Savepoint("a"); tc.jobManager && a.Path != "hdfs://nn:8020/sp/a" {
				t.Errorf("completed savepoint path %q", a.Path)
			}
			if c, _ := got.Savepoint("c"); tc.jobManager && !strings.Contains(c.Failure, "declined") {
				t.Errorf("failed savepoint's failure %q", c.Failure)
			}
			// Retention keeps two completed savepoints: with a the third completed, old1 goes; without, none.
			var queued []string
			for len(h.r.disposals) > 0 {
				d := <-h.r.disposals
				queued = append(queued, d.triggerID)
				h.r.dispose(t.Context(), d)
			}
			wantQueued := []string{"old1"}
			if !tc.jobManager {
				wantQueued = nil
				// A third completed savepoint: the oldest goes, from HDFS as the job's user (no JobManager).
				if _, err := h.reg.Update(t.Context(), appA, func(r *registry.Record) (bool, error) {
					r.Savepoints = append(r.Savepoints, sp("new", observe.SavepointCompleted, now))
					return true, nil
				}); err != nil {
					t.Fatal(err)
				}
				h.pass(t)
				for len(h.r.disposals) > 0 {
					d := <-h.r.disposals
					queued = append(queued, d.triggerID)
					h.r.dispose(t.Context(), d)
				}
				wantQueued = []string{"old1"}
				if !slices.Contains(h.files.removed, "/sp/old1") {
					t.Errorf("HDFS removals %v, want /sp/old1", h.files.removed)
				}
			}
			if !slices.Equal(queued, wantQueued) {
				t.Errorf("disposals %v, want %v", queued, wantQueued)
			}
			if tc.wantJMDispose && (len(jm.disposed) != 1 || !strings.Contains(jm.disposed[0], `"savepoint-path":"hdfs://nn:8020/sp/old1"`)) {
				t.Errorf("JobManager disposals %v", jm.disposed)
			}
			final := h.record(t, appA)
			if old1, _ := final.Savepoint("old1"); old1.State != observe.SavepointDisposed || old1.DisposedAt.IsZero() {
				t.Errorf("old1 after disposal = %+v", old1)
			}
		})
	}
}

// TestStopSavepointFromArchive: the cluster of a job stopped with a savepoint ended before the gateway read
// the outcome (it was down); the job's archive names the savepoint.
func TestStopSavepointFromArchive(t *testing.T) {
	h := newHarness(t, Options{LostGrace: time.Hour})
	now := time.Now().UTC()
	stats := `{"latest":{"savepoint":{"status":"COMPLETED","is_savepoint":true,"trigger_timestamp":` + strconv.FormatInt(now.UnixMilli(), 10) +
		`,"external_path":"hdfs://nn:8020/sp/savepoint-000001-aa"}},"history":[]}`
	archive, _ := json.Marshal(map[string]any{"archive": []map[string]string{{"path": "/jobs/f1/checkpoints", "json": stats}}})
	h.files.files["/staging/archive/f1"] = string(archive)
	st := observe.Status{Schema: observe.SchemaVersion, State: "FINISHED", Since: now, Flink: observe.Flink{JobID: "f1"},
		YARN: observe.YARN{ApplicationID: appA, State: "FINISHED", FinalStatus: "SUCCEEDED"}}
	rec := registry.Record{ID: appA, Kind: registry.KindJob, ApplicationID: appA, CreatedAt: now,
		Savepoints: []observe.Savepoint{{TriggerID: "stop", FlinkTriggerID: "x", ApplicationID: appA, FlinkJobID: "f1", State: observe.SavepointInProgress,
			Stop: true, TargetDirectory: "hdfs://nn:8020/sp", RequestedAt: now.Add(-time.Second)}}}
	rec.SetStatus(st, "")
	if _, err := h.reg.Create(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	h.pass(t)
	got := h.record(t, appA)
	if sp, _ := got.Savepoint("stop"); sp.State != observe.SavepointCompleted || sp.Path != "hdfs://nn:8020/sp/savepoint-000001-aa" {
		t.Errorf("stop savepoint = %+v, want COMPLETED from the archive", sp)
	}
}
