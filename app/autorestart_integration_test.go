package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/config"
)

// autoRestartView is the part of a job object the automatic restart test reads.
type autoRestartView struct {
	upgradeView
	Health *struct {
		Status  string   `json:"status"`
		Reasons []string `json:"reasons"`
	} `json:"health"`
	AutoRestart *struct {
		MaxRestarts int     `json:"maxRestarts"`
		Enabled     bool    `json:"enabled"`
		Restarts    int     `json:"restarts"`
		LastReason  *string `json:"lastReason"`
	} `json:"autoRestart"`
}

func (g *jobGateway) autoRestartOf(id string) autoRestartView {
	g.t.Helper()
	var v autoRestartView
	status, _, _, raw := g.do(http.MethodGet, "/v1/jobs/"+id, nil, nil)
	if status != http.StatusOK || json.Unmarshal([]byte(raw), &v) != nil {
		g.t.Fatalf("get %s = %d %s", id, status, raw)
	}
	return v
}

// TestAutoRestartFromCheckpoint: the counting job, told to fail its first four task attempts (a restart loop
// in every new Flink job), turns unhealthy; with autoRestart {afterSeconds 10, maxRestarts 1} the gateway
// restarts it once from its retained checkpoint (an upgrade auto-restart-1 of its own spec in last-state
// mode, every step announced to a webhook); the restarted job loops again and stays unhealthy, and is not
// restarted a second time. Its output proves the count went on from the checkpoint: every sequence number
// from 1 on is there, the restarted job's first is past 1, and every count is exactly right for its
// sequence number (restored state, nothing counted twice).
func TestAutoRestartFromCheckpoint(t *testing.T) {
	t.Parallel()
	cfg, root := notifyConfig(t)
	hook := newHookReceiver(t)
	cfg.Health.Interval = 2 * time.Second
	cfg.Health.MaxRestarts = 3
	cfg.Health.RestartWindow = 10 * time.Minute
	cfg.Health.AutoRestart = true
	cfg.Notify.Webhooks = []config.NotifyWebhook{{URL: hook.srv.URL, Secret: "it", Events: []string{"health", "upgrade"}}}
	g, _ := gatewayOn(t, cfg, root)
	// A session job cannot ask for it: 400 invalid_spec naming autoRestart, before anything is launched.
	status, _, e, body := g.do(http.MethodPost, "/v1/jobs", nil, map[string]any{"name": "it-auto-restart-session", "jarId": g.jarID,
		"target": "session", "sessionId": "application_1767225600000_0001", "autoRestart": map[string]any{"afterSeconds": 10, "maxRestarts": 1}})
	if status != http.StatusBadRequest || e.Error.Code != "invalid_spec" || len(e.Error.Details) != 1 || e.Error.Details[0].Field != "autoRestart" {
		t.Fatalf("a session job with autoRestart = %d %s", status, body)
	}
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			g := *g
			g.t = t
			out := g.hdfsPath("auto-restart-" + v)
			fc := map[string]any{"execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
				"state.checkpoints.dir": "hdfs://" + g.hdfsPath("checkpoints-"+v), "execution.checkpointing.dir": "hdfs://" + g.hdfsPath("checkpoints-"+v),
				"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": 1000, "restart-strategy.fixed-delay.delay": "1 s"}
			if v != "1.20" {
				delete(fc, "state.checkpoints.dir")
			}
			spec := g.spec("it-auto-restart-"+v, v, "--mode", "counting", "--output", "hdfs://"+out, "--rate", "20",
				"--fail-attempts", "4", "--fail-after", "60")
			spec["flinkConfig"] = fc
			spec["autoRestart"] = map[string]any{"afterSeconds": 10, "maxRestarts": 1}
			j := g.submit(spec, nil)
			first := j.ID
			t.Cleanup(func() {
				for _, r := range g.autoRestartOf(j.ID).Runs {
					if r.ApplicationID != "" {
						g.killApp(r.ApplicationID)
					}
				}
			})
			if got := g.wait(j.ID, "RUNNING", 8*time.Minute); got.State != "RUNNING" {
				t.Fatalf("job %s is %s: %s", j.ID, got.State, got.YARN.Diagnostics)
			}
			hook.waitFor(t, "unhealthy notification", 8*time.Minute, func(c hookCall) bool {
				return c.JobID == j.ID && c.Type == "health" && c.Health == "unhealthy"
			})
			up := g.waitUpgrade(j.ID, 12*time.Minute, "SUCCEEDED")
			if up.Upgrade.ID != "auto-restart-1" || up.Upgrade.Mode != "last-state" || up.Upgrade.Restore == nil ||
				!strings.Contains(*up.Upgrade.Restore, "/chk-") || len(up.Runs) != 2 || up.Runs[0].Outcome != "replaced" ||
				up.Runs[0].ApplicationID != first || up.YARN.ApplicationID == first {
				t.Fatalf("after the automatic restart: %+v", up)
			}
			restarted := up.YARN.ApplicationID
			t.Logf("flink %s: restarted %s as %s from %s", v, first, restarted, *up.Upgrade.Restore)
			// The restarted job loops too: unhealthy again, but its one restart is spent.
			deadline := time.Now().Add(8 * time.Minute)
			var view autoRestartView
			for {
				view = g.autoRestartOf(j.ID)
				if view.YARN.ApplicationID == restarted && view.Health != nil && view.Health.Status == "unhealthy" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the restarted job did not turn unhealthy: %+v %+v", view.Health, view.Upgrade)
				}
				time.Sleep(time.Second)
			}
			// Three times its afterSeconds and several health checks later, no second restart began.
			time.Sleep(30 * time.Second)
			view = g.autoRestartOf(j.ID)
			if view.Upgrade.ID != "auto-restart-1" || view.YARN.ApplicationID != restarted || len(view.Runs) != 2 ||
				view.AutoRestart == nil || view.AutoRestart.Restarts != 1 || view.AutoRestart.LastReason == nil ||
				!strings.Contains(*view.AutoRestart.LastReason, "unhealthy for") {
				t.Fatalf("after the limit: upgrade %+v, runs %d, autoRestart %+v", view.Upgrade, len(view.Runs), view.AutoRestart)
			}
			onlyOneRuns(t, g.cluster, view.upgradeView, restarted)
			// Every step of the restart reached the webhook, marked automatic.
			for _, step := range []string{"STOPPING", "LAUNCHING", "VERIFYING", "SUCCEEDED"} {
				c := hook.waitFor(t, "upgrade step "+step, 2*time.Minute, func(c hookCall) bool {
					return c.JobID == j.ID && c.Type == "upgrade" && c.Data["upgradeId"] == "auto-restart-1" && c.Data["step"] == step
				})
				if c.Data["reason"] != "auto-restart" {
					t.Errorf("upgrade event %s: %+v", step, c.Data)
				}
			}
			newJob := view.Flink.JobID
			if got := g.cancel(j.ID); got.State != "CANCELED" {
				t.Fatalf("cancel = %s", got.State)
			}
			checkRestartOutput(t, &g, out, newJob)
		})
	}
}

