package zk

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/yarngate/yarngate/testenv"
)

// TestWatcherSurvivesZooKeeperRestart stops the test cluster's ZooKeeper server and starts it again. It runs
// only with YARNGATE_TEST_ZK_RESTART=1, because every other test using that server would fail meanwhile: run
// it against a private cluster (YARNGATE_CLUSTER_ENV pointing at that cluster's cluster.env).
func TestWatcherSurvivesZooKeeperRestart(t *testing.T) {
	c := testenv.Require(t)
	if os.Getenv("YARNGATE_TEST_ZK_RESTART") != "1" {
		t.Skip("stops the cluster's ZooKeeper: set YARNGATE_TEST_ZK_RESTART=1 on a private test cluster")
	}
	checkNoGoroutineLeak(t)
	admin := adminConn(t, c.ZooKeeper)
	root := testRoot(t, admin)
	createAll(t, admin, root+"/n", []byte("before"), 0)
	w, reg := newTestWatcher(t, Options{Servers: []string{c.ZooKeeper}, SessionTimeout: 15 * time.Second, ResyncInterval: -1})
	notify, sig := signal()
	h, err := w.Watch(root+"/n", notify)
	if err != nil {
		t.Fatal(err)
	}
	waitNode(t, h, sig, 10*time.Second, "before", hasData("before"))

	stopZooKeeper(t, c)
	waitNode(t, h, sig, 10*time.Second, "uncertain while ZooKeeper is down", func(n Node) bool { return !n.Certain })
	if _, err := w.Get(t.Context(), root+"/n"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get while ZooKeeper is down = %v, want ErrUnavailable", err)
	}
	down := time.Now()
	cluster(t, c, "up") // starts what is not running: ZooKeeper
	waitNode(t, h, sig, 60*time.Second, "certain again", hasData("before"))
	t.Logf("certain again %v after the restart began; session %+v", time.Since(down), w.Session())
	if _, err := admin.Set(root+"/n", []byte("after"), -1); err != nil {
		t.Fatal(err)
	}
	waitNode(t, h, sig, 10*time.Second, "a change after the restart", hasData("after"))
	t.Logf("sessions established: %v, watch re-arms: %v", metricValue(t, reg, "yarngate_zk_sessions_established_total"),
		metricValue(t, reg, "yarngate_zk_watch_rearms_total"))
}
