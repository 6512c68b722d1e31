package app

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/testenv"
)

// These tests upgrade the counting job (see savepoint_integration_test.go) through POST /v1/jobs/{id}/upgrade:
// its counts go on across an upgrade to new arguments, an upgrade to a version that fails at start rolls back
// by itself to the previous spec from the same savepoint, and an upgrade whose gateway is killed with SIGKILL
// in the middle completes after a restart with exactly one application running.

// upgradeView is the upgrade part of a job object.
type upgradeView struct {
	ID    string `json:"id"`
	State string `json:"state"`
	YARN  struct {
		ApplicationID string `json:"applicationId"`
	} `json:"yarn"`
	Flink struct {
		JobID string `json:"jobId"`
	} `json:"flink"`
	Links struct {
		JobManager *string `json:"jobManager"`
	} `json:"links"`
	Upgrade *struct {
		ID      string  `json:"id"`
		Mode    string  `json:"mode"`
		Step    string  `json:"step"`
		Restore *string `json:"restore"`
		Failure *string `json:"failure"`
	} `json:"upgrade"`
	Runs []struct {
		ApplicationID string          `json:"applicationId"`
		Spec          json.RawMessage `json:"spec"`
		Restore       *string         `json:"restore"`
		Outcome       string          `json:"outcome"`
		Current       bool            `json:"current"`
	} `json:"runs"`
}

// upgradeOf reads a job's upgrade view.
func (g *jobGateway) upgradeOf(id string) upgradeView {
	g.t.Helper()
	status, _, _, raw := g.do(http.MethodGet, "/v1/jobs/"+id, nil, nil)
	var v upgradeView
	if status != http.StatusOK || json.Unmarshal([]byte(raw), &v) != nil {
		g.t.Fatalf("get %s = %d %s", id, status, raw)
	}
	return v
}

