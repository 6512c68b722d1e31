package testenv_test

import (
	"context"
	"fmt"
	"math/rand/v2"
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
// with both Flink versions, and the job's result lands in HDFS.
func TestFlinkCLIApplicationMode(t *testing.T) {
	c := testenv.Require(t)
	for _, tc := range []struct {
		name, home string
	}{
		{"flink-1.20", c.FlinkHome},
		{"flink-2", c.Flink2Home},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
			defer cancel()
			out := fmt.Sprintf("/user/%s/testenv-cli/%s-%d", c.User, tc.name, rand.Int64())
			t.Cleanup(func() { _ = c.DeleteHDFS(context.Background(), out) })

			const n = 2000
			appID, err := c.FlinkCLIRun(ctx, tc.home, "testenv-cli-"+tc.name, c.ExampleJar,
				"--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://"+out)
			if err != nil {
				t.Fatal(err)
			}
			app, err := c.WaitApp(ctx, appID)
			if err != nil {
				t.Fatal(err)
			}
			if app.State != "FINISHED" || app.FinalStatus != "SUCCEEDED" {
				t.Fatalf("%s ended %s/%s: %s", appID, app.State, app.FinalStatus, app.Diagnostics)
			}
			if app.User != c.User {
				t.Errorf("%s is owned by %q, want %q", appID, app.User, c.User)
			}
			got, err := c.ReadHDFS(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("count=%d sum=%d", n, n*(n+1)*(2*n+1)/6)
			if strings.TrimSpace(string(got)) != want {
				t.Fatalf("output %q, want %q", got, want)
			}
		})
	}
}
