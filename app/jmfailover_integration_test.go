package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/zk"
)

// TestJobManagerFailover kills the JobManager of a running HA application job and checks what the gateway
// shows while YARN starts the next attempt and Flink elects the new JobManager in ZooKeeper: the job never
// looks ended, links.jobManager follows the new leader soon after its znode appears, and the job, the new
// JobManager and the Flink UI (through the ResourceManager's proxy) answer RUNNING again.
func TestJobManagerFailover(t *testing.T) {
	t.Parallel()
	g, conn, pathRoot := startHAGateway(t)
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			failover(t, g, conn, pathRoot, v)
		})
	}
}

// startHAGateway starts a job gateway with ZooKeeper HA under a path root of its own, and a ZooKeeper
// connection for the test.
func startHAGateway(t *testing.T) (*jobGateway, *gozk.Conn, string) {
	t.Helper()
	var pathRoot string
	g := startJobGatewayWith(t, func(cfg *config.Config, root *hdfstest.Root) {
		var b [4]byte
		rand.Read(b[:])
		pathRoot = "/yarngate-it-" + hex.EncodeToString(b[:])
		cfg.ZooKeeper.Quorum = root.Cluster.ZooKeeper
		cfg.Flink.HA = config.FlinkHA{Mode: config.HAZooKeeper, PathRoot: pathRoot, StorageDir: root.Path + "/ha",
			SessionTimeout: 10 * time.Second}
	})
	conn, _, err := gozk.Connect([]string{g.cluster.ZooKeeper}, 10*time.Second, gozk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	t.Cleanup(func() { deleteTree(conn, pathRoot) }) // before Close; the clusters are gone by then
	return g, conn, pathRoot
}

// deleteTree removes a znode and its descendants, best effort.
func deleteTree(conn *gozk.Conn, p string) {
	children, _, err := conn.Children(p)
	if err != nil {
		return
	}
	for _, c := range children {
		deleteTree(conn, p+"/"+c)
	}
	conn.Delete(p, -1)
}

// TestSessionJobManagerFailover kills the JobManager of an HA session running a job: neither the session nor
// the job looks ended meanwhile, and both come back RUNNING at the new leader.
func TestSessionJobManagerFailover(t *testing.T) {
	t.Parallel()
	g, conn, pathRoot := startHAGateway(t)
	const v = "1.20"
	s := g.startSession(t, "it-session-failover", v, 2)
	spec := g.sessionSpec(s.ID, "it-session-unbounded", "--mode", "unbounded", "--rate", "20")
	j := g.submit(spec, nil)
	if j = g.wait(j.ID, "RUNNING", 3*time.Minute); j.State != "RUNNING" {
		t.Fatalf("session job = %s", j.State)
	}
	data, _, err := conn.Get(zk.RESTLeaderPath(pathRoot, s.ID))
	oldLeader, ok, derr := zk.DecodeLeaderInformation(data)
	if err != nil || derr != nil || !ok || s.Links.JobManager == nil || oldLeader.Address != *s.Links.JobManager {
		t.Fatalf("leader znode %+v (%v %v %v), session links %+v", oldLeader, ok, err, derr, s.Links)
	}
	killed := killAM(t, g, s.ID)
	deadline := time.Now().Add(4 * time.Minute)
	var back time.Time
	var seen int
	for time.Now().Before(deadline) {
		_, cur, _, _ := g.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil)
		_, sess, _, _ := g.sessionDo(http.MethodGet, "/v1/sessions/"+s.ID, nil)
		seen++
		if cur.Terminal || sess.State == "FAILED" || sess.State == "STOPPED" {
			t.Fatalf("at kill+%v: job %s (terminal %v), session %s", time.Since(killed), cur.State, cur.Terminal, sess.State)
		}
		if cur.State == "RUNNING" && sess.State == "RUNNING" && cur.Links.JobManager != nil && sess.Links.JobManager != nil &&
			*cur.Links.JobManager != oldLeader.Address && *cur.Links.JobManager == *sess.Links.JobManager {
			back = time.Now()
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if back.IsZero() {
		t.Fatalf("the session job did not run again at a new JobManager")
	}
	data, _, err = conn.Get(zk.RESTLeaderPath(pathRoot, s.ID))
	newLeader, _, _ := zk.DecodeLeaderInformation(data)
	_, cur, _, _ := g.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil)
	if err != nil || *cur.Links.JobManager != newLeader.Address {
		t.Errorf("links.jobManager %s, leader znode %+v (%v)", *cur.Links.JobManager, newLeader, err)
	}
	t.Logf("session %s: kill → job and session RUNNING at %s after %v (%d observations)", s.ID, newLeader.Address, back.Sub(killed), seen)

	status, _, _, body := g.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, nil)
	if status != http.StatusAccepted && status != http.StatusOK {
		t.Fatalf("cancel = %d %s", status, body)
	}
	if c := g.wait(j.ID, "CANCELED", 2*time.Minute); c.State != "CANCELED" {
		t.Errorf("after cancel: %s", c.State)
	}
	if status, _, _, body := g.sessionDo(http.MethodDelete, "/v1/sessions/"+s.ID, nil); status >= 300 {
		t.Errorf("delete session = %d %s", status, body)
	}
}