// waitUpgrade polls a job until its upgrade reaches one of steps (failing on another final step).
func (g *jobGateway) waitUpgrade(id string, limit time.Duration, steps ...string) upgradeView {
	g.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		v := g.upgradeOf(id)
		if v.Upgrade != nil {
			for _, s := range steps {
				if v.Upgrade.Step == s {
					return v
				}
			}
			switch v.Upgrade.Step {
			case "SUCCEEDED", "ROLLED_BACK", "FAILED":
				g.t.Fatalf("upgrade of %s ended %s, want %v: restore %s, failure %s", id, v.Upgrade.Step, steps,
					orDash(v.Upgrade.Restore), orDash(v.Upgrade.Failure))
			}
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("upgrade of %s not at %v in time: %+v", id, steps, v.Upgrade)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// upgrade posts an upgrade and checks it was accepted.
func (g *jobGateway) upgrade(id string, body map[string]any) {
	g.t.Helper()
	status, _, _, raw := g.do(http.MethodPost, "/v1/jobs/"+id+"/upgrade", nil, body)
	if status != http.StatusAccepted {
		g.t.Fatalf("upgrade %s = %d %s", id, status, raw)
	}
}

// stopAndCount stops the job with a savepoint, waits until it finished, and returns its state.
func (g *jobGateway) stopAndFinish(t *testing.T, id, trigger string) {
	t.Helper()
	if status, _, _, raw := g.savepointDo("/v1/jobs/"+id+"/stop", map[string]any{"savepoint": true, "triggerId": trigger}); status != http.StatusAccepted {
		t.Fatalf("stop %s = %d %s", id, status, raw)
	}
	g.waitSavepoint(t, id, trigger)
	if j := g.wait(id, "FINISHED", 3*time.Minute); j.State != "FINISHED" {
		t.Fatalf("after the stop, %s is %s: %s", id, j.State, j.YARN.Diagnostics)
	}
}

// onlyOneRuns checks that of a job's applications, the current one at most runs in YARN.
func onlyOneRuns(t *testing.T, c *testenv.Cluster, v upgradeView, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	running := 0
	for _, r := range v.Runs {
		if r.ApplicationID == "" {
			t.Errorf("a run without an application: %+v", v.Runs)
			continue
		}
		a, err := c.App(ctx, r.ApplicationID)
		if err != nil {
			t.Fatalf("application %s: %v", r.ApplicationID, err)
		}
		if !a.Terminal() {
			running++
			if r.ApplicationID != want {
				t.Errorf("application %s (%s) runs besides the current %s", r.ApplicationID, a.State, want)
			}
		}
	}
	if running != 1 {
		t.Errorf("%d applications of the job run, want 1", running)
	}
}

func TestUpgradeKeepsStateAndRollsBack(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			g := *g
			g.t = t
			out := "hdfs://" + g.hdfsPath("upgrade-"+v)
			start := time.Now()
			j1 := g.submit(g.spec("it-upgrade-"+v, v, "--mode", "counting", "--output", out+"/run-1", "--rate", "20"), nil)
			j1 = g.wait(j1.ID, "RUNNING", 10*time.Minute)
			if j1.State != "RUNNING" || j1.Links.JobManager == nil {
				t.Fatalf("run 1 = %s: %s", j1.State, j1.YARN.Diagnostics)
			}
			g.waitRecords(t, *j1.Links.JobManager, j1.Flink.JobID, 40)

			// An upgrade to a new jar (other bytes, so another jar id) and new arguments (another output
			// directory): savepoint, stop, launch restoring it, healthy.
			newJar := g.uploadJar(variantJar(t, g.cluster.ExampleJar))
			body := map[string]any{"upgradeId": "to-run-2", "mode": "savepoint", "jarId": newJar,
				"args": []string{"--mode", "counting", "--output", out + "/run-2", "--rate", "20"}}
			g.upgrade(j1.ID, body)
			if status, _, _, raw := g.do(http.MethodPost, "/v1/jobs/"+j1.ID+"/upgrade", nil, body); status != http.StatusOK {
				t.Errorf("the same upgrade id again = %d %s, want 200", status, raw)
			}
			if status, _, e, raw := g.do(http.MethodPost, "/v1/jobs/"+j1.ID+"/upgrade", nil, map[string]any{"upgradeId": "other"}); status != http.StatusConflict || e.Error.Code != "upgrade_in_progress" {
				t.Errorf("a second upgrade during the first = %d %s, want 409 upgrade_in_progress", status, raw)
			}
			up := g.waitUpgrade(j1.ID, 12*time.Minute, "SUCCEEDED")
			if up.ID != j1.ID || len(up.Runs) != 2 || up.Runs[0].ApplicationID != j1.ID || up.Runs[0].Outcome != "replaced" ||
				!up.Runs[1].Current || up.Runs[1].Restore == nil || up.YARN.ApplicationID != up.Runs[1].ApplicationID ||
				up.Upgrade.Restore == nil || !strings.Contains(*up.Upgrade.Restore, "/savepoint-") {
				t.Fatalf("after the upgrade: %+v", up)
			}
			if !strings.Contains(string(up.Runs[1].Spec), newJar) || strings.Contains(string(up.Runs[0].Spec), newJar) {
				t.Errorf("the runs' specs do not show the new jar %s: %s then %s", newJar, up.Runs[0].Spec, up.Runs[1].Spec)
			}
			app2 := up.YARN.ApplicationID
			if byApp := g.upgradeOf(app2); byApp.ID != j1.ID {
				t.Errorf("GET /v1/jobs/%s = job %s, want %s", app2, byApp.ID, j1.ID)
			}
			if up.Links.JobManager == nil {
				t.Fatalf("the upgraded job has no JobManager: %+v", up)
			}
			g.waitRecords(t, *up.Links.JobManager, up.Flink.JobID, 20)

			// An upgrade to a version that fails at start (its main() refuses the arguments): rolled back to the
			// previous spec from the same savepoint, by itself.
			g.upgrade(j1.ID, map[string]any{"upgradeId": "broken", "args": []string{"--mode", "no-such-mode"}, "healthTimeoutSeconds": 240})
			rb := g.waitUpgrade(j1.ID, 15*time.Minute, "ROLLED_BACK")
			if len(rb.Runs) != 4 || rb.Runs[2].Outcome != "rolled-back" || !rb.Runs[3].Current || rb.Runs[3].Restore == nil ||
				*rb.Runs[3].Restore != *rb.Upgrade.Restore || rb.Upgrade.Failure == nil || string(rb.Runs[3].Spec) != string(rb.Runs[1].Spec) {
				t.Fatalf("after the rollback: %+v", rb)
			}
			t.Logf("rolled back: %s", *rb.Upgrade.Failure)
			j := g.wait(j1.ID, "RUNNING", 10*time.Minute)
			if j.State != "RUNNING" || j.Links.JobManager == nil {
				t.Fatalf("the rolled-back job = %s: %s", j.State, j.YARN.Diagnostics)
			}
			g.waitRecords(t, *j.Links.JobManager, j.Flink.JobID, 20)
			onlyOneRuns(t, g.cluster, g.upgradeOf(j1.ID), j.YARN.ApplicationID)

			// Stop, and read the counts: run 1, then run 2 and its rollback (the same output directory) go on
			// from where each stopped.
			g.stopAndFinish(t, j1.ID, "end")
			next, counts := checkContinuity(t, "run 1", readCounts(t, &g, strings.TrimPrefix(out, "hdfs://")+"/run-1"), 1, map[int64]int64{})
			lines2 := readCounts(t, &g, strings.TrimPrefix(out, "hdfs://")+"/run-2")
			end, last := checkContinuity(t, "run 2 and its rollback", lines2, next, counts)
			t.Logf("flink %s: run 1 counted 1..%d, the upgrade and its rollback went on %d..%d (last counts %v), %s",
				v, next-1, next, end-1, last, time.Since(start).Round(time.Second))
		})
	}
}

