package app

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/yarngate/yarngate/testenv"
)

// registryPorts configure the private cluster of the registry test: its own ports, room for one Flink
// cluster at a time beside a small one, and a ResourceManager that remembers only two ended applications.
var registryPorts = []string{
	"YARNGATE_TE_NN_PORT=23000", "YARNGATE_TE_NN_HTTP_PORT=23870", "YARNGATE_TE_RM_PORT=23030",
	"YARNGATE_TE_RM_WEB_PORT=23088", "YARNGATE_TE_ZK_PORT=24181", "YARNGATE_TE_NM_WEB_PORT=23042",
	"YARNGATE_TE_NM_LOCALIZER_PORT=23040", "YARNGATE_TE_NM_MEMORY_MB=4096", "YARNGATE_TE_MAX_COMPLETED_APPS=2",
	// YARN must forget ended applications after two more: the ResourceManager keeps one whose logs are still
	// being aggregated beyond that limit.
	"YARNGATE_TE_LOG_AGGREGATION=0",
}

// gatewayProc is a `yarngate serve` process, so that it can be killed with SIGKILL.
type gatewayProc struct {
	t    *testing.T
	name string
	bin  string
	env  []string
	addr string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// gatewayBinary builds cmd/yarngate once per test process.
func gatewayBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "yarngate-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "yarngate")
		out, err := exec.Command("go", "build", "-o", builtBin, "../cmd/yarngate").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startGatewayProc starts a gateway process with env (on top of a clean environment) and waits until it
// answers /healthz; it is killed at the end of the test.
func startGatewayProc(t *testing.T, name string, env []string) *gatewayProc {
	t.Helper()
	g := &gatewayProc{t: t, name: name, bin: gatewayBinary(t), env: env, addr: freeAddr(t),
		log: filepath.Join(t.TempDir(), name+".log")}
	g.start()
	t.Cleanup(func() {
		g.kill()
		if t.Failed() {
			t.Logf("log of gateway %s:\n%s", g.name, g.tail())
		}
	})
	return g
}

func (g *gatewayProc) url() string { return "http://" + g.addr }

// start runs the process on g.addr (again, after a kill).
func (g *gatewayProc) start() {
	g.t.Helper()
	logFile, err := os.OpenFile(g.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		g.t.Fatal(err)
	}
	cmd := exec.Command(g.bin, "serve")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "YARNGATE_LISTEN=" + g.addr}, g.env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	logFile.Close()
	g.cmd, g.done = cmd, make(chan struct{})
	go func() {
		cmd.Wait() //nolint:errcheck // killed on purpose
		close(g.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(g.url() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-g.done:
			g.t.Fatalf("gateway %s exited at start; log:\n%s", g.name, g.tail())
		default:
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("gateway %s does not answer; log:\n%s", g.name, g.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to go.
func (g *gatewayProc) kill() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	g.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // may have exited
	<-g.done
	g.cmd = nil
}

// tail returns the end of the process's log.
func (g *gatewayProc) tail() string {
	b, _ := os.ReadFile(g.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// client talks to one gateway process with the job API helpers.
func (g *gatewayProc) client(c *testenv.Cluster, jarID string) *jobGateway {
	return &jobGateway{t: g.t, url: g.url(), cluster: c, jarID: jarID}
}

// registryView is the registry part of GET /v1/cluster.
type registryView struct {
	Backend        string     `json:"backend"`
	Instance       string     `json:"instance"`
	Reconciler     bool       `json:"reconciler"`
	LastReconciled *time.Time `json:"lastReconciled"`
	Records        int        `json:"records"`
}

// metric sums the samples of a metric on the gateway's /metrics.
func (g *gatewayProc) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get(g.url() + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", g.name, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

func (g *gatewayProc) registry() (registryView, error) {
	resp, err := http.Get(g.url() + "/v1/cluster")
	if err != nil {
		return registryView{}, err
	}
	defer resp.Body.Close()
	var v struct {
		Registry *registryView `json:"registry"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.Registry == nil {
		return registryView{}, fmt.Errorf("no registry in /v1/cluster: %v", err)
	}
	return *v.Registry, nil
}

// TestRegistryDurableAndShared proves the registry's promises against a private cluster whose
// ResourceManager keeps only two ended applications, with two gateway processes sharing one ZooKeeper
// registry: either instance answers for any job; a job's final state outlives YARN's memory and gateway
// restarts; the reconciler fails over when its instance is killed; and SIGKILL in the middle of twenty
// concurrent keyed submissions leaves every key with exactly one application, every application with a
// record.
func TestRegistryDurableAndShared(t *testing.T) {
	if os.Getenv("YARNGATE_TEST_REGISTRY") != "1" && !testenv.Required() {
		t.Skip("starts a private cluster: runs under make test, CI or YARNGATE_TEST_REGISTRY=1")
	}
	shared := testenv.Require(t) // Flink homes and the example jar
	jar, err := os.ReadFile(shared.ExampleJar)
	if err != nil {
		t.Fatalf("example jar (make example-jar): %v", err)
	}
	c := startPrivateCluster(t, registryPorts)
	b := make([]byte, 4)
	rand.Read(b)
	zkRoot := "/yarngate-test/registry-" + hex.EncodeToString(b)
	digest := testDigest()
	t.Cleanup(func() { removeZNodes(t, c.Env["YARNGATE_ZK"], digest, zkRoot) })
	env := []string{
		"HADOOP_CONF_DIR=" + c.HadoopConfDir, "YARNGATE_USER=" + c.User,
		"YARNGATE_HDFS_STAGING_ROOT=/user/" + c.User + "/.yarngate-registry",
		"YARNGATE_FLINK_HOMES=" + shared.FlinkHome, "YARNGATE_FLINK_LIB_ROOT=/user/" + c.User + "/flink-libs",
		"YARNGATE_JARS_MAX_SIZE=64MiB", "YARNGATE_JOBS_JOB_MANAGER_MEMORY=1024m", "YARNGATE_JOBS_TASK_MANAGER_MEMORY=1024m",
		"YARNGATE_ZOOKEEPER_QUORUM=" + c.Env["YARNGATE_ZK"], "YARNGATE_ZOOKEEPER_DIGEST=" + digest,
		"YARNGATE_REGISTRY_BACKEND=zookeeper", "YARNGATE_REGISTRY_ZK_ROOT=" + zkRoot,
		"YARNGATE_REGISTRY_RECONCILE_INTERVAL=500ms", "YARNGATE_LOG_FORMAT=json", "YARNGATE_LOG_LEVEL=debug",
	}
	a, bb := startGatewayProc(t, "a", env), startGatewayProc(t, "b", env)
	ga := a.client(c.Cluster, "")
	ga.jarID = ga.uploadJar(jar)
	gb := bb.client(c.Cluster, ga.jarID)

	var canceled jobObj
	t.Run("either instance answers", func(t *testing.T) {
		ga.t, gb.t = t, t
		spec := ga.spec("shared-unbounded", "1.20", "--mode", "unbounded", "--rate", "50")
		keyed := map[string]string{"Idempotency-Key": "shared-1"}
		j := ga.submit(spec, keyed)
		if status, got, _, body := gb.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil); status != 200 || got.ID != j.ID {
			t.Fatalf("GET on the other instance = %d %s", status, body)
		}
		if status, got, _, body := gb.do(http.MethodPost, "/v1/jobs", keyed, spec); status != 200 || got.ID != j.ID {
			t.Fatalf("replay on the other instance = %d %s, want 200 with %s", status, body, j.ID)
		}
		if got := gb.wait(j.ID, "RUNNING", 3*time.Minute); got.State != "RUNNING" {
			t.Fatalf("job on the other instance: %s (yarn %s/%s %q, flink failure %v)", got.State, got.YARN.State,
				got.YARN.FinalStatus, got.YARN.Diagnostics, got.Flink.Failure)
		}
		if status, _, _, body := gb.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, nil); status != 200 && status != 202 {
			t.Fatalf("cancel on the other instance = %d %s", status, body)
		}
		canceled = ga.wait(j.ID, "CANCELED", 2*time.Minute)
		if canceled.State != "CANCELED" {
			t.Fatalf("the submitting instance sees %s after a cancel on the other", canceled.State)
		}
	})
	if canceled.ID == "" {
		t.FailNow()
	}

	t.Run("final state outlives YARN and restarts", func(t *testing.T) {
		ga.t, gb.t = t, t
		ga.waitYARNEnd(canceled.ID)
		// More ended applications push the canceled one out of the ResourceManager's memory (it keeps two).
		forgotten := func() bool {
			status, _ := get(t, c.RMURL+"/ws/v1/cluster/apps/"+canceled.ID)
			return status == http.StatusNotFound
		}
		for i := 0; !forgotten(); i++ {
			if i == 6 {
				_, apps := get(t, c.RMURL+"/ws/v1/cluster/apps?user.name="+c.User)
				t.Fatalf("the ResourceManager still knows %s after %d more ended applications; it lists %s", canceled.ID, i, apps)
			}
			j := ga.submit(ga.spec(fmt.Sprintf("filler-%d", i), "1.20", "--n", "1"), nil)
			if status, _, _, body := ga.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true}); status >= 300 {
				t.Fatalf("kill filler = %d %s", status, body)
			}
			ga.waitYARNEnd(j.ID)
			time.Sleep(500 * time.Millisecond)
		}
		check := func(g *jobGateway, when string) {
			status, got, _, body := g.do(http.MethodGet, "/v1/jobs/"+canceled.ID, nil, nil)
			if status != 200 || got.State != "CANCELED" || !got.Terminal || got.YARN.State != canceled.YARN.State {
				t.Fatalf("%s: GET = %d %s, want the CANCELED job", when, status, body)
			}
		}
		time.Sleep(2 * time.Second) // a few reconciliations without the application
		check(ga, "after YARN forgot the application")
		a.kill()
		bb.kill()
		a.start()
		bb.start()
		check(ga, "after both gateways were killed and restarted")
		check(gb, "on the other instance after the restart")
	})

	t.Run("reconciler fails over and writes nothing that did not change", func(t *testing.T) {
		ga.t, gb.t = t, t
		// A job that runs steadily through the failover, beside the canceled one.
		steady := ga.submit(ga.spec("steady-unbounded", "1.20", "--mode", "unbounded", "--rate", "20"), nil)
		defer gb.killApp(steady.ID)
		if got := gb.wait(steady.ID, "RUNNING", 3*time.Minute); got.State != "RUNNING" {
			t.Fatalf("steady job %s", got.State)
		}
		leader, follower := a, bb
		deadline := time.Now().Add(40 * time.Second)
		for {
			va, errA := a.registry()
			vb, errB := bb.registry()
			if errA == nil && errB == nil && va.Reconciler != vb.Reconciler {
				if vb.Reconciler {
					leader, follower = bb, a
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no single reconciler: a %+v (%v), b %+v (%v)", va, errA, vb, errB)
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // the leader has observed the steady job RUNNING and written it
		writesBefore := follower.metric(t, "yarngate_reconcile_writes_total")
		killed := time.Now()
		leader.kill()
		for {
			v, err := follower.registry()
			if err == nil && v.Reconciler && v.LastReconciled != nil && v.LastReconciled.After(killed) {
				t.Logf("instance %s reconciles %v after the leader was killed", follower.name, time.Since(killed).Round(100*time.Millisecond))
				break
			}
			if time.Since(killed) > time.Minute {
				t.Fatalf("the survivor does not reconcile: %+v (%v)", v, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		// The new leader observes every record again and finds nothing changed: it writes none.
		passes := follower.metric(t, "yarngate_reconcile_passes_total")
		for follower.metric(t, "yarngate_reconcile_passes_total") < passes+10 {
			time.Sleep(200 * time.Millisecond)
		}
		writes := follower.metric(t, "yarngate_reconcile_writes_total") - writesBefore
		recs, _ := follower.registry()
		t.Logf("new leader: %v passes over %d records, %v writes", follower.metric(t, "yarngate_reconcile_passes_total")-passes+1, recs.Records, writes)
		if writes != 0 {
			t.Errorf("the new reconciler leader wrote %v records that had not changed", writes)
		}
		if got := gb.wait(steady.ID, "RUNNING", time.Second); got.State != "RUNNING" {
			t.Errorf("steady job %s after the failover", got.State)
		}
		leader.start()
	})

	t.Run("SIGKILL during twenty keyed submissions", func(t *testing.T) {
		ga.t, gb.t = t, t
		const n = 20
		ids := make([]string, n)
		var answered sync.WaitGroup
		first := make(chan struct{})
		var once sync.Once
		client := &http.Client{Timeout: 2 * time.Minute}
		for i := range n {
			answered.Go(func() {
				spec := ga.spec(fmt.Sprintf("kill9-%02d", i), "1.20", "--n", "1")
				spec["jobManager"] = map[string]string{"memory": "3000m"} // one at a time on the 4 GiB node
				body, _ := json.Marshal(spec)
				deadline := time.Now().Add(3 * time.Minute)
				for time.Now().Before(deadline) {
					req, _ := http.NewRequest(http.MethodPost, a.url()+"/v1/jobs", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Idempotency-Key", fmt.Sprintf("kill9-key-%02d", i))
					resp, err := client.Do(req)
					if err == nil {
						raw, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						var j jobObj
						json.Unmarshal(raw, &j)
						if (resp.StatusCode == 200 || resp.StatusCode == 202) && j.ID != "" {
							ids[i] = j.ID
							once.Do(func() { close(first) })
							return
						}
						if resp.StatusCode < 500 {
							t.Errorf("submission %d = %d %s", i, resp.StatusCode, raw)
							return
						}
					}
					time.Sleep(200 * time.Millisecond)
				}
				t.Errorf("submission %d never answered", i)
			})
		}
		select {
		case <-first:
		case <-time.After(2 * time.Minute):
			t.Fatal("no submission answered")
		}
		a.kill()
		t.Log("gateway a killed with SIGKILL after its first answer")
		time.Sleep(500 * time.Millisecond)
		a.start()
		answered.Wait()
		t.Cleanup(func() {
			for _, id := range ids {
				if id != "" {
					gb.killApp(id)
				}
			}
		})
		if t.Failed() {
			return
		}
		seen := map[string]int{}
		for i, id := range ids {
			seen[id]++
			// Exactly one YARN application was launched for the key (each key's request has a name of its own;
			// the idempotency tag is an HMAC under the registry's secret, not computable here).
			name := fmt.Sprintf("kill9-%02d", i)
			apps := rmApps(t, c.Cluster, "", func(_, n, _ string) bool { return n == name })
			if len(apps) != 1 || apps[0] != id {
				t.Errorf("key %d: YARN applications %v, want exactly [%s]", i, apps, id)
			}
		}
		if len(seen) != n {
			t.Errorf("%d distinct jobs for %d keys: %v", len(seen), n, ids)
		}
		// Every application launched for the test has a record on both instances.
		for _, name := range rmAppNames(t, c.Cluster, "kill9-") {
			for _, g := range []*jobGateway{ga, gb} {
				if status, _, _, body := g.do(http.MethodGet, "/v1/jobs/"+name, nil, nil); status != 200 {
					t.Errorf("application %s has no record on %s: %d %s", name, g.url, status, body)
				}
			}
		}
	})
}

// rmAppNames lists the ids of the applications whose name starts with prefix.
func rmAppNames(t *testing.T, c *testenv.Cluster, prefix string) []string {
	t.Helper()
	return rmApps(t, c, "", func(id, name, tags string) bool { return strings.HasPrefix(name, prefix) })
}

func rmApps(t *testing.T, c *testenv.Cluster, query string, keep func(id, name, tags string) bool) []string {
	t.Helper()
	status, body := get(t, c.RMURL+"/ws/v1/cluster/apps?user.name="+c.User+"&"+query)
	if status != 200 {
		t.Fatalf("list apps = %d %s", status, body)
	}
	var list struct {
		Apps *struct {
			App []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
				Tags string `json:"applicationTags"`
			} `json:"app"`
		} `json:"apps"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	if list.Apps != nil {
		for _, a := range list.Apps.App {
			if keep(a.ID, a.Name, a.Tags) {
				ids = append(ids, a.ID)
			}
		}
	}
	return ids
}
