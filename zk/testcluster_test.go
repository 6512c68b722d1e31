package zk

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/yarngate/yarngate/testenv"
)

// cluster runs testenv/cluster.sh COMMAND against the running test cluster, whichever run directory and ports
// it was started with (derived from its cluster.env).
func cluster(t *testing.T, c *testenv.Cluster, command string) {
	t.Helper()
	env := []string{"YARNGATE_RUN_DIR=" + c.Env["YARNGATE_CLUSTER_RUN_DIR"]}
	if c.Env["YARNGATE_HA"] == "1" {
		env = append(env, "HA=1")
	}
	for key, addr := range map[string]string{
		"YARNGATE_TE_RM_WEB_PORT":  c.RMURL,
		"YARNGATE_TE_NN_HTTP_PORT": c.WebHDFSURL,
		"YARNGATE_TE_NN_PORT":      "tcp://" + c.NameNode,
		"YARNGATE_TE_ZK_PORT":      "tcp://" + c.ZooKeeper,
	} {
		if u, err := url.Parse(addr); err == nil && u.Port() != "" {
			env = append(env, key+"="+u.Port())
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join("..", "testenv", "cluster.sh"), command)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cluster.sh %s: %v\n%s", command, err, out)
	}
	t.Logf("cluster.sh %s:\n%s", command, strings.TrimSpace(string(out)))
}

// stopZooKeeper stops the test cluster's ZooKeeper server (SIGTERM to its process group, as cluster.sh down
// does) and waits until its port refuses connections.
func stopZooKeeper(t *testing.T, c *testenv.Cluster) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.Env["YARNGATE_CLUSTER_RUN_DIR"], "pids", "zk.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 1 {
		t.Fatalf("zk.pid: %q", raw)
	}
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "ZooKeeper to stop", func() bool {
		conn, err := net.DialTimeout("tcp", c.ZooKeeper, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return false
		}
		return syscall.Kill(pid, 0) != nil
	})
}
