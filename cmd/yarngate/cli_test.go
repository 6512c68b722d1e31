package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/yarngate/yarngate/api"
)

// fakeGateway is an httptest gateway for the client commands: jobs go through states scripted per job
// name, and every request is recorded.
type fakeGateway struct {
	t   *testing.T
	url string

	mu       sync.Mutex
	requests []string          // "METHOD path?query"
	bodies   map[string][]byte // last body per "METHOD path"
	auth     []string          // Authorization of each request
	ends     map[string]api.JobState
}

func newFakeGateway(t *testing.T) *fakeGateway {
	g := &fakeGateway{t: t, bodies: map[string][]byte{}, ends: map[string]api.JobState{}}
	srv := httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(srv.Close)
	g.url = srv.URL
	return g
}

func (g *fakeGateway) reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	g.bodies[r.Method+" "+r.URL.Path] = body
	g.auth = append(g.auth, r.Header.Get("Authorization"))
	path := r.URL.Path
	switch {
	case r.Method == http.MethodPost && path == "/v1/jars":
		g.reply(w, 201, api.Jar{ID: "jar1", Name: r.URL.Query().Get("name"), Size: int64(len(body))})
	case r.Method == http.MethodGet && path == "/v1/jars":
		g.reply(w, 200, api.JarList{Jars: []api.Jar{{ID: "jar1", Name: "a.jar", Size: 3}}})
	case r.Method == http.MethodDelete && path == "/v1/jars/inuse":
		g.reply(w, 409, api.ErrorBody{Error: api.Error{Code: api.CodeJarInUse, Message: "jar inuse is used by a job that has not ended", RequestID: "rq-9"}})
	case r.Method == http.MethodDelete && strings.HasPrefix(path, "/v1/jars/"):
		w.WriteHeader(204)
	case r.Method == http.MethodPost && path == "/v1/jobs":
		var req api.JobRequest
		json.Unmarshal(body, &req)
		if req.Name == "invalid" {
			g.reply(w, 400, api.ErrorBody{Error: api.Error{Code: api.CodeInvalidSpec, Message: "the job request is invalid",
				Details: []api.FieldProblem{{Field: "parallelism", Reason: "must be at least 1"}}}})
			return
		}
		end, ok := api.ParseJobState(strings.TrimPrefix(req.Name, "ends-"))
		if !ok {
			end = api.StateRunning
		}
		id := "application_1_" + req.Name
		g.ends[id] = end
		g.reply(w, 202, api.Job{ID: id, Name: req.Name, State: api.StateSubmitted})
	case r.Method == http.MethodGet && path == "/v1/jobs":
		switch r.URL.Query().Get("cursor") {
		case "":
			g.reply(w, 200, map[string]any{"jobs": []api.Job{{ID: "j1", State: api.StateRunning}}, "nextCursor": "p2"})
		default:
			g.reply(w, 200, map[string]any{"jobs": []api.Job{{ID: "j2", State: api.StateFinished}}})
		}
	case r.Method == http.MethodPost && (strings.HasSuffix(path, "/savepoints") || strings.HasSuffix(path, "/stop")):
		var req api.StopRequest // the savepoint request's fields and stop's
		json.Unmarshal(body, &req)
		id := strings.Split(strings.TrimPrefix(path, "/v1/jobs/"), "/")[0]
		g.reply(w, 202, api.Savepoint{TriggerID: req.TriggerID, JobID: id, State: api.SavepointInProgress, Format: req.Format,
			Stop: strings.HasSuffix(path, "/stop"), Drain: req.Drain})
	case r.Method == http.MethodGet && strings.HasSuffix(path, "/savepoints"):
		id := strings.Split(strings.TrimPrefix(path, "/v1/jobs/"), "/")[0]
		var req api.SavepointRequest // the trigger id of the last savepoint or stop asked for
		if json.Unmarshal(g.bodies["POST /v1/jobs/"+id+"/savepoints"], &req) != nil {
			json.Unmarshal(g.bodies["POST /v1/jobs/"+id+"/stop"], &req)
		}
		trigger := req.TriggerID
		sp := api.Savepoint{TriggerID: trigger, JobID: id, State: api.SavepointCompleted, Path: ptr("hdfs:///sp/" + id)}
		if id == "spfail" {
			sp.State, sp.Path, sp.Failure = api.SavepointFailed, nil, ptr("Not all required tasks are currently running")
		}
		g.reply(w, 200, api.SavepointList{Savepoints: []api.Savepoint{sp}})
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/upgrade"):
		var req api.UpgradeRequest
		json.Unmarshal(body, &req)
		id := strings.Split(strings.TrimPrefix(path, "/v1/jobs/"), "/")[0]
		g.reply(w, 202, api.Job{ID: id, State: api.StateRunning, Upgrade: &api.JobUpgrade{ID: req.UpgradeID, Mode: req.Mode, Step: "STOPPING"}})
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/v1/jobs/up-"):
		// An upgraded job: its upgrade (the one last asked for) ended as its id says (up-SUCCEEDED, up-ROLLED_BACK).
		id := strings.TrimPrefix(path, "/v1/jobs/")
		var req api.UpgradeRequest
		json.Unmarshal(g.bodies["POST /v1/jobs/"+id+"/upgrade"], &req)
		u := &api.JobUpgrade{ID: req.UpgradeID, Mode: req.Mode, Step: strings.TrimPrefix(id, "up-")}
		if u.Step != "SUCCEEDED" {
			u.Failure = ptr("the new application ended FAILED before it was healthy")
		}
		g.reply(w, 200, api.Job{ID: id, State: api.StateRunning, Upgrade: u})
	case r.Method == http.MethodGet && strings.HasSuffix(path, "/logs"):
		g.reply(w, 200, map[string]any{"containers": []map[string]any{
			{"containerId": "container_1_01_000002", "role": "taskmanager", "state": "RUNNING", "files": []map[string]any{{"name": "taskmanager.log", "size": 10}}},
			{"containerId": "container_1_01_000001", "role": "jobmanager", "state": "COMPLETE", "files": []map[string]any{{"name": "jobmanager.log", "size": 10}}},
			{"containerId": "container_1_02_000001", "role": "jobmanager", "state": "RUNNING", "files": []map[string]any{{"name": "jobmanager.log", "size": 20}}},
		}})
	case r.Method == http.MethodGet && strings.Contains(path, "/logs/"):
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "log of %s\n", strings.TrimPrefix(path, "/v1/jobs/"))
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/v1/jobs/"):
		id := strings.TrimPrefix(path, "/v1/jobs/")
		end, ok := g.ends[id]
		if !ok {
			g.reply(w, 404, api.ErrorBody{Error: api.Error{Code: api.CodeNotFound, Message: "job " + id + " not found"}})
			return
		}
		st := api.StateStarting
		if r.URL.Query().Get("wait") != "" { // a long poll: answers when the job reaches its end
			st = end
		}
		g.reply(w, 200, api.Job{ID: id, State: st, Terminal: st.Terminal()})
	case r.Method == http.MethodPost && path == "/v1/sessions":
		g.reply(w, 202, api.Session{ID: "application_1_9", State: api.SessionStarting})
	case r.Method == http.MethodGet && path == "/v1/sessions/application_1_9":
		g.reply(w, 200, api.Session{ID: "application_1_9", State: api.SessionRunning})
	case r.Method == http.MethodGet && path == "/v1/sessions":
		g.reply(w, 200, api.SessionList{Sessions: []api.Session{{ID: "application_1_9", State: api.SessionRunning}}})
	case r.Method == http.MethodDelete && strings.HasPrefix(path, "/v1/sessions/"):
		g.reply(w, 202, api.Session{ID: strings.TrimPrefix(path, "/v1/sessions/"), State: api.SessionStopping})
	default:
		g.reply(w, 404, api.ErrorBody{Error: api.Error{Code: api.CodeNotFound, Message: "no route"}})
	}
}

