package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/testenv"
	"github.com/yarngate/yarngate/zk"
)

// These tests register existing Flink clusters (POST /v1/clusters) and run jobs in them: the standalone-HA
// cluster `make cluster-up STANDALONE=1` starts (two JobManagers, leader election in the test cluster's
// ZooKeeper, HA storage in HDFS), and a session Flink's own yarn-session.sh starts on the test YARN.

// flinkCluster is the part of a registered cluster the tests read.
type flinkCluster struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Health *struct {
		State          string `json:"state"`
		Reason         string `json:"reason"`
		JobManager     string `json:"jobManager"`
		FlinkVersion   string `json:"flinkVersion"`
		TaskManagers   int    `json:"taskManagers"`
		SlotsTotal     int    `json:"slotsTotal"`
		SlotsAvailable int    `json:"slotsAvailable"`
	} `json:"health"`
}

// standaloneFailover is held (write) by a test while it has killed a JobManager of the standalone cluster, until
// the JobManager runs again; tests that need the cluster whole hold it for reading.
var standaloneFailover sync.RWMutex

// standalone is the standalone-HA cluster of the test cluster, or a skip (a failure under CI) without one.
type standalone struct {
	rest     []string
	pids     []string
	root, id string
	quorum   string
	runDir   string
	repoRoot string
}

func requireStandalone(t *testing.T, c *testenv.Cluster) standalone {
	t.Helper()
	s := standalone{root: c.Env["YARNGATE_STANDALONE_ZK_ROOT"], id: c.Env["YARNGATE_STANDALONE_CLUSTER_ID"],
		quorum: c.Env["YARNGATE_ZK"], runDir: c.Env["YARNGATE_CLUSTER_RUN_DIR"]}
	if r := c.Env["YARNGATE_STANDALONE_REST"]; r != "" {
		s.rest = strings.Split(r, ",")
	}
	if p := c.Env["YARNGATE_STANDALONE_PIDS"]; p != "" {
		s.pids = strings.Split(p, ",")
	}
	if c.Kerberos {
		t.Skip("the standalone Flink cluster is not part of the Kerberized test cluster")
	}
	if len(s.rest) < 2 || s.id == "" || s.root == "" || len(s.pids) != len(s.rest) {
		if testenv.Required() {
			t.Fatal("the test cluster has no standalone Flink cluster: make cluster-up STANDALONE=1")
		}
		t.Skip("no standalone Flink cluster (make cluster-up STANDALONE=1)")
	}
	wd, _ := os.Getwd()
	s.repoRoot = filepath.Dir(wd)
	return s
}

// index is the index of the JobManager at REST base u (by port: ZooKeeper names the JobManagers by address,
// the registered URLs by name), -1 for none.
func (s standalone) index(u string) int {
	port := func(u string) string {
		if i := strings.LastIndex(u, ":"); i >= 0 {
			return strings.TrimRight(u[i+1:], "/")
		}
		return ""
	}
	return slices.IndexFunc(s.rest, func(r string) bool { return port(r) == port(u) })
}

// restore starts every standalone JobManager and TaskManager that is not running.
func (s standalone) restore(t *testing.T) {
	cmd := exec.Command(filepath.Join(s.repoRoot, "testenv", "cluster.sh"), "standalone-restore")
	cmd.Env = append(os.Environ(), "YARNGATE_RUN_DIR="+s.runDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("cluster.sh standalone-restore: %v\n%s", err, out)
	}
}

// startClusterGateway is startJobGateway with the test cluster's ZooKeeper quorum, where registered
// standalone-HA clusters elect their leaders.
func startClusterGateway(t *testing.T) *jobGateway {
	t.Helper()
	return startJobGatewayWith(t, func(cfg *config.Config, root *hdfstest.Root) {
		cfg.ZooKeeper.Quorum = root.Cluster.ZooKeeper
	})
}

// clusterDo sends a JSON request to the cluster API.
func (g *jobGateway) clusterDo(method, path string, body any) (int, flinkCluster, apiErr, string) {
	g.t.Helper()
	status, _, e, raw := g.do(method, path, nil, body)
	var c flinkCluster
	if status < 300 {
		json.Unmarshal([]byte(raw), &c)
	}
	return status, c, e, raw
}