func TestUpgradeResumesAfterGatewayKill(t *testing.T) {
	t.Parallel()
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			name := "it-upgrade-kill-" + v
			// A gateway and an HDFS root of its own per version: one is killed while the other upgrades.
			root := hdfstest.New(t)
			c := root.Cluster
			jar, err := os.ReadFile(c.ExampleJar)
			if err != nil {
				t.Fatalf("example jar (make example-jar): %v", err)
			}
			env := []string{
				"HADOOP_CONF_DIR=" + c.HadoopConfDir, "YARNGATE_USER=" + c.User, "YARNGATE_FLINK_HOMES=" + c.Env["YARNGATE_FLINK_HOMES"],
				"YARNGATE_HDFS_STAGING_ROOT=" + root.Path, "YARNGATE_REGISTRY_BACKEND=embedded",
				"YARNGATE_REGISTRY_PATH=" + filepath.Join(t.TempDir(), "registry.db"), "YARNGATE_FLINK_LIB_ROOT=/user/" + c.User + "/it-flink",
				"YARNGATE_JARS_MAX_SIZE=64MiB", "YARNGATE_REGISTRY_RECONCILE_INTERVAL=500ms", "YARNGATE_LOG_FORMAT=json",
				"YARNGATE_JOBS_UPGRADE_HEALTH_TIMEOUT=5m",
			}
			p := startGatewayProc(t, "upgrade-"+v, env)
			g := p.client(c, "")
			g.root = root
			g.jarID = g.uploadJar(jar)
			out := "hdfs://" + g.hdfsPath("upgrade-kill-"+v)
			j1 := g.submit(g.spec(name, v, "--mode", "counting", "--output", out+"/run-1", "--rate", "20"), nil)
			j1 = g.wait(j1.ID, "RUNNING", 10*time.Minute)
			if j1.State != "RUNNING" || j1.Links.JobManager == nil {
				t.Fatalf("run 1 = %s: %s", j1.State, j1.YARN.Diagnostics)
			}
			g.waitRecords(t, *j1.Links.JobManager, j1.Flink.JobID, 40)
			g.upgrade(j1.ID, map[string]any{"upgradeId": "killed", "args": []string{"--mode", "counting", "--output", out + "/run-2", "--rate", "20"}})

			// SIGKILL as soon as YARN lists the new application (the driver records it a moment later, or, killed
			// first, finds it by its tag after the restart), or, should YARN not list it within two minutes of the
			// recorded launch step, then; and start again.
			g.waitUpgrade(j1.ID, 8*time.Minute, "LAUNCHING")
			deadline := time.Now().Add(2 * time.Minute)
			for time.Now().Before(deadline) && otherApp(t, c, name, j1.ID) == "" {
				time.Sleep(50 * time.Millisecond)
			}
			p.kill()
			t.Logf("gateway killed at LAUNCHING; YARN lists the new application: %q", otherApp(t, c, name, j1.ID))
			p.start()
			up := g.waitUpgrade(j1.ID, 12*time.Minute, "SUCCEEDED", "ROLLED_BACK")
			if len(up.Runs) < 2 || !up.Runs[len(up.Runs)-1].Current {
				t.Fatalf("after the restart: %+v", up)
			}
			j := g.wait(j1.ID, "RUNNING", 10*time.Minute)
			if j.State != "RUNNING" || j.Links.JobManager == nil {
				t.Fatalf("after the restart the job is %s: %s", j.State, j.YARN.Diagnostics)
			}
			onlyOneRuns(t, c, g.upgradeOf(j1.ID), j.YARN.ApplicationID)
			// No application of the job besides its runs: YARN lists none under its name that is not a run.
			status, body := get(t, c.RMURL+"/ws/v1/cluster/apps?states=NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING")
			var apps struct {
				Apps *struct {
					App []struct {
						ID   string `json:"id"`
						Name string `json:"name"`
					} `json:"app"`
				} `json:"apps"`
			}
			if status != 200 || json.Unmarshal([]byte(body), &apps) != nil {
				t.Fatalf("RM apps = %d %s", status, body)
			}
			if apps.Apps != nil {
				for _, a := range apps.Apps.App {
					if a.Name == name && a.ID != j.YARN.ApplicationID {
						t.Errorf("application %s of the job runs besides %s", a.ID, j.YARN.ApplicationID)
					}
				}
			}
			g.waitRecords(t, *j.Links.JobManager, j.Flink.JobID, 20)
			g.stopAndFinish(t, j1.ID, "end")
			next, counts := checkContinuity(t, "run 1", readCounts(t, g, strings.TrimPrefix(out, "hdfs://")+"/run-1"), 1, map[int64]int64{})
			end, _ := checkContinuity(t, "run 2", readCounts(t, g, strings.TrimPrefix(out, "hdfs://")+"/run-2"), next, counts)
			logged, _ := os.ReadFile(p.log)
			t.Logf("upgrade resumed after SIGKILL ended %s (the restarted gateway found the killed one's launch by its tag: %v; "+
				"upgrade launches logged by both processes: %d); run 1 counted 1..%d, run 2 went on %d..%d", up.Upgrade.Step,
				strings.Contains(string(logged), "found the application of an interrupted launch"),
				strings.Count(string(logged), `"msg":"upgrade: launched"`), next-1, next, end-1)
		})
	}
}

