package app

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/jarfile/jartest"
	"github.com/yarngate/yarngate/testenv"
)

// These tests launch real Flink clusters on the test cluster's YARN through an in-process gateway and
// check what YARN, Flink and HDFS say, for Flink 1.20 and 2.x.

// flinkVersions are the versions every job test runs with; the test cluster has one distribution each.
var flinkVersions = []string{"1.20", "2"}

// jobGateway is an in-process gateway with job launching, and a client for its job API.
type jobGateway struct {
	t       *testing.T
	url     string
	cluster *testenv.Cluster
	root    *hdfstest.Root
	jarID   string // the example job, staged
	// token, when set, is sent as a bearer token with every request (a gateway with auth.methods token).
	token string
	// client, when set, sends the requests (curl --negotiate as a user on the Kerberized cluster).
	client *http.Client
}

// httpClient is the client g sends with.
func (g *jobGateway) httpClient() *http.Client {
	if g.client != nil {
		return g.client
	}
	return http.DefaultClient
}

// with returns g calling through another client.
func (g *jobGateway) with(client *http.Client) *jobGateway {
	c := *g
	c.client = client
	return &c
}

// as returns g calling with another bearer token.
func (g *jobGateway) as(token string) *jobGateway {
	c := *g
	c.token = token
	return &c
}

func startJobGateway(t *testing.T) *jobGateway {
	t.Helper()
	return startJobGatewayWith(t, nil)
}

// startJobGatewayWith is startJobGateway with tweak applied to the configuration (nil: none).
func startJobGatewayWith(t *testing.T, tweak func(cfg *config.Config, root *hdfstest.Root)) *jobGateway {
	t.Helper()
	root := hdfstest.New(t)
	c := root.Cluster
	cfg := clusterConfig(t, root)
	cfg.Flink.Homes = []string{c.FlinkHome, c.Flink2Home}
	cfg.Flink.DefaultVersion = "1.20"
	cfg.Flink.LibRoot = "/user/" + c.User + "/it-flink" // shared: uploads are content-addressed
	cfg.Jars.MaxSize = 64 << 20
	if tweak != nil {
		tweak(&cfg, root)
	}
	r := start(t, cfg)
	g := &jobGateway{t: t, url: r.url, cluster: c, root: root}
	jar, err := os.ReadFile(c.ExampleJar)
	if err != nil {
		t.Fatalf("example jar (make example-jar): %v", err)
	}
	g.jarID = g.uploadJar(jar)
	return g
}

func (g *jobGateway) uploadJar(data []byte) string {
	g.t.Helper()
	var status int
	var j jarResponse
	var body string
	if g.token == "" && g.client == nil {
		status, j, body = post(g.t, g.url+"/v1/jars", "application/java-archive", bytes.NewReader(data))
	} else {
		req, _ := http.NewRequest(http.MethodPost, g.url+"/v1/jars", bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/java-archive")
		if g.token != "" {
			req.Header.Set("Authorization", "Bearer "+g.token)
		}
		resp, err := g.httpClient().Do(req)
		if err != nil {
			g.t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, body = resp.StatusCode, string(raw)
		json.Unmarshal(raw, &j)
	}
	if status != 200 && status != 201 {
		g.t.Fatalf("upload jar = %d %s", status, body)
	}
	return j.ID
}

// job is the part of the job object the tests read.
type jobObj struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Terminal bool   `json:"terminal"`
	YARN     struct {
		ApplicationID string `json:"applicationId"`
		State         string `json:"state"`
		FinalStatus   string `json:"finalStatus"`
		Diagnostics   string `json:"diagnostics"`
		User          string `json:"user"`
	} `json:"yarn"`
	Flink struct {
		JobID   string  `json:"jobId"`
		State   *string `json:"state"`
		Version string  `json:"version"`
		Failure *string `json:"failure"`
	} `json:"flink"`
	Links struct {
		YARN       string  `json:"yarn"`
		FlinkUI    *string `json:"flinkUi"`
		JobManager *string `json:"jobManager"`
	} `json:"links"`
	Credentials *struct {
		HDFSTokenExpiresAt time.Time  `json:"hdfsTokenExpiresAt"`
		HDFSAccessUntil    *time.Time `json:"hdfsAccessUntil"`
		KeytabPrincipal    *string    `json:"keytabPrincipal"`
	} `json:"credentials"`
}

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field string `json:"field"`
		} `json:"details"`
	} `json:"error"`
}