// register registers a cluster and deregisters it at test end.
func (g *jobGateway) register(t *testing.T, body map[string]any) flinkCluster {
	t.Helper()
	status, c, _, raw := g.clusterDo(http.MethodPost, "/v1/clusters", body)
	if status != http.StatusCreated {
		t.Fatalf("register %v = %d %s", body, status, raw)
	}
	t.Cleanup(func() { g.clusterDo(http.MethodDelete, "/v1/clusters/"+c.ID, nil) })
	return c
}

// clusterSpec is a job of the example jar in a registered cluster.
func (g *jobGateway) clusterSpec(clusterID, name string, args ...string) map[string]any {
	return map[string]any{"name": name, "jarId": g.jarID, "target": "cluster", "clusterId": clusterID, "args": args}
}

// runBounded runs the bounded example job in a registered cluster and checks its output.
func (g *jobGateway) runBounded(t *testing.T, clusterID, name string, n int64) jobObj {
	t.Helper()
	out := g.hdfsPath(name)
	j := g.submit(g.clusterSpec(clusterID, name, "--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://"+out), nil)
	if !strings.HasPrefix(j.ID, clusterID+".") {
		t.Fatalf("job id %q is not in cluster %s", j.ID, clusterID)
	}
	f := g.wait(j.ID, "FINISHED", 4*time.Minute)
	if f.State != "FINISHED" {
		t.Fatalf("job %s = %s: %s", j.ID, f.State, deref(f.Flink.Failure))
	}
	if got, want := strings.TrimSpace(readHDFS(t, g.cluster, out)), fmt.Sprintf("count=%d sum=%d", n, sumOfSquares(n)); got != want {
		t.Errorf("job %s result %q, want %q", j.ID, got, want)
	}
	return f
}

