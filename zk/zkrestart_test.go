package zk

import (
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yarngate/yarngate/testenv"
)

// TestWatcherSurvivesZooKeeperRestart stops a private ZooKeeper server (testenv.StartZooKeeper) and starts it
// again on the same port and data directory, with a Watcher, an RMLeaderTracker and a FlinkLeaders tracker on
// it. ZooKeeper restores sessions from its transaction log and restarts their timeouts, so a client that
// reconnects promptly keeps its session however long the server was down; to expire the session the test keeps
// the Watcher away (a refusing proxy) for longer than the session timeout after the restart.
func TestWatcherSurvivesZooKeeperRestart(t *testing.T) {
	const cluster, app = "yarngate-test", "application_1795269550607_0002"
	cases := []struct {
		name           string
		sessionTimeout time.Duration
		down           time.Duration // server stopped
		holdOff        time.Duration // the Watcher still cut off after the server is back
		newSession     bool
	}{
		{name: "short stop, session survives", sessionTimeout: 10 * time.Second, down: time.Second},
		{name: "long stop, session expires", sessionTimeout: 2 * time.Second, down: 3 * time.Second,
			holdOff: 5 * time.Second, newSession: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkNoGoroutineLeak(t)
			z := testenv.StartZooKeeper(t)
			admin := adminConn(t, z.Addr())
			root := testRoot(t, admin)
			px := startProxy(t, z.Addr())
			w, reg := newTestWatcher(t, Options{Servers: []string{px.addr()}, SessionTimeout: tc.sessionTimeout,
				ResyncInterval: -1})

			dir := RMElectionPath(root, cluster)
			lock := dir + "/" + LockZnode
			createAll(t, admin, lock, readVector(t, "rm-lock-rm1.bin"), zk.FlagEphemeral)
			jm := RESTLeaderPath(root+"/flink", app)
			createAll(t, admin, jm, readVector(t, "flink-1.20.3-rest-leader.bin"), zk.FlagEphemeral)

			rm, err := NewRMLeaderTracker(w, RMLeaderOptions{ClusterID: cluster, BasePath: root})
			if err != nil {
				t.Fatal(err)
			}
			fl, err := NewFlinkLeaders(w, FlinkLeadersOptions{Root: root + "/flink"})
			if err != nil {
				t.Fatal(err)
			}
			if err := fl.Watch(app); err != nil {
				t.Fatal(err)
			}
			leaders := func(rmID, jmAddr string) func() bool {
				return func() bool {
					r := rm.Leader()
					j, _ := fl.Leader(app)
					return r.Certain && r.ID == rmID && j.Certain && j.Known && j.Address == jmAddr
				}
			}
			uncertain := func() bool {
				j, _ := fl.Leader(app)
				return w.Session().State != StateConnected && !rm.Leader().Certain && !j.Certain
			}
			waitFor(t, 15*time.Second, "leaders rm1 and the 1.20.3 JobManager", leaders("rm1", "http://127.0.0.1:38301"))
			first := w.Session()
			transitions := func(s SessionState) float64 {
				return testutil.ToFloat64(w.metrics.sessionEvents.WithLabelValues(s.String()))
			}
			rearms := func() float64 { return testutil.ToFloat64(w.metrics.rearms) }
			// go-zookeeper goes straight from a session to "connecting" when the connection drops.
			lost := func() float64 { return transitions(StateDisconnected) + transitions(StateConnecting) }
			losses, connects, rearmsBefore := lost(), transitions(StateConnected), rearms()

			z.Stop()
			px.setRefuse(true)
			waitFor(t, 5*time.Second, "leaders uncertain while ZooKeeper is down", uncertain)
			if _, err := w.Get(t.Context(), lock); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Get while ZooKeeper is down = %v, want ErrUnavailable", err)
			}
			time.Sleep(tc.down)
			down := time.Now()
			z.Start()
			time.Sleep(tc.holdOff)
			if !uncertain() {
				t.Fatalf("leaders certain while the Watcher is cut off: session %+v", w.Session())
			}
			px.setRefuse(false)

			waitFor(t, 30*time.Second, "recovery: same leaders, certain", leaders("rm1", "http://127.0.0.1:38301"))
			s := w.Session()
			t.Logf("recovered %v after the restart began; session %+v", time.Since(down), s)
			if got := s.ID != first.ID; got != tc.newSession || s.Sessions != map[bool]int{false: 1, true: 2}[tc.newSession] {
				t.Errorf("session after the restart = %+v, first %+v; want a new session: %v", s, first, tc.newSession)
			}
			if got := lost() - losses; got < 1 {
				t.Errorf("session_transitions_total{state=disconnected|connecting} grew by %v, want >= 1", got)
			}
			if got := transitions(StateConnected) - connects; got < 1 {
				t.Errorf("session_transitions_total{state=connected} grew by %v, want >= 1", got)
			}
			if got, want := testutil.ToFloat64(w.metrics.newSessions), float64(s.Sessions); got != want {
				t.Errorf("sessions_established_total = %v, want %v", got, want)
			}
			// After an expiry every watch is gone with the session: the lock, the breadcrumb and the
			// JobManager znode must each have been re-armed. Within a session go-zookeeper restores them.
			if got := rearms() - rearmsBefore; tc.newSession && got < 3 {
				t.Errorf("watch_rearms_total grew by %v after the expiry, want >= 3", got)
			}

			// A change made after the restart is seen: rm2 takes over, a Flink 2.2.1 JobManager leads.
			rearmsRecovered := rearms()
			if err := admin.Delete(lock, -1); err != nil {
				t.Fatal(err)
			}
			createAll(t, admin, lock, readVector(t, "rm-lock-rm2.bin"), zk.FlagEphemeral)
			if _, err := admin.Set(jm, readVector(t, "flink-2.2.1-rest-leader.bin"), -1); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "leaders rm2 and the 2.2.1 JobManager", leaders("rm2", "http://127.0.0.1:40995"))
			if got := rearms() - rearmsRecovered; got < 2 {
				t.Errorf("watch_rearms_total grew by %v after the changes, want >= 2", got)
			}
			for kind, want := range map[string]float64{rmLeaderKind: 1, jobManagerLeaderKind: 1} {
				if got := testutil.ToFloat64(w.metrics.leaderChanges.WithLabelValues(kind)); got != want {
					t.Errorf("leader_changes_total{kind=%s} = %v, want %v", kind, got, want)
				}
			}
			if n, err := testutil.GatherAndCount(reg, "yarngate_zk_session_transitions_total"); err != nil || n == 0 {
				t.Errorf("session transitions not exported on the registry: %d series, %v", n, err)
			}

			rm.Close()
			fl.Close()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			// checkNoGoroutineLeak verifies at cleanup that every goroutine is gone.
		})
	}
}