// do sends a JSON request and decodes the answer into out (a *job or *apiErr chosen by status).
func (g *jobGateway) do(method, path string, headers map[string]string, body any) (int, jobObj, apiErr, string) {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, g.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if g.token != "" {
		req.Header.Set("Authorization", "Bearer "+g.token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := g.httpClient().Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var j jobObj
	var e apiErr
	if resp.StatusCode < 300 {
		json.Unmarshal(raw, &j)
	} else {
		json.Unmarshal(raw, &e)
	}
	return resp.StatusCode, j, e, string(raw)
}

// submit launches a job and registers its kill at test end.
func (g *jobGateway) submit(spec map[string]any, headers map[string]string) jobObj {
	g.t.Helper()
	status, j, _, body := g.do(http.MethodPost, "/v1/jobs", headers, spec)
	if status != http.StatusAccepted && status != http.StatusOK {
		g.t.Fatalf("submit = %d %s", status, body)
	}
	g.t.Cleanup(func() { g.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true}) })
	return j
}

// wait long-polls until the job reaches state (or ends), up to limit.
func (g *jobGateway) wait(id, state string, limit time.Duration) jobObj {
	g.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		status, j, _, body := g.do(http.MethodGet, "/v1/jobs/"+id+"?wait="+state+"&timeout=60s", nil, nil)
		if status != 200 {
			g.t.Fatalf("get %s = %d %s", id, status, body)
		}
		if j.State == state || j.Terminal || time.Now().After(deadline) {
			return j
		}
	}
}

// waitYARNEnd polls the job until YARN reports its application ended.
func (g *jobGateway) waitYARNEnd(id string) jobObj {
	g.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, j, _, _ := g.do(http.MethodGet, "/v1/jobs/"+id, nil, nil)
		switch j.YARN.State {
		case "FINISHED", "FAILED", "KILLED":
			return j
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("YARN application %s still %s", id, j.YARN.State)
		}
		time.Sleep(time.Second)
	}
}

func (g *jobGateway) spec(name, version string, args ...string) map[string]any {
	return map[string]any{"name": name, "jarId": g.jarID, "flinkVersion": version, "args": args}
}

func (g *jobGateway) hdfsPath(name string) string { return g.root.Path + "/" + name }

func readHDFS(t *testing.T, c *testenv.Cluster, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := c.ReadHDFS(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sumOfSquares(n int64) int64 { return n * (n + 1) * (2*n + 1) / 6 }

// awkwardArgs must reach main() byte for byte.
var awkwardArgs = []string{"two words", `"double" and 'single' quotes`, "semi;colon", "#not a comment", "$HOME ${X} `cmd` $(cmd)",
	"ünïcødé ✓ 日本", "", "back\\slash", "tab\there", "new\nline", "--mode", "-Dkey=value", "a,b", "{{JAVA_HOME}} <LOG_DIR>"}

func TestJobBoundedFinishesWithExactArgs(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			out, argsOut := g.hdfsPath("sum-"+v), g.hdfsPath("args-"+v)
			const n = 3000
			args := append([]string{"--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://" + out,
				"--record-args", "hdfs://" + argsOut, "--"}, awkwardArgs...)
			j := g.submit(g.spec("it-bounded-"+v, v, args...), nil)
			if j.ID == "" || !strings.HasPrefix(j.ID, "application_") || j.YARN.ApplicationID != j.ID {
				t.Fatalf("submitted job = %+v", j)
			}
			if j.Links.YARN != g.cluster.RMURL+"/cluster/app/"+j.ID {
				t.Errorf("links.yarn = %q", j.Links.YARN)
			}
			j = g.wait(j.ID, "FINISHED", 6*time.Minute)
			if j.State == "FINISHED" {
				j = g.waitYARNEnd(j.ID) // the job's state is final; YARN's own report catches up
			}
			if j.State != "FINISHED" || j.YARN.FinalStatus != "SUCCEEDED" || j.YARN.User != g.cluster.User {
				t.Fatalf("job ended %s (yarn %s/%s, user %s): %s", j.State, j.YARN.State, j.YARN.FinalStatus, j.YARN.User, j.YARN.Diagnostics)
			}
			if !strings.HasPrefix(j.Flink.Version, strings.TrimSuffix(v, ".x")) {
				t.Errorf("flink.version = %q, want %s", j.Flink.Version, v)
			}
			if got, want := strings.TrimSpace(readHDFS(t, g.cluster, out)), fmt.Sprintf("count=%d sum=%d", n, sumOfSquares(n)); got != want {
				t.Errorf("result %q, want %q", got, want)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSuffix(readHDFS(t, g.cluster, argsOut), "\n"), "\n") {
				b, err := hex.DecodeString(line)
				if err != nil {
					t.Fatalf("args file line %q: %v", line, err)
				}
				got = append(got, string(b))
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", awkwardArgs) {
				t.Errorf("main() got args\n%q\nwant\n%q", got, awkwardArgs)
			}
		})
	}
}

