package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hadoopconf"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/testenv"
	"github.com/yarngate/yarngate/zk"
)

// clusterView is GET /v1/cluster.
type clusterView struct {
	ResourceManager struct {
		Active    string `json:"active"`
		URL       string `json:"url"`
		HAEnabled bool   `json:"haEnabled"`
		Source    string `json:"source"`
	} `json:"resourceManager"`
	ZooKeeper struct {
		State string `json:"state"`
	} `json:"zookeeper"`
	HDFS struct {
		Reachable bool `json:"reachable"`
	} `json:"hdfs"`
	Flink []struct {
		Version string `json:"version"`
	} `json:"flink"`
}

func getCluster(t *testing.T, url string) clusterView {
	t.Helper()
	v, err := fetchCluster(url)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fetchCluster is GET /v1/cluster for goroutines other than the test's.
func fetchCluster(url string) (clusterView, error) {
	var v clusterView
	status, _, body, err := request(url, http.MethodGet, "/v1/cluster", nil, nil)
	if err != nil {
		return v, err
	}
	if status != http.StatusOK {
		return v, fmt.Errorf("GET /v1/cluster = %d %s", status, body)
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return v, fmt.Errorf("GET /v1/cluster: %v in %s", err, body)
	}
	return v, nil
}

// request sends a JSON request to the gateway at url; it never fails the test, so goroutines may use it.
func request(url, method, path string, headers map[string]string, body any) (int, jobObj, string, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, jobObj{}, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var j jobObj
	if resp.StatusCode < 300 {
		json.Unmarshal(raw, &j)
	}
	return resp.StatusCode, j, string(raw), nil
}

// flinkVersionOf is the version of a test cluster Flink home (…/flink-1.20.3).
func flinkVersionOf(home string) string {
	return strings.TrimPrefix(filepath.Base(home), "flink-")
}

// TestClusterViewNonHA checks GET /v1/cluster against the shared (non-HA) test cluster.
func TestClusterViewNonHA(t *testing.T) {
	t.Parallel()
	root := hdfstest.New(t)
	c := root.Cluster
	if c.Env["YARNGATE_HA"] == "1" {
		t.Skip("the shared test cluster runs RM HA; TestClusterHAFailover covers it")
	}
	cfg := clusterConfig(t, root)
	cfg.Flink.Homes = []string{c.FlinkHome, c.Flink2Home}
	r := start(t, cfg)

	v := getCluster(t, r.url)
	rm := v.ResourceManager
	if rm.Active != "" || rm.URL != strings.TrimRight(c.RMURL, "/") || rm.HAEnabled || rm.Source != "probe" {
		t.Errorf("resourceManager = %+v, want the one RM %s, no HA, source probe", rm, c.RMURL)
	}
	wantZK := "not configured"
	if cfg.ZooKeeper.Quorum != "" {
		wantZK = "connected"
	}
	if v.ZooKeeper.State != wantZK {
		t.Errorf("zookeeper.state = %q, want %q", v.ZooKeeper.State, wantZK)
	}
	if !v.HDFS.Reachable {
		t.Error("hdfs.reachable = false")
	}
	want := []string{flinkVersionOf(c.FlinkHome), flinkVersionOf(c.Flink2Home)}
	if len(v.Flink) != 2 || v.Flink[0].Version != want[0] || v.Flink[1].Version != want[1] {
		t.Errorf("flink = %+v, want %v", v.Flink, want)
	}
}

// haCluster is a private HA test cluster (two ResourceManagers electing through ZooKeeper).
type haCluster struct {
	t      *testing.T
	env    []string // environment of cluster.sh
	runDir string
	*testenv.Cluster
	rmURLs []string
}

// haPorts keep the private cluster clear of the shared one, below 32768: out of Linux's ephemeral port range,
// where an outgoing connection can take a port before the daemon binds it.
var haPorts = []string{
	"YARNGATE_TE_NN_PORT=21000", "YARNGATE_TE_NN_HTTP_PORT=21870", "YARNGATE_TE_RM_PORT=21030",
	"YARNGATE_TE_RM_WEB_PORT=21088", "YARNGATE_TE_ZK_PORT=22181", "YARNGATE_TE_NM_WEB_PORT=21042",
	"YARNGATE_TE_NM_LOCALIZER_PORT=21040", "YARNGATE_TE_NM_MEMORY_MB=4096", "HA=1",
}

// startHACluster starts the private HA cluster and registers its teardown.
func startHACluster(t *testing.T) *haCluster {
	t.Helper()
	h := startPrivateCluster(t, haPorts)
	h.rmURLs = strings.Split(h.Env["YARNGATE_RM_URLS"], ",")
	if len(h.rmURLs) != 2 {
		t.Fatalf("HA cluster lists RMs %v", h.rmURLs)
	}
	return h
}

// startPrivateCluster starts a test cluster of its own, configured by settings (YARNGATE_TE_* and HA),
// and registers its teardown. The tests that start one do not run in parallel with the others: on a 2-core
// machine, a make test whose private clusters ran beside the rest (two at a time) took as long in all (the
// machine is CPU-bound either way), and the token test's jobs failed every checkpoint while the Kerberized
// gateway test's cluster ran beside theirs (cause not found).
func startPrivateCluster(t *testing.T, settings []string) *haCluster {
	t.Helper()
	runDir, err := os.MkdirTemp("", "yarngate-private-")
	if err != nil {
		t.Fatal(err)
	}
	h := &haCluster{t: t, runDir: runDir, env: append(append(os.Environ(), "YARNGATE_RUN_DIR="+runDir), settings...)}
	t.Cleanup(func() {
		h.run(5*time.Minute, "down")
		if t.Failed() {
			// Keep the daemons' logs of a failed test for a post-mortem.
			if kept, err := os.MkdirTemp("", "yarngate-failed-"+strings.ReplaceAll(t.Name(), "/", "-")+"-"); err == nil {
				if err := os.Rename(filepath.Join(runDir, "logs"), filepath.Join(kept, "logs")); err == nil {
					t.Logf("the private cluster's logs are kept in %s", kept)
				}
				// The containers' logs (JobManagers, TaskManagers), which the NodeManager keeps in the run dir.
				_ = os.Rename(filepath.Join(runDir, "hadoop", "nm-logs"), filepath.Join(kept, "nm-logs"))
			}
		}
		os.RemoveAll(runDir)
	})
	began := time.Now()
	h.run(8*time.Minute, "up")
	t.Logf("private cluster up in %v", time.Since(began).Round(time.Second))
	if h.Cluster, err = testenv.LoadFile(filepath.Join(runDir, "cluster.env")); err != nil {
		t.Fatal(err)
	}
	return h
}

// run runs testenv/cluster.sh cmd; a failure fails the test (but not the teardown).
func (h *haCluster) run(limit time.Duration, cmd string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c := exec.CommandContext(ctx, "../testenv/cluster.sh", cmd)
	c.Env = h.env
	out, err := c.CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("cluster.sh %s: %v\n%s", cmd, err, out)
		if cmd == "down" {
			h.t.Log(msg)
			return
		}
		h.t.Fatal(msg)
	}
}

