package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/testenv"
)

// TestLogTailInBrowser runs the job page's script in headless Chromium against a fake logs API (the contract
// of GET /v1/jobs/{id}/logs and .../logs/{containerId}/{file}?offset=-65536): the JobManager's
// jobmanager.log is shown as text (markup in it stays text), and a job whose logs API answers 404 says the log
// is not available while the rest of its page stays. It needs chromium only, no cluster.
func TestLogTailInBrowser(t *testing.T) {
	chromium := testenv.RequireChromium(t)
	withLogs, without := testJob(1, "alice", api.StateRunning), testJob(2, "alice", api.StateFinished)
	d := newTestDashboard(t, &fakeJobs{jobs: []api.Job{withLogs, without}})
	const logText = "2026-01-01 INFO  Starting StandaloneApplicationClusterEntryPoint\n<script>window.injected = 1</script>\nthe last line\n"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/jobs/"+withLogs.ID+"/logs", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"containers": []map[string]any{
			{"containerId": "container_1_0001_01_000002", "role": "taskmanager", "files": []map[string]any{{"name": "taskmanager.log", "size": 10}}},
			{"containerId": "container_1_0001_01_000001", "role": "jobmanager", "files": []map[string]any{{"name": "jobmanager.out", "size": 0}, {"name": "jobmanager.log", "size": 99}}},
		}})
	})
	var offsets []string
	mux.HandleFunc("GET /v1/jobs/"+withLogs.ID+"/logs/container_1_0001_01_000001/jobmanager.log", func(w http.ResponseWriter, r *http.Request) {
		offsets = append(offsets, r.URL.Query().Get("offset"))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(logText))
	})
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"code":"not_found"}}`, http.StatusNotFound)
	})
	mux.Handle("/ui/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.ServeHTTP(w, r.WithContext(authn.WithPrincipal(r.Context(), authn.Principal{Name: "alice", User: "alice", Method: authn.MethodToken})))
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]), chromedp.ExecPath(chromium), chromedp.Flag("disable-dev-shm-usage", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil { // starts the browser: no timeout
		t.Fatalf("start chromium: %v", err)
	}
	settled := `(() => { const s = document.querySelector("#log-status").textContent; return s.startsWith("Loading") ? null : s; })()`
	for _, tc := range []struct {
		name, id, wantStatus, wantLog string
	}{
		{"log", withLogs.ID, "jobmanager.log of container_1_0001_01_000001 (last 64 KiB)", logText},
		{"no logs API", without.ID, "The log is not available: the logs API answered 404.", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, stop := context.WithTimeout(ctx, time.Minute)
			defer stop()
			// The poll below evaluates in the page's execution context: wait for the new document's element first,
			// so that it does not use the context of the document the navigation replaced.
			if _, err := chromedp.Run(run, chromedp.Steps(chromedp.Navigate(srv.URL+"/ui/jobs/"+tc.id), chromedp.WaitVisible(chromedp.CSS("#log-status")))); err != nil {
				t.Fatal(err)
			}
			status, err := chromedp.Run(run, chromedp.Poll[string](settled, chromedp.WithPollingInterval(100*time.Millisecond)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := chromedp.Run(run, chromedp.Evaluate[string](`document.querySelector("#log").hidden ? "" : document.querySelector("#log").textContent`))
			if err != nil {
				t.Fatal(err)
			}
			page, err := chromedp.Run(run, chromedp.Evaluate[string](`[document.querySelector("#job-state").textContent, String(window.injected || 0), String(document.querySelectorAll("#log script").length)].join(" ")`))
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.wantStatus || got != tc.wantLog || !strings.HasSuffix(page, " 0 0") {
				t.Errorf("status %q, log %q, page %q; want %q, %q", status, got, page, tc.wantStatus, tc.wantLog)
			}
		})
	}
	if !slices.Equal(offsets, []string{"-65536"}) {
		t.Errorf("the log was asked for at offsets %v, want [-65536]", offsets)
	}
}