// requested reports whether a request line with this prefix was served.
func (g *fakeGateway) requested(prefix string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range g.requests {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

func (g *fakeGateway) body(key string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return string(g.bodies[key])
}

// runCLI runs the yarngate command against g.
func runCLI(t *testing.T, g *fakeGateway, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("YARNGATE_ADDR", g.url)
	t.Setenv("KRB5CCNAME", filepath.Join(t.TempDir(), "no-ccache"))
	var stdout, stderr strings.Builder
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestSubmitWaitExitCodes(t *testing.T) {
	tests := []struct {
		end      string
		wait     string
		wantCode int
	}{
		{"FINISHED", "FINISHED", exitOK},
		{"FAILED", "FINISHED", exitFailed},
		{"CANCELED", "FINISHED", exitCanceled},
		{"KILLED", "FINISHED", exitKilled},
		{"LOST", "FINISHED", exitLost},
		{"RUNNING", "RUNNING", exitOK},
		{"FINISHED", "RUNNING", exitOK},
		{"FAILED", "RUNNING", exitFailed},
	}
	for _, tc := range tests {
		t.Run(tc.end+" waiting for "+tc.wait, func(t *testing.T) {
			g := newFakeGateway(t)
			code, stdout, stderr := runCLI(t, g, "jobs", "submit", "--jar-id", "jar1", "--name", "ends-"+tc.end, "--wait", tc.wait, "-o", "json")
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.wantCode, stderr)
			}
			var j api.Job
			if err := json.Unmarshal([]byte(stdout), &j); err != nil || string(j.State) != tc.end {
				t.Errorf("stdout %q: %v", stdout, err)
			}
			if tc.wantCode != exitOK && !strings.Contains(stderr, "ended "+tc.end) {
				t.Errorf("stderr %q does not say how the job ended", stderr)
			}
		})
	}
}

func TestSubmitSpec(t *testing.T) {
	g := newFakeGateway(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte("name: from-file\nqueue: root.default\nparallelism: 2\nargs: [--mode, bounded]\nflinkConfig:\n  a: 1\n"), 0o600)
	jar := filepath.Join(dir, "my job.jar")
	os.WriteFile(jar, []byte("PK fake"), 0o600)
	code, stdout, stderr := runCLI(t, g, "jobs", "submit", "-f", spec, "--jar", jar, "--name", "ends-RUNNING", "-D", "b=two",
		"--slots", "3", "--idempotency-key", "k1", "--", "--mode", "unbounded", "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "application_1_ends-RUNNING") || !strings.Contains(stderr, "uploaded") {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	if !g.requested("POST /v1/jars?name=my+job.jar") || g.body("POST /v1/jars") != "PK fake" {
		t.Errorf("jar not uploaded: %q", g.requests)
	}
	var req map[string]any
	json.Unmarshal([]byte(g.body("POST /v1/jobs")), &req)
	want := `map[args:[--mode unbounded ] flinkConfig:map[a:1 b:two] jarId:jar1 name:ends-RUNNING parallelism:2 queue:root.default taskManager:map[slots:3]]`
	if fmt.Sprint(req) != want {
		t.Errorf("request\n%v\nwant\n%v", req, want)
	}
}

func TestClientCommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
		wantReq    string
	}{
		{name: "jars list", args: []string{"jars", "list"}, wantStdout: "jar1", wantReq: "GET /v1/jars"},
		{name: "jars list json", args: []string{"jars", "list", "-o", "json"}, wantStdout: `"jars": [`},
		{name: "jars rm", args: []string{"jars", "rm", "jar1"}, wantStderr: "removed jar jar1", wantReq: "DELETE /v1/jars/jar1"},
		{name: "jars rm refused", args: []string{"jars", "rm", "inuse"}, wantCode: exitError,
			wantStderr: "yarngate: jar_in_use: jar inuse is used by a job that has not ended (HTTP 409, request rq-9)"},
		{name: "invalid spec with details", args: []string{"jobs", "submit", "--jar-id", "x", "--name", "invalid"}, wantCode: exitError,
			wantStderr: "invalid_spec: the job request is invalid (HTTP 400)\n  parallelism: must be at least 1\n"},
		{name: "jobs list follows pages", args: []string{"jobs", "list", "--state", "running"}, wantStdout: "j2",
			wantReq: "GET /v1/jobs?cursor=p2&state=RUNNING"},
		{name: "jobs get unknown", args: []string{"jobs", "get", "nope"}, wantCode: exitError, wantStderr: "not_found: job nope not found"},
		{name: "jobs cancel kill", args: []string{"jobs", "cancel", "--kill", "application_1_x"}, wantCode: exitError, wantReq: "POST /v1/jobs/application_1_x/cancel"},
		{name: "logs: the running JobManager's last 64 KiB", args: []string{"jobs", "logs", "app"},
			wantStdout: "log of app/logs/container_1_02_000001/jobmanager.log", wantReq: "GET /v1/jobs/app/logs/container_1_02_000001/jobmanager.log?offset=-65536"},
		{name: "logs --all -f", args: []string{"jobs", "logs", "app", "--all", "-f", "--container", "c9", "--file", "jobmanager.out"},
			wantStdout: "log of app/logs/c9/jobmanager.out", wantReq: "GET /v1/jobs/app/logs/c9/jobmanager.out?follow=true"},
		{name: "logs --tail", args: []string{"jobs", "logs", "app", "--tail", "1m"}, wantReq: "GET /v1/jobs/app/logs/container_1_02_000001/jobmanager.log?offset=-1048576"},
		{name: "logs --list", args: []string{"jobs", "logs", "app", "--list"}, wantStdout: "container_1_01_000002  taskmanager"},
		{name: "sessions create and wait", args: []string{"sessions", "create", "--name", "s", "--wait", "running"}, wantStdout: "RUNNING",
			wantReq: "GET /v1/sessions/application_1_9?timeout=1m0s&wait=RUNNING"},
		{name: "sessions list json", args: []string{"sessions", "list", "-o", "json"}, wantStdout: `"sessions": [`},
		{name: "sessions stop", args: []string{"sessions", "stop", "application_1_9"}, wantStdout: "STOPPING", wantReq: "DELETE /v1/sessions/application_1_9"},
		{name: "bad output", args: []string{"jobs", "list", "-o", "yaml"}, wantCode: exitUsage, wantStderr: "--output"},
		{name: "bad wait", args: []string{"jobs", "submit", "--jar-id", "x", "--wait", "FAILED"}, wantCode: exitUsage, wantStderr: "--wait"},
		{name: "missing id", args: []string{"jobs", "get"}, wantCode: exitUsage, wantStderr: "accepts 1 arg"},
		{name: "unknown flag", args: []string{"jobs", "list", "--nope"}, wantCode: exitUsage, wantStderr: "unknown flag: --nope"},
		{name: "unknown subcommand", args: []string{"jobs", "launch"}, wantCode: exitUsage, wantStderr: `unknown command "launch"`},
		{name: "token needed", args: []string{"jobs", "list", "--auth", "token"}, wantCode: exitUsage, wantStderr: "needs a token"},
		{name: "completion bash", args: []string{"completion", "bash"}, wantStdout: "bash completion"},
		{name: "completion zsh", args: []string{"completion", "zsh"}, wantStdout: "#compdef yarngate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			code, stdout, stderr := runCLI(t, g, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr)
			}
			if !strings.Contains(stdout, tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.wantStderr)
			}
			if tc.wantReq != "" && !g.requested(tc.wantReq) {
				t.Errorf("no request %q among %q", tc.wantReq, g.requests)
			}
		})
	}
}

