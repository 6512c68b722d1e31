package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
)

// These tests start one Flink session cluster per Flink version through an in-process gateway and run
// jobs in it; see jobs_integration_test.go for the helpers.

// session is the part of the session object the tests read.
type session struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	State        string `json:"state"`
	FlinkVersion string `json:"flinkVersion"`
	YARN         struct {
		ApplicationID string `json:"applicationId"`
		State         string `json:"state"`
		FinalStatus   string `json:"finalStatus"`
		Diagnostics   string `json:"diagnostics"`
	} `json:"yarn"`
	Links struct {
		YARN       string  `json:"yarn"`
		FlinkUI    *string `json:"flinkUi"`
		JobManager *string `json:"jobManager"`
	} `json:"links"`
}

// sessionDo sends a JSON request to the session API and decodes a session from a 2xx answer.
func (g *jobGateway) sessionDo(method, path string, body any) (int, session, apiErr, string) {
	g.t.Helper()
	status, _, e, raw := g.do(method, path, nil, body)
	var s session
	if status < 300 {
		json.Unmarshal([]byte(raw), &s)
	}
	return status, s, e, raw
}

// startSession creates a session and waits until it runs; the session is deleted (and its application
// killed, should the gateway be gone already) at test end.
func (g *jobGateway) startSession(t *testing.T, name, version string, slots int) session {
	t.Helper()
	spec := map[string]any{"name": name, "flinkVersion": version, "taskManager": map[string]any{"slots": slots}}
	key := map[string]string{"Idempotency-Key": fmt.Sprintf("it-session-%s-%d", version, time.Now().UnixNano())}
	status, _, _, body := g.do(http.MethodPost, "/v1/sessions", key, spec)
	var s session
	json.Unmarshal([]byte(body), &s)
	if status != http.StatusAccepted || !strings.HasPrefix(s.ID, "application_") {
		t.Fatalf("create session = %d %s", status, body)
	}
	t.Cleanup(func() { g.killApp(s.ID) })
	// A retry with the same key is the same session.
	if status, _, _, body := g.do(http.MethodPost, "/v1/sessions", key, spec); status != http.StatusOK || !strings.Contains(body, `"id":"`+s.ID+`"`) {
		t.Errorf("session create retry = %d %s, want 200 with %s", status, body, s.ID)
	}
	if s.State != "STARTING" && s.State != "RUNNING" {
		t.Fatalf("new session is %s", s.State)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for s.State != "RUNNING" {
		if time.Now().After(deadline) || s.State == "FAILED" || s.State == "STOPPED" {
			t.Fatalf("session %s is %s (yarn %s): %s", s.ID, s.State, s.YARN.State, s.YARN.Diagnostics)
		}
		status, s, _, body = g.sessionDo(http.MethodGet, "/v1/sessions/"+s.ID+"?wait=RUNNING&timeout=60s", nil)
		if status != http.StatusOK {
			t.Fatalf("get session = %d %s", status, body)
		}
	}
	return s
}

// killApp kills a YARN application directly through the ResourceManager.
func (g *jobGateway) killApp(id string) {
	req, _ := http.NewRequest(http.MethodPut, g.cluster.RMURL+"/ws/v1/cluster/apps/"+id+"/state?user.name="+g.cluster.User,
		strings.NewReader(`{"state":"KILLED"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// sessionSpec is a session job of the example jar.
func (g *jobGateway) sessionSpec(sessionID, name string, args ...string) map[string]any {
	return map[string]any{"name": name, "jarId": g.jarID, "target": "session", "sessionId": sessionID, "args": args}
}

func TestSessionRunsJobs(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			s := g.startSession(t, "it-session-"+v, v, 4)
			t.Logf("session %s RUNNING after %s", s.ID, time.Since(start).Round(time.Second))
			if s.Links.JobManager == nil || s.Links.FlinkUI == nil || s.Links.YARN != g.cluster.RMURL+"/cluster/app/"+s.ID {
				t.Fatalf("session links %+v", s.Links)
			}
			if !strings.HasPrefix(s.FlinkVersion, v) {
				t.Errorf("flinkVersion = %q, want %s", s.FlinkVersion, v)
			}

			// Five bounded jobs: two one after the other, then three at once.
			var jarPath string
			if status, body := get(t, g.url+"/v1/jars/"+g.jarID); status == 200 {
				var jar struct {
					Path string `json:"path"`
				}
				json.Unmarshal([]byte(body), &jar)
				jarPath = jar.Path
			}
			boundedSpec := func(i int) (map[string]any, string, int64) {
				n := int64(50 + i)
				out := g.hdfsPath(fmt.Sprintf("session-%s-%d", v, i))
				spec := g.sessionSpec(s.ID, fmt.Sprintf("it-session-bounded-%s-%d", v, i),
					"--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://"+out)
				if i == 1 && jarPath != "" { // the same jar by its HDFS path: still one upload
					delete(spec, "jarId")
					spec["jarPath"] = jarPath
				}
				return spec, out, n
			}
			key := map[string]string{"Idempotency-Key": fmt.Sprintf("it-session-job-%s-%d", v, time.Now().UnixNano())}
			bounded := func(i int) (jobObj, string, int64) {
				spec, out, n := boundedSpec(i)
				var h map[string]string
				if i == 0 {
					h = key
				}
				return g.submit(spec, h), out, n
			}
			type submitted struct {
				j   jobObj
				out string
				n   int64
			}
			var jobs []submitted
			for i := range 2 {
				j, out, n := bounded(i)
				jobs = append(jobs, submitted{j, out, n})
				if f := g.wait(j.ID, "FINISHED", 3*time.Minute); f.State != "FINISHED" {
					t.Fatalf("sequential job %d = %s: %v", i, f.State, f.Flink.Failure)
				}
			}
			// A retry of the first submission with its Idempotency-Key is the same job, not a new one.
			spec0, _, _ := boundedSpec(0)
			if status, again, _, body := g.do(http.MethodPost, "/v1/jobs", key, spec0); status != http.StatusOK || again.ID != jobs[0].j.ID {
				t.Errorf("session job retry = %d %s, want 200 with %s", status, body, jobs[0].j.ID)
			}
			concurrent := make([]submitted, 3)
			var wg sync.WaitGroup
			for i := range concurrent {
				wg.Go(func() {
					j, out, n := bounded(2 + i)
					concurrent[i] = submitted{j, out, n}
				})
			}
			wg.Wait()
			jobs = append(jobs, concurrent...)
			seen := map[string]bool{}
			for i, sj := range jobs {
				if !strings.HasPrefix(sj.j.ID, s.ID+".") || sj.j.YARN.ApplicationID != s.ID || seen[sj.j.ID] {
					t.Fatalf("job %d: id %q, application %q (session %s)", i, sj.j.ID, sj.j.YARN.ApplicationID, s.ID)
				}
				seen[sj.j.ID] = true
				if sj.j.ID != s.ID+"."+sj.j.Flink.JobID {
					t.Errorf("job %d: id %s does not end in its Flink job id %s", i, sj.j.ID, sj.j.Flink.JobID)
				}
				f := g.wait(sj.j.ID, "FINISHED", 3*time.Minute)
				if f.State != "FINISHED" || f.YARN.ApplicationID != s.ID {
					t.Errorf("job %d (%s) = %s in %s: %v", i, f.ID, f.State, f.YARN.ApplicationID, f.Flink.Failure)
					continue
				}
				if got, want := strings.TrimSpace(readHDFS(t, g.cluster, sj.out)), fmt.Sprintf("count=%d sum=%d", sj.n, sumOfSquares(sj.n)); got != want {
					t.Errorf("job %d result %q, want %q", i, got, want)
				}
			}
			// The jar went to the session once.
			var jars struct {
				Files []struct {
					ID string `json:"id"`
				} `json:"files"`
			}
			if status, body := get(t, *s.Links.JobManager+"/jars"); status != 200 || json.Unmarshal([]byte(body), &jars) != nil || len(jars.Files) != 1 {
				t.Errorf("the session's JobManager has jars %s (status %d), want one", body, status)
			}

			// An unbounded job runs, is listed as a job (the session is not), and cancels; the session runs on.
			postAt := time.Now()
			u := g.submit(g.sessionSpec(s.ID, "it-session-unbounded-"+v, "--mode", "unbounded", "--rate", "20"), nil)
			answered := time.Since(postAt)
			u = g.wait(u.ID, "RUNNING", 3*time.Minute)
			t.Logf("warm session: POST answered in %s, job RUNNING after %s", answered.Round(time.Millisecond), time.Since(postAt).Round(time.Millisecond))
			if u.State != "RUNNING" || u.Links.FlinkUI == nil {
				t.Fatalf("unbounded job = %s, links %+v", u.State, u.Links)
			}
			if _, _, _, raw := g.do(http.MethodGet, "/v1/jobs/"+u.ID, nil, nil); !strings.Contains(raw, `"target":"session"`) {
				t.Errorf("session job object %s", raw)
			}
			if want := g.cluster.RMURL + "/proxy/" + s.ID + "/#/job/running/" + u.Flink.JobID + "/overview"; *u.Links.FlinkUI != want {
				t.Errorf("links.flinkUi = %q, want %q", *u.Links.FlinkUI, want)
			}
			if status, body := get(t, *u.Links.FlinkUI); status != 200 || !strings.Contains(body, "Apache Flink") {
				t.Errorf("Flink UI at %s = %d", *u.Links.FlinkUI, status)
			}
			// Logs: the session's containers, which are also its jobs' (their main() runs in the session's
			// JobManager, so its log holds the line the example logs).
			sessionLogs := g.waitLogs(t, "/v1/sessions/"+s.ID, 2*time.Minute, func(l api.LogList) bool {
				_, _, jm := findLog(l, api.LogRoleJobManager, api.LogSourceNodeManager, "jobmanager.log")
				_, _, tm := findLog(l, api.LogRoleTaskManager, api.LogSourceNodeManager, "taskmanager.log")
				return jm && tm
			})
			jobLogs := g.logList(t, "/v1/jobs/"+u.ID)
			if len(jobLogs.Containers) != len(sessionLogs.Containers) || jobLogs.Containers[0].ContainerID != sessionLogs.Containers[0].ContainerID {
				t.Errorf("the session job's logs %+v are not its session's %+v", jobLogs, sessionLogs)
			}
			jm, _, _ := findLog(sessionLogs, api.LogRoleJobManager, "", "jobmanager.log")
			if status, body := g.getRaw(t, "/v1/sessions/"+s.ID+"/logs/"+jm.ContainerID+"/jobmanager.log", nil); status != 200 || !bytes.Contains(body, []byte(exampleStarted)) {
				t.Errorf("the session's JobManager log = %d, %d bytes, without %q", status, len(body), exampleStarted)
			}
			var list struct {
				Jobs []jobObj `json:"jobs"`
			}
			status, body := get(t, g.url+"/v1/jobs")
			if status != 200 || json.Unmarshal([]byte(body), &list) != nil {
				t.Fatalf("list jobs = %d %.300s", status, body)
			}
			listed := false
			for _, j := range list.Jobs {
				if j.ID == s.ID {
					t.Errorf("GET /v1/jobs lists the session %s as a job", s.ID)
				}
				listed = listed || j.ID == u.ID
			}
			if !listed {
				t.Errorf("GET /v1/jobs does not list the session job %s", u.ID)
			}
			if status, _, e, _ := g.do(http.MethodGet, "/v1/jobs/"+s.ID, nil, nil); status != 404 || e.Error.Code != "not_found" {
				t.Errorf("GET /v1/jobs/<session id> = %d %s, want 404", status, e.Error.Code)
			}
			if status, _, _, body := g.do(http.MethodPost, "/v1/jobs/"+u.ID+"/cancel", nil, nil); status != http.StatusAccepted && status != http.StatusOK {
				t.Fatalf("cancel = %d %s", status, body)
			}
			if c := g.wait(u.ID, "CANCELED", 2*time.Minute); c.State != "CANCELED" {
				t.Fatalf("after cancel: %s", c.State)
			}
			if _, now, _, _ := g.sessionDo(http.MethodGet, "/v1/sessions/"+s.ID, nil); now.State != "RUNNING" {
				t.Fatalf("session after a cancel is %s", now.State)
			}

			// A main() that throws: a FAILED job with main()'s message; the session runs on and takes more jobs.
			f := g.submit(g.sessionSpec(s.ID, "it-session-fails-"+v, "--fail"), nil)
			if f = g.wait(f.ID, "FAILED", 2*time.Minute); f.State != "FAILED" || !f.Terminal {
				t.Fatalf("failing job = %s", f.State)
			}
			if f.Flink.Failure == nil || !strings.Contains(*f.Flink.Failure, "failing on purpose (--fail)") || strings.Contains(*f.Flink.Failure, "\tat ") {
				t.Errorf("flink.failure = %v", f.Flink.Failure)
			} else {
				t.Logf("failed main(): %s", *f.Flink.Failure)
			}
			if _, now, _, _ := g.sessionDo(http.MethodGet, "/v1/sessions/"+s.ID, nil); now.State != "RUNNING" {
				t.Fatalf("session after a failed main() is %s", now.State)
			}
			j, out, n := bounded(5)
			if j = g.wait(j.ID, "FINISHED", 3*time.Minute); j.State != "FINISHED" {
				t.Fatalf("job after the failure = %s", j.State)
			}
			if got := strings.TrimSpace(readHDFS(t, g.cluster, out)); got != fmt.Sprintf("count=%d sum=%d", n, sumOfSquares(n)) {
				t.Errorf("job after the failure wrote %q", got)
			}
			// A job left running when the session is deleted ends CANCELED.
			left := g.submit(g.sessionSpec(s.ID, "it-session-left-"+v, "--mode", "unbounded"), nil)
			if left = g.wait(left.ID, "RUNNING", 3*time.Minute); left.State != "RUNNING" {
				t.Fatalf("unbounded job = %s", left.State)
			}

			// Delete: STOPPING at once, then the application ends, the launch files go and the session takes no jobs.
			stopStart := time.Now()
			status, d, _, body := g.sessionDo(http.MethodDelete, "/v1/sessions/"+s.ID, nil)
			if status != http.StatusAccepted || d.State != "STOPPING" {
				t.Fatalf("delete = %d %s", status, body)
			}
			if status, _, e, body := g.do(http.MethodPost, "/v1/jobs", nil, g.sessionSpec(s.ID, "it-too-early", "--mode", "unbounded")); status != http.StatusConflict || e.Error.Code != "session_not_running" {
				t.Errorf("submit to a stopping session = %d %s", status, body)
			}
			for d.State == "STOPPING" && time.Since(stopStart) < 3*time.Minute {
				_, d, _, _ = g.sessionDo(http.MethodGet, "/v1/sessions/"+s.ID+"?wait=STOPPED&timeout=30s", nil)
			}
			if d.State != "STOPPED" {
				t.Fatalf("deleted session is %s (yarn %s/%s)", d.State, d.YARN.State, d.YARN.FinalStatus)
			}
			t.Logf("session stopped in %s (yarn %s/%s)", time.Since(stopStart).Round(time.Second), d.YARN.State, d.YARN.FinalStatus)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if app, err := g.cluster.WaitApp(ctx, s.ID); err != nil || !app.Terminal() {
				t.Errorf("YARN application after delete: %+v, %v", app, err)
			}
			g.expectGone(t, g.root.Path+"/.flink/"+s.ID)
			if status, _, e, body := g.do(http.MethodPost, "/v1/jobs", nil, g.sessionSpec(s.ID, "it-too-late", "--mode", "unbounded")); status != http.StatusConflict || e.Error.Code != "session_not_running" {
				t.Errorf("submit to a deleted session = %d %s", status, body)
			}
			if _, l, _, _ := g.do(http.MethodGet, "/v1/jobs/"+left.ID, nil, nil); l.State != "CANCELED" {
				t.Errorf("job left in the deleted session = %s, want CANCELED", l.State)
			}
			if _, done, _, _ := g.do(http.MethodGet, "/v1/jobs/"+jobs[0].j.ID, nil, nil); done.State != "FINISHED" {
				t.Errorf("finished job after the session ended = %s", done.State)
			}
			if status, again, _, _ := g.sessionDo(http.MethodDelete, "/v1/sessions/"+s.ID, nil); status != http.StatusOK || again.State != "STOPPED" {
				t.Errorf("second delete = %d %s", status, again.State)
			}
		})
	}
}

func TestSessionBadInput(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	const unknown = "application_1000000000000_9999"
	jid := strings.Repeat("ab", 16)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"submit to an unknown session", http.MethodPost, "/v1/jobs", g.sessionSpec(unknown, "x"), 404, "session_not_found"},
		{"session target without session", http.MethodPost, "/v1/jobs", map[string]any{"jarId": g.jarID, "target": "session"}, 400, "invalid_spec"},
		{"session job with a queue", http.MethodPost, "/v1/jobs", map[string]any{"jarId": g.jarID, "target": "session", "sessionId": unknown, "queue": "default"}, 400, "invalid_spec"},
		{"get an unknown session", http.MethodGet, "/v1/sessions/" + unknown, nil, 404, "session_not_found"},
		{"delete an unknown session", http.MethodDelete, "/v1/sessions/" + unknown, nil, 404, "session_not_found"},
		{"bad session id", http.MethodGet, "/v1/sessions/nope", nil, 400, "invalid_request"},
		{"unknown session job", http.MethodGet, "/v1/jobs/" + unknown + "." + jid, nil, 404, "not_found"},
		{"session with an unknown field", http.MethodPost, "/v1/sessions", map[string]any{"slots": 4}, 400, "invalid_spec"},
		{"session with an unknown queue", http.MethodPost, "/v1/sessions", map[string]any{"queue": "no-such-queue"}, 422, "unknown_queue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, e, body := g.do(tc.method, tc.path, nil, tc.body)
			if status != tc.status || e.Error.Code != tc.code {
				t.Errorf("= %d %s, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
}