// observation is one GET /v1/jobs/{id} during the failover.
type observation struct {
	at         time.Time
	state      string
	terminal   bool
	yarnState  string
	jobManager string
}

func failover(t *testing.T, g *jobGateway, conn *gozk.Conn, pathRoot, version string) {
	spec := g.spec("it-jm-failover-"+version, version, "--mode", "unbounded", "--rate", "20")
	j := g.submit(spec, nil)
	j = g.wait(j.ID, "RUNNING", 5*time.Minute)
	if j.State != "RUNNING" || j.Links.JobManager == nil {
		t.Fatalf("job = %s, links %+v: %s", j.State, j.Links, j.YARN.Diagnostics)
	}
	oldJM := *j.Links.JobManager
	znode := zk.RESTLeaderPath(pathRoot, j.ID)
	data, _, err := conn.Get(znode)
	if err != nil {
		t.Fatalf("leader znode %s: %v", znode, err)
	}
	oldLeader, ok, err := zk.DecodeLeaderInformation(data)
	if err != nil || !ok || oldLeader.Address != oldJM {
		t.Fatalf("leader znode says %+v (%v, %v); links.jobManager %s", oldLeader, ok, err, oldJM)
	}
	changesBefore := jobManagerLeaderChanges(t, g.url)

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	// The new leader, timestamped as its znode appears.
	type leaderSeen struct {
		at   time.Time
		info zk.LeaderInformation
	}
	newLeader := make(chan leaderSeen, 1)
	go func() {
		for ctx.Err() == nil {
			data, _, ev, err := conn.GetW(znode)
			if err != nil {
				var exists bool
				if exists, _, ev, err = conn.ExistsW(znode); err != nil || exists {
					time.Sleep(50 * time.Millisecond)
					continue
				}
			} else if info, ok, err := zk.DecodeLeaderInformation(data); err == nil && ok && info.SessionID != oldLeader.SessionID {
				newLeader <- leaderSeen{at: time.Now(), info: info}
				return
			}
			select {
			case <-ev:
			case <-ctx.Done():
			}
		}
	}()
	// The job as the gateway shows it, every 100 ms.
	var mu sync.Mutex
	var seen []observation
	var polls sync.WaitGroup
	polls.Go(func() {
		client := &http.Client{Timeout: 10 * time.Second}
		for ctx.Err() == nil {
			resp, err := client.Get(g.url + "/v1/jobs/" + j.ID)
			if err == nil {
				var cur jobObj
				json.NewDecoder(resp.Body).Decode(&cur)
				resp.Body.Close()
				o := observation{at: time.Now(), state: cur.State, terminal: cur.Terminal, yarnState: cur.YARN.State}
				if cur.Links.JobManager != nil {
					o.jobManager = *cur.Links.JobManager
				}
				mu.Lock()
				seen = append(seen, o)
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})

	killed := killAM(t, g, j.ID)
	t.Logf("flink %s: killed the JobManager of %s (%s) at %s", version, j.ID, oldJM, killed.Format(time.RFC3339Nano))
	var leader leaderSeen
	select {
	case leader = <-newLeader:
	case <-time.After(4 * time.Minute):
		t.Fatalf("no new JobManager leader in %s within 4 minutes", znode)
	}
	newJM := leader.info.Address
	if newJM == oldJM {
		t.Errorf("new leader has the old address %s", newJM)
	}
	// Wait until the gateway shows the job RUNNING at the new leader (or give up after 3 minutes).
	deadline := time.Now().Add(3 * time.Minute)
	var switched, running time.Time
	for time.Now().Before(deadline) && (switched.IsZero() || running.IsZero()) {
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		for _, o := range seen {
			if o.at.Before(killed) {
				continue
			}
			if switched.IsZero() && o.jobManager == newJM {
				switched = o.at
			}
			if running.IsZero() && !switched.IsZero() && o.state == "RUNNING" && o.jobManager == newJM {
				running = o.at
			}
		}
		mu.Unlock()
	}
	stop()
	polls.Wait()

	states := map[string]int{}
	var yarnAccepted, yarnRunning time.Time
	for _, o := range seen {
		if o.at.Before(killed) {
			continue
		}
		states[o.state+"/"+o.yarnState]++
		if yarnAccepted.IsZero() && o.yarnState == "ACCEPTED" {
			yarnAccepted = o.at
		}
		if !yarnAccepted.IsZero() && yarnRunning.IsZero() && o.yarnState == "RUNNING" {
			yarnRunning = o.at
		}
		if o.terminal || !slicesContains([]string{"SUBMITTED", "ACCEPTED", "STARTING", "RUNNING"}, o.state) {
			t.Errorf("at kill+%v the job showed %s (terminal %v, yarn %s)", o.at.Sub(killed), o.state, o.terminal, o.yarnState)
		}
	}
	t.Logf("flink %s: %d observations after the kill, state/yarn counts %v", version, len(seen), states)
	t.Logf("flink %s: kill → YARN ACCEPTED (attempt 2) %v; → new leader znode %v; → links.jobManager switched %v; "+
		"→ YARN RUNNING %v; → job RUNNING at the new leader %v", version, sinceOrNever(yarnAccepted, killed),
		leader.at.Sub(killed), sinceOrNever(switched, killed), sinceOrNever(yarnRunning, killed), sinceOrNever(running, killed))
	var last observation
	for _, o := range seen { // what the gateway showed around the switch, each change once
		if o.at.Before(leader.at.Add(-2*time.Second)) || (!switched.IsZero() && o.at.After(switched.Add(time.Second))) {
			continue
		}
		if o.state != last.state || o.yarnState != last.yarnState || o.jobManager != last.jobManager {
			t.Logf("flink %s: kill+%v: %s, yarn %s, links.jobManager %q", version, o.at.Sub(killed).Round(time.Millisecond), o.state, o.yarnState, o.jobManager)
		}
		last = o
	}
	if switched.IsZero() {
		t.Fatalf("links.jobManager never became the new leader %s", newJM)
	}
	if lag := switched.Sub(leader.at); lag > 5*time.Second {
		t.Errorf("links.jobManager switched %v after the new leader's znode appeared, want ≤ 5s", lag)
	}
	if running.IsZero() {
		t.Fatalf("the job did not run again at the new leader")
	}

	if n := appAttempts(t, g, j.ID); n < 2 {
		t.Errorf("YARN ran %d attempts, want ≥ 2", n)
	}
	j = g.wait(j.ID, "RUNNING", time.Minute)
	if j.State != "RUNNING" || j.Links.JobManager == nil || *j.Links.JobManager != newJM || j.Links.FlinkUI == nil {
		t.Fatalf("after failover: %s, links %+v", j.State, j.Links)
	}
	var detail struct {
		State string `json:"state"`
	}
	status, body := get(t, newJM+"/jobs/"+j.Flink.JobID)
	if status != 200 || json.Unmarshal([]byte(body), &detail) != nil || detail.State != "RUNNING" {
		t.Errorf("new JobManager: GET /jobs/%s = %d %.300s", j.Flink.JobID, status, body)
	}
	if status, body := get(t, *j.Links.FlinkUI); status != 200 || !strings.Contains(body, "Apache Flink") {
		t.Errorf("Flink UI at %s = %d %.200s", *j.Links.FlinkUI, status, body)
	}
	if status, body := get(t, strings.TrimSuffix(*j.Links.FlinkUI, "/")+"/jobs/"+j.Flink.JobID); status != 200 || !strings.Contains(body, `"RUNNING"`) {
		t.Errorf("Flink UI proxy /jobs/%s = %d %.200s", j.Flink.JobID, status, body)
	}
	after := jobManagerLeaderChanges(t, g.url)
	if after <= changesBefore {
		t.Errorf("yarngate_zk_leader_changes_total{kind=\"jobmanager\"} = %v, was %v", after, changesBefore)
	}
	t.Logf("flink %s: yarngate_zk_leader_changes_total{kind=\"jobmanager\"} %v → %v", version, changesBefore, after)

	status, _, _, body = g.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, nil)
	if status != http.StatusAccepted && status != http.StatusOK {
		t.Fatalf("cancel = %d %s", status, body)
	}
	if c := g.wait(j.ID, "CANCELED", 3*time.Minute); c.State != "CANCELED" {
		t.Errorf("after cancel: %s (yarn %s/%s) %s", c.State, c.YARN.State, c.YARN.FinalStatus, c.YARN.Diagnostics)
	}
}

func sinceOrNever(t, from time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(from).String()
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// rmApp reads the ResourceManager's report of an application.
func rmApp(t *testing.T, g *jobGateway, id string) (amContainerLogs string) {
	t.Helper()
	var r struct {
		App struct {
			AMContainerLogs string `json:"amContainerLogs"`
		} `json:"app"`
	}
	status, body := get(t, g.cluster.RMURL+"/ws/v1/cluster/apps/"+id)
	if status != 200 || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("RM app %s = %d %.300s", id, status, body)
	}
	return r.App.AMContainerLogs
}

// appAttempts counts the application's attempts.
func appAttempts(t *testing.T, g *jobGateway, id string) int {
	t.Helper()
	var r struct {
		AppAttempts struct {
			AppAttempt []json.RawMessage `json:"appAttempt"`
		} `json:"appAttempts"`
	}
	status, body := get(t, g.cluster.RMURL+"/ws/v1/cluster/apps/"+id+"/appattempts")
	if status != 200 || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("RM app attempts %s = %d %.300s", id, status, body)
	}
	return len(r.AppAttempts.AppAttempt)
}