func TestTokenSources(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("from-file\n"), 0o600)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "none", want: ""},
		{name: "env", env: map[string]string{"YARNGATE_TOKEN": "from-env"}, want: "Bearer from-env"},
		{name: "file from env", env: map[string]string{"YARNGATE_TOKEN_FILE": tokenFile}, want: "Bearer from-file"},
		{name: "flag file", args: []string{"--token-file", tokenFile}, want: "Bearer from-file"},
		{name: "flag beats env", env: map[string]string{"YARNGATE_TOKEN": "from-env"}, args: []string{"--token", "from-flag"}, want: "Bearer from-flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			t.Setenv("YARNGATE_TOKEN", "")
			t.Setenv("YARNGATE_TOKEN_FILE", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, _, stderr := runCLI(t, g, append([]string{"jars", "list"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if len(g.auth) != 1 || g.auth[0] != tc.want {
				t.Errorf("Authorization %q, want %q", g.auth, tc.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestSavepointCommands: jobs savepoint and jobs stop send the trigger id (given or random), format and
// drain, wait for the savepoint by polling the list, and exit 3 when it failed; jobs savepoints lists.
func TestSavepointCommands(t *testing.T) {
	g := newFakeGateway(t)
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantKey  string // the request whose body is checked
		wantBody []string
		wantOut  string
	}{
		{"savepoint waited for", []string{"jobs", "savepoint", "j1", "--trigger-id", "t-1", "--format", "NATIVE", "--wait", "-o", "json"},
			exitOK, "POST /v1/jobs/j1/savepoints", []string{`"triggerId":"t-1"`, `"format":"NATIVE"`}, `"state": "COMPLETED"`},
		{"savepoint without wait", []string{"jobs", "savepoint", "j2"},
			exitOK, "POST /v1/jobs/j2/savepoints", []string{`"triggerId":"cli-`}, "IN_PROGRESS"},
		{"failed savepoint exits 3", []string{"jobs", "savepoint", "spfail", "--wait"},
			exitFailed, "POST /v1/jobs/spfail/savepoints", nil, "Not all required tasks"},
		{"stop with drain", []string{"jobs", "stop", "j3", "--drain", "--wait", "-o", "json"},
			exitOK, "POST /v1/jobs/j3/stop", []string{`"savepoint":true`, `"drain":true`}, `"path": "hdfs:///sp/j3"`},
		{"list", []string{"jobs", "savepoints", "j1"}, exitOK, "", nil, "hdfs:///sp/j1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, g, tc.args...)
			if code != tc.wantCode || !strings.Contains(out+stderr, tc.wantOut) {
				t.Errorf("exit %d, want %d; output %q %q does not hold %q", code, tc.wantCode, out, stderr, tc.wantOut)
			}
			for _, b := range tc.wantBody {
				if got := g.body(tc.wantKey); !strings.Contains(got, b) {
					t.Errorf("%s body %s, want %s in it", tc.wantKey, got, b)
				}
			}
		})
	}
}

// TestUpgradeCommand: jobs upgrade sends the new spec (flags and the arguments after --) with an upgrade id
// (given or random), and with --wait follows the upgrade to its end: 0 when it SUCCEEDED, 3 when it rolled back.
func TestUpgradeCommand(t *testing.T) {
	g := newFakeGateway(t)
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantBody []string
		wantOut  string
	}{
		{"new jar and args, waited for", []string{"jobs", "upgrade", "up-SUCCEEDED", "--jar-id", "jar2", "--upgrade-id", "u-1",
			"--mode", "last-state", "-p", "3", "-D", "a.b=c", "--health-timeout", "2m", "--wait", "--", "--window", "5m"},
			exitOK, []string{`"upgradeId":"u-1"`, `"mode":"last-state"`, `"jarId":"jar2"`, `"parallelism":3`, `"flinkConfig":{"a.b":"c"}`,
				`"args":["--window","5m"]`, `"healthTimeoutSeconds":120`}, "u-1 last-state SUCCEEDED"},
		{"rolled back exits 3", []string{"jobs", "upgrade", "up-ROLLED_BACK", "--flink-version", "2", "--wait"},
			exitFailed, []string{`"upgradeId":"cli-`, `"flinkVersion":"2"`}, "ended FAILED before it was healthy"},
		{"not waited for", []string{"jobs", "upgrade", "up-SUCCEEDED", "--upgrade-id", "u-2"},
			exitOK, []string{`"upgradeId":"u-2"`}, "u-2 STOPPING"},
		{"two ids", []string{"jobs", "upgrade", "a", "b"}, exitUsage, nil, "one job id"},
		{"jar flags exclude each other", []string{"jobs", "upgrade", "up-SUCCEEDED", "--jar", "x.jar", "--jar-id", "j"}, exitUsage, nil, "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, g, tc.args...)
			if code != tc.wantCode || !strings.Contains(out+stderr, tc.wantOut) {
				t.Errorf("exit %d, want %d; output %q %q does not hold %q", code, tc.wantCode, out, stderr, tc.wantOut)
			}
			for _, b := range tc.wantBody {
				if got := g.body("POST /v1/jobs/" + tc.args[2] + "/upgrade"); !strings.Contains(got, b) {
					t.Errorf("upgrade body %s, want %s in it", got, b)
				}
			}
		})
	}
}
