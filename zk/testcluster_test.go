package zk

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