func TestJobUnboundedRunsAndCancels(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			spec := g.spec("it-unbounded-"+v, v, "--mode", "unbounded", "--rate", "20")
			spec["parallelism"] = 2
			spec["taskManager"] = map[string]any{"slots": 2}
			j := g.submit(spec, nil)
			j = g.wait(j.ID, "RUNNING", 5*time.Minute)
			if j.State != "RUNNING" || j.Links.JobManager == nil || j.Links.FlinkUI == nil {
				t.Fatalf("job = %s, links %+v: %s", j.State, j.Links, j.YARN.Diagnostics)
			}
			// The JobManager's REST API, directly and through the ResourceManager's proxy (the UI link).
			for _, base := range []string{*j.Links.JobManager, strings.TrimSuffix(*j.Links.FlinkUI, "/")} {
				var detail struct {
					State    string `json:"state"`
					Vertices []struct {
						Parallelism int `json:"parallelism"`
					} `json:"vertices"`
				}
				status, body := get(t, base+"/jobs/"+j.Flink.JobID)
				if status != 200 || json.Unmarshal([]byte(body), &detail) != nil {
					t.Fatalf("GET %s/jobs/%s = %d %.300s", base, j.Flink.JobID, status, body)
				}
				if detail.State != "RUNNING" || len(detail.Vertices) == 0 || detail.Vertices[0].Parallelism != 2 {
					t.Errorf("%s says %+v, want RUNNING with parallelism 2", base, detail)
				}
			}
			if status, body := get(t, *j.Links.FlinkUI); status != 200 || !strings.Contains(body, "Apache Flink") {
				t.Errorf("Flink UI at %s = %d %.200s", *j.Links.FlinkUI, status, body)
			}

			status, c, _, body := g.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, nil)
			if status != http.StatusAccepted && status != http.StatusOK {
				t.Fatalf("cancel = %d %s", status, body)
			}
			c = g.wait(j.ID, "CANCELED", 3*time.Minute)
			if c.State != "CANCELED" {
				t.Fatalf("after cancel: %s (yarn %s/%s) %s", c.State, c.YARN.State, c.YARN.FinalStatus, c.YARN.Diagnostics)
			}
			// The YARN application ends and the launch files go.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			app, err := g.cluster.WaitApp(ctx, j.ID)
			if err != nil || app.State != "FINISHED" {
				t.Errorf("YARN application after cancel: %+v, %v", app, err)
			}
			g.expectGone(t, g.root.Path+"/.flink/"+j.ID)
		})
	}
}

// expectGone polls until path does not exist in HDFS (the gateway or Flink removes launch files).
func (g *jobGateway) expectGone(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := g.root.Raw.Stat(path)
		if os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s still exists (%v)", path, err)
			return
		}
		g.do(http.MethodGet, "/v1/jobs/"+path[strings.LastIndex(path, "/")+1:], nil, nil) // an observation triggers clean-up
		time.Sleep(time.Second)
	}
}

func TestJobWhoseMainThrowsFails(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			j := g.submit(g.spec("it-fails-"+v, v, "--fail"), nil)
			j = g.wait(j.ID, "FAILED", 5*time.Minute)
			if j.State != "FAILED" || !j.Terminal {
				t.Fatalf("job = %s (yarn %s/%s)", j.State, j.YARN.State, j.YARN.FinalStatus)
			}
			j = g.waitYARNEnd(j.ID)
			for deadline := time.Now().Add(2 * time.Minute); j.Flink.Failure == nil && time.Now().Before(deadline); {
				time.Sleep(2 * time.Second) // the gateway finds the failure in the background
				_, j, _, _ = g.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil)
			}
			if j.Flink.Failure == nil || !strings.Contains(*j.Flink.Failure, "failing on purpose (--fail)") {
				t.Errorf("flink.failure %v does not carry main()'s exception (yarn diagnostics %q)", j.Flink.Failure, j.YARN.Diagnostics)
			} else if strings.Contains(*j.Flink.Failure, "\tat ") {
				t.Errorf("flink.failure carries a stack trace: %q", *j.Flink.Failure)
			}
			if j.Flink.State == nil || *j.Flink.State != "FAILED" {
				t.Errorf("flink.state = %v, want FAILED", j.Flink.State)
			}
		})
	}
}