// variantJar returns the jar at path with one more entry: the same classes, another jar (another SHA-256 id).
func variantJar(t *testing.T, path string) []byte {
	t.Helper()
	r, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("example jar (make example-jar): %v", err)
	}
	defer r.Close()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range r.File {
		if strings.HasSuffix(f.Name, "/") {
			continue // directory entries (jar writes them deflated, which zip.Writer refuses to copy): not needed
		}
		if err := w.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	marker, err := w.Create("META-INF/yarngate-upgrade-variant.txt")
	if err == nil {
		_, err = marker.Write([]byte("the upgraded version\n"))
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// committedCounts reads the committed output files of one run of the counting job (in-progress files, which
// start with a dot, left by a canceled job are not output).
func committedCounts(t *testing.T, g *jobGateway, dir string) []countLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	files, err := g.cluster.ListHDFS(ctx, dir)
	if err != nil {
		t.Fatalf("output of %s: %v", dir, err)
	}
	var lines []countLine
	for _, f := range files {
		if strings.HasPrefix(f.PathSuffix, ".") {
			continue
		}
		for _, l := range strings.Split(strings.TrimSpace(readHDFS(t, g.cluster, dir+"/"+f.PathSuffix)), "\n") {
			var c countLine
			if l == "" {
				continue
			}
			if _, err := fmt.Sscanf(l, "%d %d %d", &c.key, &c.count, &c.seq); err != nil {
				t.Fatalf("output line %q: %v", l, err)
			}
			lines = append(lines, c)
		}
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].seq < lines[j].seq })
	return lines
}

