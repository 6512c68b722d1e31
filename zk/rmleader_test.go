package zk

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// leaderLog records what an OnChange callback received.
type leaderLog[L any] struct {
	mu   sync.Mutex
	seen []L
	sig  chan struct{}
}

func newLeaderLog[L any]() *leaderLog[L] { return &leaderLog[L]{sig: make(chan struct{}, 1)} }

func (l *leaderLog[L]) add(v L) {
	l.mu.Lock()
	l.seen = append(l.seen, v)
	l.mu.Unlock()
	select {
	case l.sig <- struct{}{}:
	default:
	}
}

func (l *leaderLog[L]) all() []L {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]L(nil), l.seen...)
}

// waitLast waits until the last value handed to OnChange satisfies cond, and returns it.
func (l *leaderLog[L]) waitLast(t *testing.T, timeout time.Duration, what string, cond func(L) bool) L {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if s := l.all(); len(s) > 0 && cond(s[len(s)-1]) {
			return s[len(s)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; OnChange saw %+v", timeout, what, l.all())
		}
		select {
		case <-l.sig:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestRMLeaderTracker(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := testRoot(t, admin)
	w, reg := newTestWatcher(t, Options{Servers: []string{server}})
	log := newLeaderLog[RMLeader]()
	tr, err := NewRMLeaderTracker(w, RMLeaderOptions{ClusterID: "yarngate-test", BasePath: root, OnChange: log.add})
	if err != nil {
		t.Fatal(err)
	}
	dir := RMElectionPath(root, "yarngate-test")
	lock, crumb := dir+"/"+LockZnode, dir+"/"+BreadCrumbZnode

	log.waitLast(t, 10*time.Second, "no leader yet", func(l RMLeader) bool {
		return l.Certain && l.ID == "" && l.Source == SourceNone
	})

	// rm1 wins the election: its session holds the ephemeral lock; it writes the breadcrumb after fencing.
	rm1 := adminConn(t, server)
	createAll(t, rm1, lock, readVector(t, "rm-lock-rm1.bin"), zk.FlagEphemeral)
	createAll(t, admin, crumb, readVector(t, "rm-breadcrumb-rm1.bin"), 0)
	l := log.waitLast(t, 5*time.Second, "rm1 active", func(l RMLeader) bool {
		return l.Certain && l.ID == "rm1" && l.LastActive == "rm1"
	})
	if l.Source != SourceLock || l.ClusterID != "yarngate-test" || l.Since.IsZero() || l.Err != nil {
		t.Errorf("rm1 leader = %+v", l)
	}
	if got := tr.Leader(); got.ID != "rm1" || !got.Certain {
		t.Errorf("Leader() = %+v", got)
	}

	// rm1 dies: its session ends and the lock with it; the breadcrumb still names rm1.
	rm1.Close()
	log.waitLast(t, 5*time.Second, "lock gone", func(l RMLeader) bool {
		return l.Certain && l.ID == "" && l.Source == SourceBreadCrumb && l.LastActive == "rm1"
	})

	// rm2 wins.
	rm2 := adminConn(t, server)
	createAll(t, rm2, lock, readVector(t, "rm-lock-rm2.bin"), zk.FlagEphemeral)
	if _, err := admin.Set(crumb, readVector(t, "rm-lock-rm2.bin"), -1); err != nil {
		t.Fatal(err)
	}
	log.waitLast(t, 5*time.Second, "rm2 active", func(l RMLeader) bool {
		return l.Certain && l.ID == "rm2" && l.LastActive == "rm2" && l.Source == SourceLock
	})
	if got := metricValue(t, reg, "yarngate_zk_leader_changes_total"); got != 1 {
		t.Errorf("leader_changes_total = %v, want 1 (rm1 -> rm2)", got)
	}

	// A lock from another cluster, then an undecodable one: uncertain, with the reason.
	rm2.Close()
	other := adminConn(t, server)
	createAll(t, other, lock, rmInfo(str(1, "other-cluster"), str(2, "rmX")), zk.FlagEphemeral)
	l = log.waitLast(t, 5*time.Second, "cluster mismatch", func(l RMLeader) bool { return errors.Is(l.Err, ErrClusterMismatch) })
	if l.Certain || l.ID != "" {
		t.Errorf("mismatched leader = %+v", l)
	}
	if _, err := other.Set(lock, []byte{0x0a, 0x7f}, -1); err != nil {
		t.Fatal(err)
	}
	l = log.waitLast(t, 5*time.Second, "decode error", func(l RMLeader) bool { return errors.Is(l.Err, ErrDecode) })
	if l.Certain {
		t.Errorf("undecodable leader is certain: %+v", l)
	}

	var ids []string
	for _, l := range log.all() {
		if l.Certain && l.ID != "" && (len(ids) == 0 || ids[len(ids)-1] != l.ID) {
			ids = append(ids, l.ID)
		}
	}
	if len(ids) != 2 || ids[0] != "rm1" || ids[1] != "rm2" {
		t.Errorf("OnChange saw leaders %v, want [rm1 rm2]", ids)
	}
	tr.Close()
	tr.Close()
}

func TestRMLeaderTrackerOptions(t *testing.T) {
	w, err := New(Options{Servers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := NewRMLeaderTracker(w, RMLeaderOptions{}); err == nil {
		t.Error("no cluster id accepted")
	}
	if _, err := NewRMLeaderTracker(w, RMLeaderOptions{ClusterID: "c", BasePath: "relative"}); err == nil {
		t.Error("relative base path accepted")
	}
	tr, err := NewRMLeaderTracker(w, RMLeaderOptions{ClusterID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tr.lock.p.path, "/yarn-leader-election/c/ActiveStandbyElectorLock"; got != want {
		t.Errorf("lock path = %s, want %s", got, want)
	}
	if l := tr.Leader(); l.Certain {
		t.Errorf("leader without ZooKeeper = %+v, want uncertain", l)
	}
	w.Close()
	tr.Close() // after the Watcher's Close: returns at once
	if _, err := NewRMLeaderTracker(w, RMLeaderOptions{ClusterID: "c"}); !errors.Is(err, ErrClosed) {
		t.Errorf("NewRMLeaderTracker on a closed Watcher = %v", err)
	}
}