func TestThreeApplicationJobsAtOnce(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	var wg sync.WaitGroup
	jobs := make([]jobObj, 3)
	for i := range jobs {
		wg.Go(func() {
			out := "hdfs://" + g.hdfsPath(fmt.Sprintf("concurrent-%d", i))
			jobs[i] = g.submit(g.spec(fmt.Sprintf("it-concurrent-%d", i), "1.20", "--mode", "bounded", "--n", fmt.Sprint(100+i), "--output", out), nil)
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, j := range jobs {
		if j.ID == "" || seen[j.ID] {
			t.Fatalf("job %d has id %q (duplicate or missing)", i, j.ID)
		}
		seen[j.ID] = true
	}
	for i, j := range jobs {
		j = g.wait(j.ID, "FINISHED", 6*time.Minute)
		if j.State != "FINISHED" {
			t.Errorf("job %d (%s) ended %s: %s", i, j.ID, j.State, j.YARN.Diagnostics)
			continue
		}
		n := int64(100 + i)
		if got := strings.TrimSpace(readHDFS(t, g.cluster, g.hdfsPath(fmt.Sprintf("concurrent-%d", i)))); got != fmt.Sprintf("count=%d sum=%d", n, sumOfSquares(n)) {
			t.Errorf("job %d result %q", i, got)
		}
	}
}

func TestIdempotencyKeyLaunchesOnce(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	suffix := fmt.Sprint(time.Now().UnixNano())
	key, name := "it-key-"+suffix, "it-idempotent-"+suffix
	spec := g.spec(name, "1.20", "--mode", "unbounded")
	headers := map[string]string{"Idempotency-Key": key}

	// Five at once, then one more: every answer names the same application.
	var wg sync.WaitGroup
	ids := make([]string, 5)
	statuses := make([]int, 5)
	for i := range ids {
		wg.Go(func() {
			var j jobObj
			statuses[i], j, _, _ = g.do(http.MethodPost, "/v1/jobs", headers, spec)
			ids[i] = j.ID
		})
	}
	wg.Wait()
	t.Cleanup(func() { g.do(http.MethodPost, "/v1/jobs/"+ids[0]+"/cancel", nil, map[string]bool{"kill": true}) })
	launched := 0
	for i := range ids {
		if ids[i] == "" || ids[i] != ids[0] {
			t.Fatalf("answers name different applications: %v (statuses %v)", ids, statuses)
		}
		if statuses[i] == http.StatusAccepted {
			launched++
		} else if statuses[i] != http.StatusOK {
			t.Fatalf("statuses %v", statuses)
		}
	}
	if launched != 1 {
		t.Errorf("%d answers say launched (202), want exactly 1: %v", launched, statuses)
	}
	if status, j, _, body := g.do(http.MethodPost, "/v1/jobs", headers, spec); status != http.StatusOK || j.ID != ids[0] {
		t.Errorf("retry = %d %s, want 200 with %s", status, body, ids[0])
	}
	// The same key with another request is refused.
	other := g.spec("it-idempotent-other", "1.20", "--mode", "unbounded")
	if status, _, e, body := g.do(http.MethodPost, "/v1/jobs", headers, other); status != http.StatusUnprocessableEntity || e.Error.Code != "idempotency_key_reused" {
		t.Errorf("reuse with another body = %d %s", status, body)
	}
	// YARN has exactly one application with this (unique) name.
	if n := g.countApps(t, name); n != 1 {
		t.Errorf("YARN has %d applications named %s, want 1", n, name)
	}
}

// countApps counts the cluster's applications with this name.
func (g *jobGateway) countApps(t *testing.T, name string) int {
	t.Helper()
	status, body := get(t, g.cluster.RMURL+"/ws/v1/cluster/apps?user.name="+g.cluster.User)
	if status != 200 {
		t.Fatalf("list apps = %d", status)
	}
	var list struct {
		Apps *struct {
			App []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"app"`
		} `json:"apps"`
	}
	json.Unmarshal([]byte(body), &list)
	n := 0
	if list.Apps != nil {
		for _, a := range list.Apps.App {
			if a.Name == name {
				n++
			}
		}
	}
	return n
}

func TestJobBadInputCreatesNothing(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	noMain := g.uploadJar(jartest.Bytes(t, jartest.Options{PayloadSize: 1024, Seed: 77}))
	suffix := fmt.Sprint(time.Now().UnixNano())
	tests := []struct {
		name   string
		mutate func(map[string]any)
		status int
		code   string
		field  string
	}{
		{"unknown jar", func(s map[string]any) { s["jarId"] = strings.Repeat("ab", 32) }, 404, "jar_not_found", ""},
		{"unknown jar path", func(s map[string]any) { delete(s, "jarId"); s["jarPath"] = "hdfs:///user/nobody/x.jar" }, 404, "jar_not_found", ""},
		{"bad memory", func(s map[string]any) { s["jobManager"] = map[string]any{"memory": "lots"} }, 400, "invalid_spec", "jobManager.memory"},
		{"zero parallelism", func(s map[string]any) { s["parallelism"] = 0 }, 400, "invalid_spec", "parallelism"},
		{"negative slots", func(s map[string]any) { s["taskManager"] = map[string]any{"slots": -1} }, 400, "invalid_spec", "taskManager.slots"},
		{"unknown target", func(s map[string]any) { s["target"] = "per-job" }, 400, "invalid_spec", "target"},
		{"unknown flink version", func(s map[string]any) { s["flinkVersion"] = "9.9" }, 400, "invalid_spec", "flinkVersion"},
		{"no entry class", func(s map[string]any) { s["jarId"] = noMain }, 400, "invalid_spec", "entryClass"},
		{"reserved flink key", func(s map[string]any) { s["flinkConfig"] = map[string]any{"pipeline.jars": "x"} }, 400, "invalid_spec", "flinkConfig.pipeline.jars"},
		{"JVM options", func(s map[string]any) {
			s["flinkConfig"] = map[string]any{"env.java.opts.jobmanager": "-Dx=1; curl http://127.0.0.1:1/x | sh #"}
		}, 400, "invalid_spec", "flinkConfig.env.java.opts.jobmanager"},
		{"environment with shell syntax", func(s map[string]any) {
			s["flinkConfig"] = map[string]any{"containerized.master.env.FOO": "$(id)"}
		}, 400, "invalid_spec", "flinkConfig.containerized.master.env.FOO"},
		{"a gateway tag", func(s map[string]any) { s["flinkConfig"] = map[string]any{"yarn.tags": "yarngate-idem:00"} }, 400, "invalid_spec", "flinkConfig.yarn.tags"},
		{"HA storage", func(s map[string]any) { s["flinkConfig"] = map[string]any{"high-availability.storageDir": "hdfs:///x"} }, 400, "invalid_spec", "flinkConfig.high-availability.storageDir"},
		{"unknown field", func(s map[string]any) { s["paralellism"] = 2 }, 400, "invalid_spec", "body"},
		{"unknown queue", func(s map[string]any) { s["queue"] = "no-such-queue" }, 422, "unknown_queue", ""},
		{"above cluster maximum", func(s map[string]any) { s["jobManager"] = map[string]any{"memory": "64g"} }, 400, "invalid_spec", "jobManager.memory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "it-bad-" + strings.ReplaceAll(tc.name, " ", "-") + "-" + suffix
			spec := g.spec(name, "", "--mode", "bounded", "--output", "hdfs:///tmp/never")
			delete(spec, "flinkVersion")
			tc.mutate(spec)
			status, _, e, body := g.do(http.MethodPost, "/v1/jobs", nil, spec)
			if status != tc.status || e.Error.Code != tc.code {
				t.Fatalf("= %d %s, want %d %s", status, body, tc.status, tc.code)
			}
			if tc.field != "" && (len(e.Error.Details) == 0 || e.Error.Details[0].Field != tc.field) {
				t.Errorf("details %+v do not name %s", e.Error.Details, tc.field)
			}
			if n := g.countApps(t, name); n != 0 {
				t.Errorf("a rejected request left %d YARN applications", n)
			}
		})
	}
	// Nothing was staged for any of them.
	if entries, err := g.root.Raw.ReadDir(g.root.Path + "/.flink"); err == nil && len(entries) != 0 {
		t.Errorf("launch files left behind: %d entries in .flink", len(entries))
	}
}