// TestStandaloneHACluster registers the standalone-HA cluster by ZooKeeper and by its REST URLs, runs the
// bounded example job to its output, then an unbounded one across a kill -9 of the leading JobManager:
// the job's links follow the new leader within 5 s of its znode, the job is never terminal in between and
// runs again; then it cancels.
func TestStandaloneHACluster(t *testing.T) {
	t.Parallel()
	g := startClusterGateway(t)
	s := requireStandalone(t, g.cluster)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)

	byZK := g.register(t, map[string]any{"id": "it-sa-zk-" + suffix,
		"zookeeper": map[string]any{"quorum": s.quorum, "root": s.root, "clusterId": s.id}})
	byREST := g.register(t, map[string]any{"id": "it-sa-rest-" + suffix, "rest": s.rest})
	if byZK.Kind != "zookeeper" || byREST.Kind != "rest" {
		t.Fatalf("kinds %q %q", byZK.Kind, byREST.Kind)
	}
	// Registering the same again is the same registration; another under the id is refused.
	if status, _, _, raw := g.clusterDo(http.MethodPost, "/v1/clusters", map[string]any{"id": byREST.ID, "rest": s.rest}); status != http.StatusOK {
		t.Errorf("same registration again = %d %s", status, raw)
	}
	if status, _, e, raw := g.clusterDo(http.MethodPost, "/v1/clusters", map[string]any{"id": byREST.ID, "rest": s.rest[:1]}); status != http.StatusConflict || e.Error.Code != "cluster_exists" {
		t.Errorf("another registration under the id = %d %s", status, raw)
	}
	status, c, _, raw := g.clusterDo(http.MethodGet, "/v1/clusters/"+byZK.ID, nil)
	if status != 200 || c.Health == nil || c.Health.State != "HEALTHY" || c.Health.FlinkVersion != "1.20.3" ||
		c.Health.TaskManagers < 1 || c.Health.SlotsTotal < 2 || s.index(c.Health.JobManager) < 0 {
		t.Fatalf("cluster = %d %s", status, raw)
	}
	if status, raw := get(t, g.url+"/v1/clusters"); status != 200 || !strings.Contains(raw, byZK.ID) || !strings.Contains(raw, byREST.ID) {
		t.Errorf("list clusters = %d %s", status, raw)
	}

	g.runBounded(t, byZK.ID, "it-sa-zk-bounded-"+suffix, 60)
	g.runBounded(t, byREST.ID, "it-sa-rest-bounded-"+suffix, 70)

	// Unbounded, through ZooKeeper: RUNNING, with links to the leader's UI.
	u := g.submit(g.clusterSpec(byZK.ID, "it-sa-unbounded-"+suffix, "--mode", "unbounded", "--rate", "20"), nil)
	u = g.wait(u.ID, "RUNNING", 3*time.Minute)
	if u.State != "RUNNING" || u.Links.JobManager == nil || u.Links.FlinkUI == nil {
		t.Fatalf("unbounded job = %s, links %+v", u.State, u.Links)
	}
	leader := *u.Links.JobManager
	if want := leader + "/#/job/running/" + u.Flink.JobID + "/overview"; *u.Links.FlinkUI != want {
		t.Errorf("links.flinkUi = %q, want %q", *u.Links.FlinkUI, want)
	}
	if status, body := get(t, *u.Links.FlinkUI); status != 200 || !strings.Contains(body, "Apache Flink") {
		t.Errorf("Flink UI at %s = %d", *u.Links.FlinkUI, status)
	}
	if d := c.Health.SlotsTotal; d < 1 {
		t.Errorf("slots %d", d)
	}

	// Watch the job object the whole time.
	type seen struct {
		at    time.Time
		state string
		jm    string
	}
	var (
		mu      sync.Mutex
		history []seen
	)
	watchCtx, stopWatch := context.WithCancel(t.Context())
	var watching sync.WaitGroup
	watching.Go(func() {
		for watchCtx.Err() == nil {
			_, j, _, _ := g.do(http.MethodGet, "/v1/jobs/"+u.ID, nil, nil)
			jm := ""
			if j.Links.JobManager != nil {
				jm = *j.Links.JobManager
			}
			mu.Lock()
			history = append(history, seen{time.Now(), j.State, jm})
			mu.Unlock()
			if j.Terminal {
				return
			}
			select {
			case <-watchCtx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	defer func() {
		stopWatch()
		watching.Wait()
	}()

	// kill -9 the leading JobManager.
	i := s.index(leader)
	if i < 0 {
		t.Fatalf("the leader %s is none of %v", leader, s.rest)
	}
	pidText, err := os.ReadFile(s.pids[i])
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	standaloneFailover.Lock()
	restored := false
	restore := func() {
		if !restored {
			restored = true
			s.restore(t)
			standaloneFailover.Unlock()
		}
	}
	defer restore()
	conn, _, err := gozk.Connect(strings.Split(s.quorum, ","), 10*time.Second, gozk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	znode := zk.RESTLeaderPath(s.root, s.id)
	killedAt := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	t.Logf("killed the leading JobManager %s (pid %d)", leader, pid)

	// The new leader's znode: poll until it names another JobManager.
	var newLeader string
	var znodeAt time.Time
	deadline := time.Now().Add(3 * time.Minute)
	for newLeader == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no new leader in %s after 3 minutes", znode)
		}
		data, stat, err := conn.Get(znode)
		if err == nil {
			if info, ok, err := zk.DecodeLeaderInformation(data); err == nil && ok && info.Address != leader && info.Address != "" {
				newLeader, znodeAt = info.Address, time.UnixMilli(stat.Mtime)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("new leader %s, znode written %s after the kill", newLeader, znodeAt.Sub(killedAt).Round(time.Millisecond))

	// Links follow within 5 s of the znode.
	var linkedAt time.Time
	for linkedAt.IsZero() {
		mu.Lock()
		for _, h := range history {
			if h.jm == newLeader {
				linkedAt = h.at
				break
			}
		}
		mu.Unlock()
		if linkedAt.IsZero() {
			if time.Since(znodeAt) > 30*time.Second {
				t.Fatalf("the job's links do not name the new leader %s 30 s after its znode", newLeader)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if d := linkedAt.Sub(znodeAt); d > 5*time.Second {
		t.Errorf("links followed the new leader %s after its znode, want within 5 s", d.Round(time.Millisecond))
	} else {
		t.Logf("links followed the new leader %s after its znode", d.Round(time.Millisecond))
	}

	// The job recovers: RUNNING on the new leader, never terminal in between.
	recovered := false
	for deadline := time.Now().Add(4 * time.Minute); time.Now().Before(deadline) && !recovered; {
		status, j, _, body := g.do(http.MethodGet, "/v1/jobs/"+u.ID, nil, nil)
		if status != 200 {
			t.Fatalf("get job = %d %s", status, body)
		}
		if j.Terminal {
			t.Fatalf("the job ended during the failover: %s", body)
		}
		if j.State == "RUNNING" && j.Flink.State != nil && *j.Flink.State == "RUNNING" && j.Links.JobManager != nil && *j.Links.JobManager == newLeader {
			// The new leader runs it, as its own REST API says.
			if status, body := get(t, newLeader+"/jobs/"+u.Flink.JobID); status == 200 && strings.Contains(body, `"state":"RUNNING"`) {
				recovered = true
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !recovered {
		t.Fatalf("the job did not run again on the new leader %s", newLeader)
	}
	t.Logf("job RUNNING again on %s, %s after the kill", newLeader, time.Since(killedAt).Round(time.Second))

	// Cancel through the new leader.
	status, j, _, body := g.do(http.MethodPost, "/v1/jobs/"+u.ID+"/cancel", nil, map[string]any{})
	if status != http.StatusOK && status != http.StatusAccepted {
		t.Fatalf("cancel = %d %s", status, body)
	}
	if j = g.wait(u.ID, "CANCELED", 2*time.Minute); j.State != "CANCELED" {
		t.Fatalf("after cancel the job is %s", j.State)
	}
	stopWatch()
	watching.Wait()
	restore()
	mu.Lock()
	defer mu.Unlock()
	states := []string{}
	for _, h := range history {
		if h.state == "" {
			continue
		}
		if n := len(states); n == 0 || states[n-1] != h.state {
			states = append(states, h.state)
		}
	}
	t.Logf("the job object went through %v (%d reads)", states, len(history))
	for k, st := range states {
		if (st == "FAILED" || st == "LOST" || st == "FINISHED" || st == "CANCELED") && k != len(states)-1 {
			t.Errorf("the job was %s before it was canceled: %v", st, states)
		}
	}
	// A cluster with a running job is not deregistered; one whose jobs ended is.
	if status, _, _, raw := g.clusterDo(http.MethodDelete, "/v1/clusters/"+byZK.ID, nil); status != 200 {
		t.Errorf("deregister = %d %s", status, raw)
	}
	if status, _, e, raw := g.clusterDo(http.MethodGet, "/v1/clusters/"+byZK.ID, nil); status != 404 || e.Error.Code != "cluster_not_found" {
		t.Errorf("after deregistration = %d %s", status, raw)
	}
}

// TestClusterRegistrationErrors: what cannot be a registered cluster answers a clear 4xx.
func TestClusterRegistrationErrors(t *testing.T) {
	t.Parallel()
	g := startClusterGateway(t)
	s := requireStandalone(t, g.cluster)
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"unreachable URL", map[string]any{"id": "it-err-unreachable", "rest": []string{"http://127.0.0.1:1"}}, 422, "cluster_unreachable"},
		{"wrong cluster id", map[string]any{"id": "it-err-zk", "zookeeper": map[string]any{"root": s.root, "clusterId": "no-such-cluster"}}, 422, "cluster_no_leader"},
		{"not Flink", map[string]any{"id": "it-err-notflink", "rest": []string{g.cluster.RMURL}}, 422, "cluster_not_flink"},
		{"not running on YARN", map[string]any{"id": "it-err-yarn", "yarnApplicationId": "application_1_0001"}, 422, "cluster_unreachable"},
		{"two kinds", map[string]any{"id": "it-err-two", "rest": s.rest, "yarnApplicationId": "application_1_0001"}, 400, "invalid_spec"},
		{"bad id", map[string]any{"id": "Not_An_Id", "rest": s.rest}, 400, "invalid_spec"},
		{"bad URL", map[string]any{"id": "it-err-url", "rest": []string{"ftp://x"}}, 400, "invalid_spec"},
		{"unknown field", map[string]any{"id": "it-err-field", "rest": s.rest, "nope": 1}, 400, "invalid_spec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, e, raw := g.clusterDo(http.MethodPost, "/v1/clusters", tc.body)
			if status != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("= %d %s, want %d %s", status, raw, tc.status, tc.code)
			}
		})
	}
	if status, _, e, raw := g.do(http.MethodPost, "/v1/jobs", nil, g.clusterSpec("it-no-such-cluster", "x")); status != 404 || e.Error.Code != "cluster_not_found" {
		t.Errorf("a job into an unknown cluster = %d %s", status, raw)
	}
	if status, _, e, raw := g.clusterDo(http.MethodGet, "/v1/clusters/it-no-such-cluster", nil); status != 404 || e.Error.Code != "cluster_not_found" {
		t.Errorf("get unknown cluster = %d %s", status, raw)
	}
}

// TestYARNSessionRegisteredByApplicationID: a session started by Flink's own yarn-session.sh -d, registered
// by its application id, runs three jobs.
func TestYARNSessionRegisteredByApplicationID(t *testing.T) {
	t.Parallel()
	g := startClusterGateway(t)
	c := g.cluster
	name := fmt.Sprintf("it-yarn-session-%d", time.Now().UnixNano()%1e9)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	began := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(c.FlinkHome, "bin", "yarn-session.sh"), "-d", "-nm", name,
		"-jm", "1024m", "-tm", "1024m", "-s", "3", "-Dparallelism.default=1")
	cmd.Env = append(os.Environ(), "HADOOP_CONF_DIR="+c.HadoopConfDir, "HADOOP_CLASSPATH="+c.Env["HADOOP_CLASSPATH"],
		"HADOOP_USER_NAME="+c.User, "FLINK_HOME="+c.FlinkHome, "JAVA_HOME="+c.Env["JAVA_HOME"])
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`(application_\d+_\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("yarn-session.sh -d: %v\n%s", err, tail(out, 4000))
	}
	appID := string(m[1])
	t.Cleanup(func() { g.killApp(appID) })
	if err != nil {
		t.Fatalf("yarn-session.sh -d (%s): %v\n%s", appID, err, tail(out, 4000))
	}
	t.Logf("yarn-session.sh started %s in %s", appID, time.Since(began).Round(time.Second))

	id := "it-yarn-" + strings.TrimPrefix(strings.ReplaceAll(appID, "_", "-"), "application-")
	var cl flinkCluster
	deadline := time.Now().Add(3 * time.Minute)
	for {
		status, got, e, raw := g.clusterDo(http.MethodPost, "/v1/clusters", map[string]any{"id": id, "yarnApplicationId": appID})
		if status == http.StatusCreated {
			cl = got
			t.Cleanup(func() { g.clusterDo(http.MethodDelete, "/v1/clusters/"+id, nil) })
			break
		}
		// The session may still be starting: its JobManager not running or not answering yet.
		if e.Error.Code != "cluster_unreachable" || time.Now().After(deadline) {
			t.Fatalf("register %s = %d %s", appID, status, raw)
		}
		time.Sleep(2 * time.Second)
	}
	if cl.Kind != "yarn" {
		t.Errorf("kind %q", cl.Kind)
	}
	t.Logf("registered as %s after %s", id, time.Since(began).Round(time.Second))
	var wg sync.WaitGroup
	for k := range 3 {
		wg.Go(func() {
			j := g.runBounded(t, id, fmt.Sprintf("%s-job-%d", id, k), int64(40+k))
			if j.YARN.ApplicationID != appID || !strings.HasSuffix(j.Links.YARN, "/cluster/app/"+appID) {
				t.Errorf("job %s: yarn %+v links %+v", j.ID, j.YARN, j.Links)
			}
		})
	}
	wg.Wait()
	t.Logf("three jobs FINISHED after %s", time.Since(began).Round(time.Second))
	if status, c, _, raw := g.clusterDo(http.MethodGet, "/v1/clusters/"+id, nil); status != 200 || c.Health == nil || c.Health.State != "HEALTHY" || c.Health.FlinkVersion != "1.20.3" {
		t.Errorf("cluster = %d %s", status, raw)
	}
}

// tail is the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// TestConfiguredClusters: the clusters of clusters.file are registered at start-up, as the gateway's user.
func TestConfiguredClusters(t *testing.T) {
	t.Parallel()
	c := testenv.Require(t)
	s := requireStandalone(t, c)
	standaloneFailover.RLock() // both JobManagers up: the registration at start-up finds a leader that answers
	defer standaloneFailover.RUnlock()
	file := filepath.Join(t.TempDir(), "clusters.yaml")
	yaml := fmt.Sprintf("- id: it-configured\n  name: from the configuration\n  rest: [%s]\n  acl: {view: ['*']}\n"+
		"- id: it-configured-zk\n  zookeeper: {root: %s, clusterId: %s}\n", strings.Join(s.rest, ", "), s.root, s.id)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startJobGatewayWith(t, func(cfg *config.Config, root *hdfstest.Root) {
		cfg.ZooKeeper.Quorum = root.Cluster.ZooKeeper
		cfg.Clusters.File = file
	})
	for _, id := range []string{"it-configured", "it-configured-zk"} {
		status, cl, _, raw := g.clusterDo(http.MethodGet, "/v1/clusters/"+id, nil)
		if status != 200 || cl.Health == nil || cl.Health.State != "HEALTHY" {
			t.Errorf("configured cluster %s = %d %s", id, status, raw)
		}
	}
}