// TestUpgradeLastStateAndStateless upgrades the counting job in last-state mode (its latest retained
// checkpoint, read before the cancel, is restored: the counts go on from that checkpoint, whose later output
// the canceled job never committed) and then in stateless mode (the counts start again from one).
func TestUpgradeLastStateAndStateless(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			g := *g
			g.t = t
			out := g.hdfsPath("upgrade-last-state-" + v)
			cfg := map[string]any{"execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
				"state.checkpoints.dir": "hdfs://" + g.hdfsPath("checkpoints-"+v), "execution.checkpointing.dir": "hdfs://" + g.hdfsPath("checkpoints-"+v)}
			if v != "1.20" {
				delete(cfg, "state.checkpoints.dir")
			}
			spec := g.spec("it-upgrade-last-state-"+v, v, "--mode", "counting", "--output", "hdfs://"+out+"/run-1", "--rate", "20")
			spec["flinkConfig"] = cfg
			j1 := g.submit(spec, nil)
			j1 = g.wait(j1.ID, "RUNNING", 10*time.Minute)
			if j1.State != "RUNNING" || j1.Links.JobManager == nil {
				t.Fatalf("run 1 = %s: %s", j1.State, j1.YARN.Diagnostics)
			}
			g.waitRecords(t, *j1.Links.JobManager, j1.Flink.JobID, 40)
			g.upgrade(j1.ID, map[string]any{"upgradeId": "last-state", "mode": "last-state",
				"args": []string{"--mode", "counting", "--output", "hdfs://" + out + "/run-2", "--rate", "20"}})
			up := g.waitUpgrade(j1.ID, 12*time.Minute, "SUCCEEDED")
			if up.Upgrade.Restore == nil || !strings.Contains(*up.Upgrade.Restore, "/chk-") || up.Runs[0].Outcome != "replaced" {
				t.Fatalf("after the last-state upgrade: %+v", up)
			}
			g.waitRecords(t, *up.Links.JobManager, up.Flink.JobID, 20)
			g.upgrade(j1.ID, map[string]any{"upgradeId": "stateless", "mode": "stateless",
				"args": []string{"--mode", "counting", "--output", "hdfs://" + out + "/run-3", "--rate", "20"}})
			up = g.waitUpgrade(j1.ID, 12*time.Minute, "SUCCEEDED")
			if up.Upgrade.Restore != nil || len(up.Runs) != 3 || up.Runs[2].Restore != nil {
				t.Fatalf("after the stateless upgrade: %+v", up)
			}
			g.waitRecords(t, *up.Links.JobManager, up.Flink.JobID, 20)
			onlyOneRuns(t, g.cluster, up, up.YARN.ApplicationID)
			g.stopAndFinish(t, j1.ID, "end")

			// Run 2 restored the checkpoint: its counts go on from the state at its first sequence number, which
			// run 1 had reached (nothing lost; what run 1 counted after the checkpoint it never committed, or
			// committed once more: at least once across a cancel).
			lines1 := committedCounts(t, &g, out+"/run-1")
			lines2 := committedCounts(t, &g, out+"/run-2")
			if len(lines1) == 0 || len(lines2) == 0 {
				t.Fatalf("runs 1 and 2 committed %d and %d lines", len(lines1), len(lines2))
			}
			first := lines2[0].seq
			if first < 2 || first > lines1[len(lines1)-1].seq+1 {
				t.Fatalf("run 2 starts at %d, run 1 committed up to %d", first, lines1[len(lines1)-1].seq)
			}
			var before []countLine
			for _, l := range lines1 {
				if l.seq < first {
					before = append(before, l)
				}
			}
			next, counts := checkContinuity(t, "run 1 up to the checkpoint", before, 1, map[int64]int64{})
			end, _ := checkContinuity(t, "run 2", lines2, next, counts)
			lines3 := committedCounts(t, &g, out+"/run-3")
			if len(lines3) == 0 || lines3[0].seq != 1 || lines3[0].count != 1 {
				t.Fatalf("the stateless run 3 does not start afresh: %+v", lines3[:min(len(lines3), 3)])
			}
			t.Logf("flink %s: last-state restored %s; run 1 committed 1..%d, run 2 went on %d..%d; stateless run 3 began at 1",
				v, *g.upgradeOf(j1.ID).Runs[1].Restore, lines1[len(lines1)-1].seq, first, end-1)
		})
	}
}

func orDash(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// otherApp returns an application YARN lists under name other than except, "" when none.
func otherApp(t *testing.T, c *testenv.Cluster, name, except string) string {
	t.Helper()
	status, body := get(t, c.RMURL+"/ws/v1/cluster/apps?states=NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING")
	var apps struct {
		Apps *struct {
			App []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"app"`
		} `json:"apps"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &apps) != nil || apps.Apps == nil {
		return ""
	}
	for _, a := range apps.Apps.App {
		if a.Name == name && a.ID != except {
			return a.ID
		}
	}
	return ""
}