// active returns the index and rm id (rm1, rm2) of the RM that reports itself ACTIVE, or -1.
func (h *haCluster) active() (int, string) {
	for i, u := range h.rmURLs {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u+"/ws/v1/cluster/info", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var info struct {
				ClusterInfo struct {
					HAState string `json:"haState"`
				} `json:"clusterInfo"`
			}
			json.NewDecoder(resp.Body).Decode(&info)
			resp.Body.Close()
			if info.ClusterInfo.HAState == "ACTIVE" {
				cancel()
				return i, fmt.Sprintf("rm%d", i+1)
			}
		}
		cancel()
	}
	return -1, ""
}

// TestClusterHAFailover starts a private HA cluster, fails its active ResourceManager over while a stream of
// submissions and status polls runs, and checks that GET /v1/cluster follows the leader through ZooKeeper.
// It is heavy (a second HDFS, two RMs, ZooKeeper and a NodeManager, about 75 s), so it runs wherever a cluster
// is required (CI, make test) or with YARNGATE_TEST_HA=1, and skips in a plain local go test.
func TestClusterHAFailover(t *testing.T) {
	if os.Getenv("YARNGATE_TEST_HA") != "1" && !testenv.Required() {
		t.Skip("starts a private HA cluster (two ResourceManagers): runs under make test, CI or YARNGATE_TEST_HA=1")
	}
	shared := testenv.Require(t) // Flink homes and the example jar
	jar, err := os.ReadFile(shared.ExampleJar)
	if err != nil {
		t.Fatalf("example jar (make example-jar): %v", err)
	}
	h := startHACluster(t)

	env := []string{"HADOOP_CONF_DIR=" + h.HadoopConfDir, "YARNGATE_USER=" + h.User,
		"YARNGATE_HDFS_STAGING_ROOT=/user/" + h.User + "/.yarngate-ha"}
	cfg, err := config.Load(config.LoadOptions{File: "../configs/dev.yaml", Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Flink.Homes = []string{shared.FlinkHome, shared.Flink2Home}
	cfg.Jars.MaxSize = 64 << 20
	isolateRegistry(t, &cfg, h.Env["YARNGATE_ZK"])
	r := start(t, cfg)
	g := &jobGateway{t: t, url: r.url, cluster: h.Cluster}
	g.jarID = g.uploadJar(jar)

	// The gateway learns the leader from ZooKeeper.
	idx, id := h.active()
	if idx < 0 {
		t.Fatal("no active ResourceManager")
	}
	var v clusterView
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		v = getCluster(t, r.url)
		if (v.ResourceManager.Source == "zookeeper" && v.ResourceManager.Active == id) || time.Now().After(deadline) {
			break
		}
	}
	if rm := v.ResourceManager; rm.Active != id || rm.URL != h.rmURLs[idx] || !rm.HAEnabled || rm.Source != "zookeeper" ||
		v.ZooKeeper.State != "connected" || !v.HDFS.Reachable || len(v.Flink) != 2 {
		t.Fatalf("before failover: /v1/cluster = %+v, want %s at %s from zookeeper", v, id, h.rmURLs[idx])
	}

	// An independent view of the election lock: its creation time is when the lock moved.
	servers, chroot, err := zk.ParseConnectString(h.ZooKeeper)
	if err != nil {
		t.Fatal(err)
	}
	zw, err := zk.New(zk.Options{Servers: servers, Chroot: chroot})
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	conf, err := hadoopconf.Load(h.HadoopConfDir)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := zk.NewRMLeaderTracker(zw, zk.RMLeaderOptions{ClusterID: conf.ClusterID()})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()

	// Watch /v1/cluster for the switch from the moment the failover starts.
	switched := make(chan time.Time, 1)
	var watch sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(t.Context())
	defer stopWatch()
	watch.Go(func() {
		for watchCtx.Err() == nil {
			if v, err := fetchCluster(r.url); err == nil && v.ResourceManager.Active != "" && v.ResourceManager.Active != id &&
				v.ResourceManager.Source == "zookeeper" && v.ResourceManager.URL == h.rmURLs[1-idx] {
				switched <- time.Now()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	// A stream of submissions and status polls across the failover.
	const submissions = 30
	suffix := fmt.Sprint(time.Now().UnixNano())
	type result struct {
		name, id   string
		err        string
		begun, end time.Time
	}
	results := make([]result, submissions)
	failoverAt := make(chan struct{})
	var stream sync.WaitGroup
	stream.Go(func() {
		for n := range submissions {
			if n == 5 {
				close(failoverAt)
			}
			res := &results[n]
			res.name, res.begun = fmt.Sprintf("ha-%d-%s", n, suffix), time.Now()
			res.id, res.err = submitAndPoll(r.url, res.name, map[string]any{"name": res.name, "jarId": g.jarID, "flinkVersion": "1.20",
				"args": []string{"--mode", "bounded", "--n", "10", "--output", fmt.Sprintf("hdfs:///tmp/ha-%d-%s", n, suffix)}})
			res.end = time.Now()
		}
	})
	<-failoverAt
	// Status polls of an earlier job run all along the failover, beside the submissions.
	var polls, pollFailures []string
	pollCtx, stopPolls := context.WithCancel(t.Context())
	var poller sync.WaitGroup
	poller.Go(func() {
		for pollCtx.Err() == nil {
			status, _, body, err := request(r.url, http.MethodGet, "/v1/jobs/"+results[0].id, nil, nil)
			polls = append(polls, body)
			if err != nil || status != http.StatusOK {
				pollFailures = append(pollFailures, fmt.Sprintf("%d %s %v", status, body, err))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	failoverStart := time.Now()
	h.run(3*time.Minute, "rm-failover")
	failoverDone := time.Now()
	newIdx, newID := h.active()
	if newIdx != 1-idx {
		t.Fatalf("after rm-failover the active RM is %q, want rm%d", newID, 2-idx)
	}
	select {
	case at := <-switched:
		t.Logf("rm-failover took %v; /v1/cluster named %s %v after the failover started, %v after the command returned",
			failoverDone.Sub(failoverStart).Round(time.Millisecond), newID, at.Sub(failoverStart).Round(time.Millisecond),
			max(0, at.Sub(failoverDone)).Round(time.Millisecond))
		if l := lock.Leader(); l.ID == newID && !l.Since.IsZero() {
			t.Logf("the election lock moved to %s %v after the failover started; /v1/cluster switched %v after the lock moved",
				newID, l.Since.Sub(failoverStart).Round(time.Millisecond), at.Sub(l.Since).Round(time.Millisecond))
			if at.Sub(l.Since) > 5*time.Second {
				t.Errorf("/v1/cluster switched %v after the election lock moved, want within 5s", at.Sub(l.Since))
			}
		} else {
			t.Errorf("election lock: %+v, want %s", l, newID)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("/v1/cluster does not name %s within 5s of rm-failover returning: %+v", newID, getCluster(t, r.url))
	}
	stopWatch()
	watch.Wait()
	stream.Wait()
	stopPolls()
	poller.Wait()
	t.Logf("%d status polls of %s across the failover, %d failed", len(polls), results[0].id, len(pollFailures))
	for _, f := range pollFailures {
		t.Errorf("status poll: %s", f)
	}

	// Every submission succeeded and made exactly one YARN application; then kill them all.
	overlapping := 0
	for _, res := range results {
		if res.err != "" {
			t.Errorf("%s: %s", res.name, res.err)
		}
		if res.begun.Before(failoverDone) && res.end.After(failoverStart) {
			overlapping++
		}
	}
	t.Logf("%d submissions (with a status poll each) in %v, %d of them overlapping the failover",
		submissions, results[submissions-1].end.Sub(results[0].begun).Round(time.Millisecond), overlapping)
	apps := h.appsByName(t, h.rmURLs[newIdx])
	for _, res := range results {
		if res.id == "" {
			continue
		}
		if ids := apps[res.name]; len(ids) != 1 || ids[0] != res.id {
			t.Errorf("%s: YARN applications %v, want exactly [%s]", res.name, ids, res.id)
		}
		g.do(http.MethodPost, "/v1/jobs/"+res.id+"/cancel", nil, map[string]bool{"kill": true})
	}

	// The failed RM comes back as standby; the gateway still follows the leader.
	h.run(4*time.Minute, "rm-restore")
	if v := getCluster(t, r.url); v.ResourceManager.Active != newID || v.ResourceManager.Source != "zookeeper" {
		t.Errorf("after rm-restore: /v1/cluster = %+v, want %s from zookeeper", v, newID)
	}
}

// submitAndPoll submits spec with its name as Idempotency-Key and reads the job once; err says what failed.
func submitAndPoll(url, name string, spec map[string]any) (id, failure string) {
	status, j, body, err := request(url, http.MethodPost, "/v1/jobs", map[string]string{"Idempotency-Key": name}, spec)
	if err != nil || status != http.StatusAccepted && status != http.StatusOK {
		return "", fmt.Sprintf("submit = %d %s %v", status, body, err)
	}
	if status, _, body, err := request(url, http.MethodGet, "/v1/jobs/"+j.ID, nil, nil); err != nil || status != http.StatusOK {
		return j.ID, fmt.Sprintf("status = %d %s %v", status, body, err)
	}
	return j.ID, ""
}

// appsByName lists the applications the RM at url knows, by name.
func (h *haCluster) appsByName(t *testing.T, url string) map[string][]string {
	t.Helper()
	status, body := get(t, url+"/ws/v1/cluster/apps?user.name="+h.User)
	if status != http.StatusOK {
		t.Fatalf("list apps on %s = %d %s", url, status, body)
	}
	var list struct {
		Apps *struct {
			App []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"app"`
		} `json:"apps"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	if list.Apps != nil {
		for _, a := range list.Apps.App {
			out[a.Name] = append(out[a.Name], a.ID)
		}
	}
	return out
}
