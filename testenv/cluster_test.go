package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/testenv"
)

func TestClusterAnswers(t *testing.T) {
	c := testenv.Require(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	t.Run("resourcemanager", func(t *testing.T) {
		info, err := c.ClusterInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info["state"] != "STARTED" {
			t.Fatalf("RM state = %v, want STARTED", info["state"])
		}
	})
	t.Run("webhdfs round trip", func(t *testing.T) {
		path := fmt.Sprintf("/user/%s/testenv-%d", c.User, rand.Int64())
		want := []byte("written through WebHDFS\n")
		if err := c.WriteHDFS(ctx, path, want); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.DeleteHDFS(context.Background(), path) })
		got, err := c.ReadHDFS(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("read back %q, want %q", got, want)
		}
	})
	t.Run("zookeeper", func(t *testing.T) {
		got, err := c.ZooKeeperRUOK(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != "imok" {
			t.Fatalf("ruok answered %q, want imok", got)
		}
	})
}

// TestFlinkCLIApplicationMode proves the cluster is real: Flink's own CLI runs the example job in application mode
// with both Flink versions, and the job's result lands in HDFS. It also pins down what Flink itself does, without
// JobManager HA, with the example's application-mode cases: a main() that runs two jobs one after another ends
// FINISHED/SUCCEEDED with both outputs, and a main() that throws after its job finished ends FAILED in YARN.
// The versions run in parallel, the cases of one version one after another (two applications at a time).
func TestFlinkCLIApplicationMode(t *testing.T) {
	c := testenv.Require(t)
	const n = 2000
	sum := fmt.Sprintf("count=%d sum=%d", n, n*(n+1)*(2*n+1)/6)
	for _, v := range []struct {
		name, home string
	}{
		{"flink-1.20", c.FlinkHome},
		{"flink-2", c.Flink2Home},
	} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name string
				args []string
				// state and final are YARN's verdict; outputs are the suffixes of the output path each job writes.
				state, final string
				outputs      []string
			}{
				{"bounded", nil, "FINISHED", "SUCCEEDED", []string{""}},
				{"two jobs", []string{"--jobs", "2"}, "FINISHED", "SUCCEEDED", []string{"-1", "-2"}},
				{"main fails after its job finished", []string{"--then-fail", "failing after the job (--then-fail)"},
					"FAILED", "FAILED", []string{""}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
					defer cancel()
					out := fmt.Sprintf("/user/%s/testenv-cli/%s-%d", c.User, v.name, rand.Int64())
					t.Cleanup(func() {
						for _, suffix := range tc.outputs {
							_ = c.DeleteHDFS(context.Background(), out+suffix)
						}
					})

					start := time.Now()
					args := append([]string{"--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://" + out}, tc.args...)
					appID, err := c.FlinkCLIRun(ctx, v.home, "testenv-cli-"+v.name, c.ExampleJar, args...)
					if err != nil {
						t.Fatal(err)
					}
					jobs := watchFlinkJobs(ctx, c, appID)
					app, err := c.WaitApp(ctx, appID)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("%s ended %s/%s after %s; Flink jobs seen: %v", appID, app.State, app.FinalStatus,
						time.Since(start).Round(time.Second), <-jobs)
					if app.State != tc.state || app.FinalStatus != tc.final {
						t.Fatalf("%s ended %s/%s, want %s/%s: %s", appID, app.State, app.FinalStatus, tc.state, tc.final,
							app.Diagnostics)
					}
					if app.User != c.User {
						t.Errorf("%s is owned by %q, want %q", appID, app.User, c.User)
					}
					for _, suffix := range tc.outputs {
						got, err := c.ReadHDFS(ctx, out+suffix)
						if err != nil {
							t.Fatal(err)
						}
						if strings.TrimSpace(string(got)) != sum {
							t.Fatalf("output %s: %q, want %q", out+suffix, got, sum)
						}
					}
				})
			}
		})
	}
}

// watchFlinkJobs polls the application's JobManager (through the ResourceManager's proxy) until the application
// has ended and then sends the last state seen of every Flink job, as "name:STATE", for the test log. It only
// reports: a JobManager that shuts down right after its last job may not be seen at all.
func watchFlinkJobs(ctx context.Context, c *testenv.Cluster, appID string) <-chan []string {
	ch := make(chan []string, 1)
	go func() {
		seen := map[string]string{}
		var order []string
		defer func() {
			list := make([]string, 0, len(order))
			for _, id := range order {
				list = append(list, seen[id])
			}
			ch <- list
		}()
		for ctx.Err() == nil {
			app, err := c.App(ctx, appID)
			if err == nil && app.Terminal() {
				return
			}
			if err == nil && app.State == "RUNNING" && app.TrackingURL != "" {
				var overview struct {
					Jobs []struct {
						JID   string `json:"jid"`
						Name  string `json:"name"`
						State string `json:"state"`
					} `json:"jobs"`
				}
				if getJSON(ctx, strings.TrimSuffix(app.TrackingURL, "/")+"/jobs/overview", &overview) == nil {
					for _, j := range overview.Jobs {
						if _, ok := seen[j.JID]; !ok {
							order = append(order, j.JID)
						}
						seen[j.JID] = j.Name + ":" + j.State
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	return ch
}

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