var containerIDPattern = regexp.MustCompile(`container_(e\d+_)?\d+_\d+_\d+_\d+`)

// killAM kills -9 the JobManager JVM of the application's current AM container (only the java process
// whose command line names the container) and returns when.
func killAM(t *testing.T, g *jobGateway, appID string) time.Time {
	t.Helper()
	logs := rmApp(t, g, appID)
	cid := containerIDPattern.FindString(logs)
	if cid == "" || !strings.Contains(cid, strings.TrimPrefix(appID, "application_")) {
		t.Fatalf("no container id of %s in amContainerLogs %q", appID, logs)
	}
	out, err := exec.CommandContext(t.Context(), "pgrep", "-f", cid).Output()
	if err != nil {
		t.Fatalf("pgrep -f %s: %v", cid, err)
	}
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		argv := strings.Split(string(cmdline), "\x00")
		if filepath.Base(argv[0]) != "java" || !strings.Contains(string(cmdline), cid) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 %d: %v", pid, err)
		}
		t.Logf("killed pid %d, the JobManager JVM of %s", pid, cid)
		return time.Now()
	}
	t.Fatalf("no java process of container %s among %q", cid, out)
	return time.Time{}
}

// jobManagerLeaderChanges reads yarngate_zk_leader_changes_total{kind="jobmanager"} from /metrics (0 while
// absent).
func jobManagerLeaderChanges(t *testing.T, url string) float64 {
	t.Helper()
	status, body := get(t, url+"/metrics")
	if status != 200 {
		t.Fatalf("/metrics = %d", status)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, `yarngate_zk_leader_changes_total{kind="jobmanager"} `); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// quietZK drops go-zookeeper's logs.
type quietZK struct{}

func (quietZK) Printf(string, ...any) {}

// TestHAJobsFinish runs bounded jobs on an HA gateway, with HA and opted out, and checks that both finish
// and that only the HA one left a leader in ZooKeeper while it ran (Flink removes its HA data at the end).
func TestHAJobsFinish(t *testing.T) {
	t.Parallel()
	g, conn, pathRoot := startHAGateway(t)
	tests := []struct {
		name   string
		config map[string]any
		ha     bool
	}{
		{name: "ha", ha: true},
		{name: "opted-out", config: map[string]any{"high-availability.type": "none"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := g.hdfsPath("sum-ha-" + tc.name)
			const n = 2000
			spec := g.spec("it-ha-bounded-"+tc.name, "1.20", "--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://"+out)
			if tc.config != nil {
				spec["flinkConfig"] = tc.config
			}
			j := g.submit(spec, nil)
			j = g.wait(j.ID, "FINISHED", 6*time.Minute)
			if j.State != "FINISHED" {
				t.Fatalf("job ended %s (yarn %s/%s): %s", j.State, j.YARN.State, j.YARN.FinalStatus, j.YARN.Diagnostics)
			}
			if got, want := strings.TrimSpace(readHDFS(t, g.cluster, out)), fmt.Sprintf("count=%d sum=%d", n, sumOfSquares(n)); got != want {
				t.Errorf("result %q, want %q", got, want)
			}
			var r struct {
				App struct {
					ApplicationTags string `json:"applicationTags"`
				} `json:"app"`
			}
			_, body := get(t, g.cluster.RMURL+"/ws/v1/cluster/apps/"+j.ID)
			json.Unmarshal([]byte(body), &r)
			if tagged := strings.Contains(r.App.ApplicationTags, "yarngate-ha"); tagged != tc.ha {
				t.Errorf("application tags %q, want HA %v", r.App.ApplicationTags, tc.ha)
			}
			if !tc.ha {
				if exists, _, err := conn.Exists(pathRoot + "/" + j.ID); err != nil || exists {
					t.Errorf("opted-out job has HA data in ZooKeeper (%v, %v)", exists, err)
				}
			}
		})
	}
}
