package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
)

// These tests prove the job core's promises on the real cluster, for Flink 1.20 and 2.x: a job is FINISHED
// only when YARN's final status says so, an application may run several Flink jobs, and a launch that
// reached the ResourceManager outlives a client that went away.

// jobCoreView is the part of the job object these tests read beyond jobObj.
type jobCoreView struct {
	State    string `json:"state"`
	Terminal bool   `json:"terminal"`
	YARN     struct {
		State       string `json:"state"`
		FinalStatus string `json:"finalStatus"`
	} `json:"yarn"`
	Flink struct {
		JobID   string  `json:"jobId"`
		State   *string `json:"state"`
		Failure *string `json:"failure"`
		Jobs    []struct {
			ID    string `json:"id"`
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"jobs"`
	} `json:"flink"`
}

func (g *jobGateway) view(id string) jobCoreView {
	g.t.Helper()
	status, _, _, body := g.do(http.MethodGet, "/v1/jobs/"+id, nil, nil)
	if status != http.StatusOK {
		g.t.Fatalf("GET %s = %d %s", id, status, body)
	}
	var v jobCoreView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		g.t.Fatal(err)
	}
	return v
}

// TestJobMainFailsAfterItsJobFinished: main() throws after its Flink job finished. The job is FAILED with
// main()'s failure, and no poll (every 200 ms through the run) ever shows it FINISHED.
func TestJobMainFailsAfterItsJobFinished(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			out := g.hdfsPath("late-" + v)
			j := g.submit(g.spec("it-late-failure-"+v, v, "--mode", "bounded", "--n", "2000", "--output", "hdfs://"+out,
				"--then-fail", "summary step failed on purpose"), nil)
			seen := map[string]int{}
			var order []string
			deadline := time.Now().Add(6 * time.Minute)
			var last jobCoreView
			for polls := 0; ; polls++ {
				last = g.view(j.ID)
				if seen[last.State] == 0 {
					order = append(order, fmt.Sprintf("%s(flink %s, yarn %s/%s)", last.State, deref(last.Flink.State), last.YARN.State, last.YARN.FinalStatus))
				}
				seen[last.State]++
				if last.State == "FINISHED" {
					t.Fatalf("poll %d shows FINISHED (yarn %s/%s); states so far %v", polls, last.YARN.State, last.YARN.FinalStatus, order)
				}
				if last.Terminal || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Logf("states seen: %v", order)
			if last.State != "FAILED" {
				t.Fatalf("ended %s, want FAILED", last.State)
			}
			// The Flink job did finish: its output is there.
			if got, want := strings.TrimSpace(readHDFS(t, g.cluster, out)), fmt.Sprintf("count=2000 sum=%d", sumOfSquares(2000)); got != want {
				t.Errorf("result %q, want %q", got, want)
			}
			// main()'s failure is found in the JobManager log after YARN ended the application, and the Flink
			// job's end in its archive when the JobManager was last asked before the job ended.
			for until := time.Now().Add(3 * time.Minute); ; time.Sleep(time.Second) {
				last = g.view(j.ID)
				if last.State == "FINISHED" {
					t.Fatal("FINISHED after FAILED")
				}
				if last.Flink.Failure != nil && deref(last.Flink.State) != "RUNNING" || time.Now().After(until) {
					break
				}
			}
			if last.Flink.Failure == nil || !strings.Contains(*last.Flink.Failure, "summary step failed on purpose") {
				t.Fatalf("flink.failure = %v, want main()'s exception", deref(last.Flink.Failure))
			}
			// The Flink job itself finished; the application failed. The gateway learns the job's end from the
			// JobManager (asked every few seconds) or, once the cluster is gone, from the job's archive. A
			// JobManager that exits right after the job ended may not have written the archive (it does so as
			// the job ends, asynchronously, and main() may throw a few milliseconds after): then nothing tells
			// the job's end, and flink.state stays what the JobManager last said. An empty archive is one the
			// JobManager created and never wrote (its shutdown refused the HDFS client's hook: "Shutdown in
			// progress"). An archive with content there that the gateway did not take is a bug.
			if last.YARN.State != "FAILED" {
				t.Errorf("yarn %s/%s, want the application FAILED", last.YARN.State, last.YARN.FinalStatus)
			}
			if got := deref(last.Flink.State); got != "FINISHED" {
				archive := strings.TrimPrefix(g.hdfsPath("archive/"+last.Flink.JobID), "hdfs://")
				st, err := g.cluster.StatHDFS(t.Context(), archive)
				switch {
				case err == nil && st.Length > 0:
					t.Errorf("flink.state %s although the job's archive is there (%s, %d bytes): want FINISHED", got, archive, st.Length)
				case got != "RUNNING":
					t.Errorf("flink.state %s without an archive, want the JobManager's last answer, RUNNING", got)
				case err == nil:
					t.Logf("the JobManager exited while it archived the job (%s is empty): flink.state stays RUNNING", archive)
				default:
					t.Logf("the JobManager exited before it archived the job (%v): flink.state stays RUNNING", err)
				}
			}
			t.Logf("failure %q, flink state %s, yarn %s/%s", *last.Flink.Failure, deref(last.Flink.State), last.YARN.State, last.YARN.FinalStatus)
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// TestJobMultipleJobs: an application whose main() runs two Flink jobs one after another FINISHES, listing
// both; asking for JobManager HA through flinkConfig (with several jobs or not) is refused.
func TestJobMultipleJobs(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	bad := g.spec("it-multi-ha", "1.20", "--mode", "bounded")
	bad["multipleJobs"] = true
	bad["flinkConfig"] = map[string]any{"high-availability.type": "zookeeper"}
	if status, _, e, body := g.do(http.MethodPost, "/v1/jobs", nil, bad); status != http.StatusBadRequest ||
		e.Error.Code != "invalid_spec" || len(e.Error.Details) == 0 || e.Error.Details[0].Field != "flinkConfig.high-availability.type" {
		t.Fatalf("multipleJobs with HA = %d %s", status, body)
	}
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			out := g.hdfsPath("multi-" + v)
			spec := g.spec("it-multi-"+v, v, "--mode", "bounded", "--n", "1000", "--jobs", "2", "--output", "hdfs://"+out)
			spec["multipleJobs"] = true
			j := g.submit(spec, nil)
			j = g.wait(j.ID, "FINISHED", 6*time.Minute)
			got := g.view(j.ID)
			if got.State != "FINISHED" || got.YARN.FinalStatus != "SUCCEEDED" {
				t.Fatalf("ended %s (yarn %s/%s)", got.State, got.YARN.State, got.YARN.FinalStatus)
			}
			names := map[string]string{}
			for _, fj := range got.Flink.Jobs {
				names[fj.Name] = fj.State
			}
			if len(got.Flink.Jobs) != 2 || names["sum-1"] != "FINISHED" || names["sum-2"] != "FINISHED" || got.Flink.JobID != got.Flink.Jobs[0].ID {
				t.Fatalf("flink.jobs = %+v (jobId %s), want sum-1 and sum-2 FINISHED", got.Flink.Jobs, got.Flink.JobID)
			}
			for i := 1; i <= 2; i++ {
				if got, want := strings.TrimSpace(readHDFS(t, g.cluster, fmt.Sprintf("%s-%d", out, i))), fmt.Sprintf("count=1000 sum=%d", sumOfSquares(1000)); got != want {
					t.Errorf("job %d result %q, want %q", i, got, want)
				}
			}
		})
	}
}

// rmGate is a proxy in front of the ResourceManager that holds the answer to each application submission
// for a while after the ResourceManager accepted it, and says when it did, by application name (tests that
// share a gateway run in parallel: each must wait for its own submission, not another's).
type rmGate struct {
	hold time.Duration

	mu       sync.Mutex
	accepted map[string]chan struct{} // by application name: closed once the ResourceManager accepted it
}

// acceptedCh is the channel closed when the submission of the application of this name was accepted.
func (g *rmGate) acceptedCh(name string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, ok := g.accepted[name]
	if !ok {
		ch = make(chan struct{})
		g.accepted[name] = ch
	}
	return ch
}

// accept says that the submission of the application of this name was accepted (again: no more to say).
func (g *rmGate) accept(name string) {
	ch := g.acceptedCh(name)
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func startRMGate(t *testing.T, rmURL string, hold time.Duration) (*rmGate, string) {
	t.Helper()
	target, err := url.Parse(rmURL)
	if err != nil {
		t.Fatal(err)
	}
	g := &rmGate{accepted: map[string]chan struct{}{}, hold: hold}
	submission := func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/ws/v1/cluster/apps")
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		if !submission(pr.Out) || pr.Out.Body == nil {
			return
		}
		// The submission's application name, kept for ModifyResponse; the body is restored for the RM.
		body, _ := io.ReadAll(pr.Out.Body)
		pr.Out.Body.Close()
		pr.Out.Body = io.NopCloser(bytes.NewReader(body))
		var sub struct {
			Name string `json:"application-name"`
		}
		_ = json.Unmarshal(body, &sub)
		pr.Out = pr.Out.WithContext(context.WithValue(pr.Out.Context(), gateNameKey{}, sub.Name))
	}}
	proxy.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		if submission(r) && resp.StatusCode == http.StatusAccepted {
			name, _ := r.Context().Value(gateNameKey{}).(string)
			g.accept(name)
			time.Sleep(g.hold)
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return g, srv.URL
}

// gateNameKey keys a submission's application name in its request's context (rmGate).
type gateNameKey struct{}

// TestJobLaunchOutlivesItsClient: a client that disconnects right after the ResourceManager accepted its
// application does not cut the launch short: the job runs to its end, and a retry with the same
// Idempotency-Key returns it (one YARN application).
func TestJobLaunchOutlivesItsClient(t *testing.T) {
	t.Parallel()
	var gate *rmGate
	g := startJobGatewayWith(t, func(cfg *config.Config, root *hdfstest.Root) {
		var u string
		gate, u = startRMGate(t, root.Cluster.RMURL, 3*time.Second)
		cfg.YARN.RMURLs = []string{u}
	})
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			out := g.hdfsPath("outlive-" + v)
			key := fmt.Sprintf("it-outlive-%s-%d", v, time.Now().UnixNano())
			spec := g.spec(key, v, "--mode", "bounded", "--n", "1500", "--output", "hdfs://"+out)
			body, _ := json.Marshal(spec)
			ctx, cancel := context.WithCancel(t.Context())
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.url+"/v1/jobs", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			var wg sync.WaitGroup
			var clientErr error
			wg.Go(func() {
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
					clientErr = fmt.Errorf("the client got an answer (%d) before it disconnected", resp.StatusCode)
				}
			})
			select {
			case <-gate.acceptedCh(key): // the ResourceManager accepted this application; its answer is held
			case <-time.After(3 * time.Minute):
				t.Fatal("no submission reached the ResourceManager")
			}
			cancel() // the client goes away
			wg.Wait()
			if clientErr != nil {
				t.Fatal(clientErr)
			}
			// The retry waits for the launch under way and answers with its job.
			var j jobObj
			for until := time.Now().Add(2 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
				status, got, _, raw := g.do(http.MethodPost, "/v1/jobs", map[string]string{"Idempotency-Key": key}, spec)
				if status == http.StatusOK {
					j = got
					break
				}
				if status != http.StatusAccepted && status >= 300 || time.Now().After(until) {
					t.Fatalf("retry = %d %s, want 200 with the launched job", status, raw)
				}
				if status == http.StatusAccepted {
					t.Fatalf("the retry launched again: %s", raw)
				}
			}
			t.Cleanup(func() { g.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true}) })
			j = g.wait(j.ID, "FINISHED", 6*time.Minute)
			if j.State != "FINISHED" {
				t.Fatalf("the job of a client that went away ended %s (%s)", j.State, j.YARN.Diagnostics)
			}
			if got, want := strings.TrimSpace(readHDFS(t, g.cluster, out)), fmt.Sprintf("count=1500 sum=%d", sumOfSquares(1500)); got != want {
				t.Errorf("result %q, want %q", got, want)
			}
			// Exactly one application was launched for the key (its name is unique).
			if n := g.countApps(t, key); n != 1 {
				t.Fatalf("YARN has %d applications named %s, want 1", n, key)
			}
		})
	}
}
