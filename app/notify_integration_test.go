package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/notify"
)

// These tests prove the notification promises on the real cluster: a webhook receiver sees every transition
// of a job, signed, none lost across a gateway restart, redeliveries with the same event id; and a job that
// restarts in a loop turns unhealthy within a bounded time and its health notification fires (both Flink
// versions: health comes from the JobManager's REST API).

// itWebhookSecret signs the test receivers' calls.
const itWebhookSecret = "integration-test-webhook-secret"

// hookCall is one call a receiver recorded.
type hookCall struct {
	ID, Type, JobID, State, Previous, Health string
	Status                                   int // what the receiver answered
	// Reason and Data are the payload's (upgrade and savepoint events).
	Reason string
	Data   map[string]string
}

// hookReceiver is a webhook receiver: it checks every call's signature and records it. While refusing, it
// answers 503 without recording; with ackLoss, it records the first call of each event id and answers 500
// (as if its acknowledgement were lost), so that the event is delivered again.
type hookReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	refusing bool
	ackLoss  bool
	calls    []hookCall
	invalid  int
	seen     map[string]int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{seen: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !notify.Verify([]byte(itWebhookSecret), r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature),
		body, time.Now(), 5*time.Minute) {
		h.invalid++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if h.refusing {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var p notify.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.ID != r.Header.Get(notify.HeaderEventID) {
		h.invalid++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	c := hookCall{ID: p.ID, Type: p.Type, JobID: p.Job.ID, State: p.State, Previous: p.PreviousState, Status: http.StatusOK,
		Reason: p.Reason, Data: p.Data}
	if p.Health != nil {
		c.Health = p.Health.Status
	}
	h.seen[p.ID]++
	if h.ackLoss && h.seen[p.ID] == 1 {
		c.Status = http.StatusInternalServerError
	}
	h.calls = append(h.calls, c)
	w.WriteHeader(c.Status)
}

// snapshot returns the calls so far.
func (h *hookReceiver) snapshot() ([]hookCall, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...), h.invalid
}

// waitFor waits until a recorded, acknowledged call satisfies ok.
func (h *hookReceiver) waitFor(t *testing.T, what string, limit time.Duration, ok func(hookCall) bool) hookCall {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		calls, _ := h.snapshot()
		for _, c := range calls {
			if c.Status == http.StatusOK && ok(c) {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v; calls: %+v", what, limit, calls)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// notifyConfig is the configuration of a job gateway whose webhooks may call the test's receivers.
func notifyConfig(t *testing.T) (config.Config, *hdfstest.Root) {
	t.Helper()
	root := hdfstest.New(t)
	c := root.Cluster
	cfg := clusterConfig(t, root)
	cfg.Flink.Homes = []string{c.FlinkHome, c.Flink2Home}
	cfg.Flink.DefaultVersion = "1.20"
	cfg.Flink.LibRoot = "/user/" + c.User + "/it-flink"
	cfg.Jars.MaxSize = 64 << 20
	cfg.Notify.Secrets = map[string]config.Secret{"it": itWebhookSecret}
	cfg.Notify.AllowHosts = []string{"127.0.0.1"}
	cfg.Notify.MaxBackoff = 3 * time.Second // a receiver that refused for minutes is retried soon after it recovers
	cfg.Notify.MaxAttempts = 1000
	return cfg, root
}

// gatewayOn starts a gateway with cfg and stages the example jar.
func gatewayOn(t *testing.T, cfg config.Config, root *hdfstest.Root) (*jobGateway, *running) {
	t.Helper()
	r := start(t, cfg)
	g := &jobGateway{t: t, url: r.url, cluster: root.Cluster, root: root}
	jar, err := os.ReadFile(root.Cluster.ExampleJar)
	if err != nil {
		t.Fatalf("example jar (make example-jar): %v", err)
	}
	g.jarID = g.uploadJar(jar)
	return g, r
}

// submitKilledAtEnd submits a job; the test's end kills its application through the ResourceManager (the
// gateway that launched it may be gone by then).
func (g *jobGateway) submitKilledAtEnd(spec map[string]any) jobObj {
	g.t.Helper()
	status, j, _, body := g.do(http.MethodPost, "/v1/jobs", nil, spec)
	if status != http.StatusAccepted && status != http.StatusOK {
		g.t.Fatalf("submit = %d %s", status, body)
	}
	g.t.Cleanup(func() { g.killApp(j.ID) })
	return j
}

// rmAppState is YARN's state of an application.
func rmAppState(t *testing.T, g *jobGateway, id string) string {
	resp, err := http.Get(g.cluster.RMURL + "/ws/v1/cluster/apps/" + id)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var body struct {
		App struct {
			State string `json:"state"`
		} `json:"app"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return body.App.State
}

// TestNotifyWebhookAcrossRestart: a job's webhook sees every transition of the job, in order, signed, although
// the receiver refused every call while the first gateway ran, the job was killed while no gateway ran, and a
// second gateway (same registry) delivered; an event whose acknowledgement was lost comes again with its id.
func TestNotifyWebhookAcrossRestart(t *testing.T) {
	t.Parallel()
	cfg, root := notifyConfig(t)
	hook := newHookReceiver(t)
	hook.refusing = true
	cfg.Health.Interval = 2 * time.Second
	g, first := gatewayOn(t, cfg, root)
	// Flink 2 here (the restart-loop test runs both versions): the job checkpoints, so that its health shows
	// what the JobManager's checkpoint and backpressure answers say.
	j := g.submitKilledAtEnd(map[string]any{"name": "it-notify-restart", "jarId": g.jarID, "flinkVersion": "2",
		"args":          []string{"--mode", "unbounded", "--rate", "5"},
		"flinkConfig":   map[string]any{"execution.checkpointing.interval": "2 s"},
		"notifications": []map[string]any{{"url": hook.srv.URL + "/hook", "secret": "it", "events": []string{"state"}}}})
	if got := g.wait(j.ID, "RUNNING", 5*time.Minute); got.State != "RUNNING" {
		t.Fatalf("job %s is %s, want RUNNING", j.ID, got.State)
	}
	// Its health, from the JobManager: healthy, checkpointing, a completed checkpoint, a backpressure level.
	// Flink calls a job RUNNING before its TaskManager has a container: on a full cluster the first checkpoint
	// waits for one, hence the generous deadline.
	for deadline := time.Now().Add(6 * time.Minute); ; time.Sleep(time.Second) {
		var view struct {
			Health *struct {
				Status           string  `json:"status"`
				Checkpointing    bool    `json:"checkpointing"`
				LastCheckpointAt *string `json:"lastCheckpointAt"`
				Backpressure     *string `json:"backpressure"`
			} `json:"health"`
		}
		_, _, _, body := g.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil)
		json.Unmarshal([]byte(body), &view)
		if h := view.Health; h != nil && h.Status == "healthy" && h.Checkpointing && h.LastCheckpointAt != nil && h.Backpressure != nil {
			t.Logf("health: %s, last checkpoint %s, backpressure %s", h.Status, *h.LastCheckpointAt, *h.Backpressure)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health never showed a checkpoint and backpressure: %s", body)
		}
	}
	// Refused calls were made (the sender runs), and nothing was recorded.
	deadline := time.Now().Add(time.Minute)
	for {
		if m := scrape(t, g.url, "yarngate_notify_retries_total"); m > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first gateway never tried to deliver")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := first.wait(t, 2*time.Minute); err != nil {
		t.Fatalf("first gateway: %v", err)
	}
	// While no gateway runs, the job ends.
	g.killApp(j.ID)
	for deadline := time.Now().Add(2 * time.Minute); rmAppState(t, g, j.ID) != "KILLED"; time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("YARN did not kill %s", j.ID)
		}
	}
	hook.mu.Lock()
	hook.refusing, hook.ackLoss = false, true
	hook.mu.Unlock()
	began := time.Now()
	g2, _ := gatewayOn(t, cfg, root)
	if got := g2.wait(j.ID, "KILLED", 3*time.Minute); got.State != "KILLED" {
		t.Fatalf("job %s is %s after the restart, want KILLED", j.ID, got.State)
	}
	hook.waitFor(t, "KILLED notification", 5*time.Minute, func(c hookCall) bool { return c.JobID == j.ID && c.State == "KILLED" })
	t.Logf("second gateway delivered the KILLED notification %v after it started", time.Since(began).Round(time.Second))

	calls, invalid := hook.snapshot()
	if invalid != 0 {
		t.Errorf("%d calls with an invalid signature or body", invalid)
	}
	// Every transition, in order: a chain from the first state to KILLED without a gap.
	var chain []string
	prev, ids, first2 := "", map[string]string{}, map[string]bool{}
	for _, c := range calls {
		if c.JobID != j.ID || c.Type != "state" {
			continue
		}
		if s, ok := ids[c.ID]; ok && s != c.State {
			t.Errorf("event id %s carried %s and %s", c.ID, s, c.State)
		}
		ids[c.ID] = c.State
		if first2[c.ID] {
			continue // a redelivery
		}
		first2[c.ID] = true
		if c.Previous != prev {
			t.Errorf("event %s (%s) follows %q, but the previous delivered state was %q: a transition was lost", c.ID, c.State, c.Previous, prev)
		}
		prev = c.State
		chain = append(chain, c.State)
	}
	if prev != "KILLED" || len(chain) < 4 {
		t.Errorf("states delivered %v, want every state up to KILLED", chain)
	}
	// Every event was delivered twice (the first acknowledgement lost), with the same id.
	hook.mu.Lock()
	for id, n := range hook.seen {
		if n < 2 {
			t.Errorf("event %s (%s) seen %d times, want a redelivery with the same id", id, ids[id], n)
		}
	}
	hook.mu.Unlock()
	t.Logf("states delivered in order: %v (%d calls)", strings.Join(chain, " → "), len(calls))
}

// scrape reads one metric (summed over its labels) from a gateway's /metrics.
func scrape(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, name) || strings.HasPrefix(line, "#") {
			continue
		}
		rest := strings.TrimPrefix(line, name)
		if rest != "" && rest[0] != ' ' && rest[0] != '{' {
			continue
		}
		var v float64
		fields := strings.Fields(line)
		fmt.Sscan(fields[len(fields)-1], &v)
		sum += v
	}
	return sum
}

// TestNotifyRestartLoopTurnsUnhealthy: a job whose task fails at every attempt, under a fixed-delay restart
// strategy with many attempts, stays RUNNING for YARN and Flink but turns unhealthy within a bounded time, and
// a global webhook for health events hears of it.
func TestNotifyRestartLoopTurnsUnhealthy(t *testing.T) {
	t.Parallel()
	cfg, root := notifyConfig(t)
	hook := newHookReceiver(t)
	cfg.Health.Interval = 2 * time.Second
	cfg.Health.MaxRestarts = 3
	cfg.Health.RestartWindow = 10 * time.Minute
	cfg.Notify.Webhooks = []config.NotifyWebhook{{URL: hook.srv.URL, Secret: "it", Events: []string{"health"}}}
	g, _ := gatewayOn(t, cfg, root)
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			// The bounded job computes, then fails writing its result where nothing can be written (a
			// directory under /proc): every attempt fails the same way.
			j := g.submitKilledAtEnd(map[string]any{"name": "it-restart-loop-" + v, "jarId": g.jarID, "flinkVersion": v,
				"args": []string{"--mode", "bounded", "--n", "10", "--output", "file:///proc/yarngate-no-such-dir/out"},
				"flinkConfig": map[string]any{"restart-strategy.type": "fixed-delay",
					"restart-strategy.fixed-delay.attempts": 10000, "restart-strategy.fixed-delay.delay": "1 s"}})
			if got := g.wait(j.ID, "RUNNING", 5*time.Minute); got.State != "RUNNING" {
				t.Fatalf("job %s is %s, want RUNNING", j.ID, got.State)
			}
			running := time.Now()
			c := hook.waitFor(t, "unhealthy notification", 8*time.Minute, func(c hookCall) bool {
				return c.JobID == j.ID && c.Type == "health" && c.Health == "unhealthy"
			})
			t.Logf("unhealthy notification %s %v after RUNNING", c.ID, time.Since(running).Round(time.Second))
			var view struct {
				State  string `json:"state"`
				Health *struct {
					Status   string   `json:"status"`
					Reasons  []string `json:"reasons"`
					Restarts int      `json:"restarts"`
				} `json:"health"`
			}
			_, _, _, body := g.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil)
			json.Unmarshal([]byte(body), &view)
			if view.State == "RUNNING" && (view.Health == nil || view.Health.Status != "unhealthy" || view.Health.Restarts < 3) {
				t.Errorf("job %s health %+v, want unhealthy with 3 restarts or more", view.State, view.Health)
			} else if view.Health != nil {
				t.Logf("health %s, %d restarts: %v", view.Health.Status, view.Health.Restarts, view.Health.Reasons)
			}
			g.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true})
		})
	}
}