// cancel cancels a job through the gateway and waits until it ended.
func (g *jobGateway) cancel(id string) jobObj {
	g.t.Helper()
	if status, _, _, body := g.do(http.MethodPost, "/v1/jobs/"+id+"/cancel", nil, nil); status != http.StatusOK && status != http.StatusAccepted {
		g.t.Fatalf("cancel %s = %d %s", id, status, body)
	}
	return g.wait(id, "CANCELED", 3*time.Minute)
}

// checkRestartOutput reads every line the counting job wrote under dir, across its Flink jobs and their
// task attempts (a restart from a checkpoint writes again what followed the checkpoint: at least once), and
// checks that the sequence numbers cover 1..max without a gap, that every line's count is the count its key
// has at its sequence number (keys seq % 4), and that the restarted Flink job wrote from a number past 1.
func checkRestartOutput(t *testing.T, g *jobGateway, dir, restartedJob string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	files, err := g.cluster.ListHDFS(ctx, dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("output of %s: %v, %v", dir, files, err)
	}
	seen := map[int64]bool{}
	var last int64
	restartedFirst := int64(-1)
	for _, f := range files {
		for _, l := range strings.Split(strings.TrimSpace(readHDFS(t, g.cluster, dir+"/"+f.PathSuffix)), "\n") {
			if l == "" {
				continue
			}
			var c countLine
			if _, err := fmt.Sscanf(l, "%d %d %d", &c.key, &c.count, &c.seq); err != nil {
				t.Fatalf("output line %q of %s: %v", l, f.PathSuffix, err)
			}
			if want := expectedCount(c.seq); c.key != c.seq%4 || c.count != want {
				t.Fatalf("%s: %q: key %d count %d, want key %d count %d (lost or counted twice)", f.PathSuffix, l, c.key, c.count, c.seq%4, want)
			}
			seen[c.seq] = true
			last = max(last, c.seq)
			if strings.Contains(f.PathSuffix, restartedJob) && (restartedFirst < 0 || c.seq < restartedFirst) {
				restartedFirst = c.seq
			}
		}
	}
	for s := int64(1); s <= last; s++ {
		if !seen[s] {
			t.Fatalf("sequence number %d is missing (of 1..%d)", s, last)
		}
	}
	if restartedFirst <= 1 {
		t.Fatalf("the restarted job %s wrote from %d: not restored", restartedJob, restartedFirst)
	}
	t.Logf("output: 1..%d each counted right; the restarted job began at %d", last, restartedFirst)
}

// expectedCount is the count of key seq%4 once the counting job has counted 1..seq: the numbers up to seq
// with the same remainder.
func expectedCount(seq int64) int64 {
	if k := seq % 4; k != 0 {
		return (seq-k)/4 + 1
	}
	return seq / 4
}
