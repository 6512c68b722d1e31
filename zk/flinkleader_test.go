package zk

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func TestRESTLeaderPath(t *testing.T) {
	const suffix = "/leader/rest_server/connection_info"
	cases := []struct{ root, cluster, want string }{
		{"/flink", "application_1700000000000_0001", "/flink/application_1700000000000_0001" + suffix},
		{"/flink/", "/application_1/", "/flink/application_1" + suffix},
		{"flink", "default", "/flink/default" + suffix},
		{"/", "/default", "/default" + suffix},
		{"/a/b", "c/d", "/a/b/c/d" + suffix},
	}
	for _, c := range cases {
		if got := RESTLeaderPath(c.root, c.cluster); got != c.want {
			t.Errorf("RESTLeaderPath(%q, %q) = %s, want %s", c.root, c.cluster, got, c.want)
		}
	}
}

type clusterLeader struct {
	id string
	l  JobManagerLeader
}

func TestFlinkLeaders(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := testRoot(t, admin) + "/flink"
	w, reg := newTestWatcher(t, Options{Servers: []string{server}})
	log := newLeaderLog[clusterLeader]()
	f, err := NewFlinkLeaders(w, FlinkLeadersOptions{Root: root, OnChange: func(id string, l JobManagerLeader) {
		log.add(clusterLeader{id, l})
	}})
	if err != nil {
		t.Fatal(err)
	}
	const a, b = "application_1795269550607_0002", "application_1795269550607_0003"
	for _, id := range []string{a, b, a} {
		if err := f.Watch(id); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.Clusters(); !slices.Equal(got, []string{a, b}) {
		t.Errorf("Clusters = %v", got)
	}
	// waitLeader waits until both the last OnChange call for id and Leader(id) satisfy cond.
	waitLeader := func(id, what string, cond func(JobManagerLeader) bool) JobManagerLeader {
		t.Helper()
		var last JobManagerLeader
		waitFor(t, 10*time.Second, id+": "+what, func() bool {
			seen := false
			for _, c := range log.all() {
				if c.id == id {
					last, seen = c.l, true
				}
			}
			live, ok := f.Leader(id)
			return seen && cond(last) && ok && cond(live)
		})
		return last
	}
	for _, id := range []string{a, b} {
		waitLeader(id, "no leader yet", func(l JobManagerLeader) bool { return l.Certain && !l.Known })
	}

	// A JobManager (its own session) becomes leader of a, writing what Flink 1.20.3 wrote on the test cluster.
	jm := adminConn(t, server)
	pa := RESTLeaderPath(root, a)
	createAll(t, jm, pa, readVector(t, "flink-1.20.3-rest-leader.bin"), zk.FlagEphemeral)
	l := waitLeader(a, "leader", func(l JobManagerLeader) bool { return l.Certain && l.Known })
	if l.Address != "http://127.0.0.1:38301" || l.SessionID.String() != "5f33c1f3-dd1a-4eba-b9ce-766225035265" ||
		l.Since.IsZero() {
		t.Errorf("leader of %s = %+v", a, l)
	}
	// Leadership revoked: Flink clears the data.
	if _, err := jm.Set(pa, nil, -1); err != nil {
		t.Fatal(err)
	}
	waitLeader(a, "revoked", func(l JobManagerLeader) bool { return l.Certain && !l.Known })
	// A new leader session.
	if _, err := jm.Set(pa, readVector(t, "gen-ipv4.bin"), -1); err != nil {
		t.Fatal(err)
	}
	waitLeader(a, "new leader", func(l JobManagerLeader) bool { return l.Certain && l.Address == "http://10.0.0.12:41234" })
	if got := metricValue(t, reg, "yarngate_zk_leader_changes_total"); got != 1 {
		t.Errorf("leader_changes_total = %v, want 1", got)
	}
	// Garbage: uncertain, with ErrDecode.
	if _, err := jm.Set(pa, []byte{0xac, 0xed, 0, 5, 0x77}, -1); err != nil {
		t.Fatal(err)
	}
	l = waitLeader(a, "decode error", func(l JobManagerLeader) bool { return errors.Is(l.Err, ErrDecode) })
	if l.Certain || l.Known {
		t.Errorf("undecodable leader = %+v", l)
	}
	// The JobManager's session ends: the ephemeral znode goes.
	jm.Close()
	waitLeader(a, "gone with its session", func(l JobManagerLeader) bool { return l.Certain && !l.Known && l.Err == nil })

	// b gets a Flink 2.2.1 leader.
	createAll(t, admin, RESTLeaderPath(root, b), readVector(t, "flink-2.2.1-rest-leader.bin"), 0)
	waitLeader(b, "2.2.1 leader", func(l JobManagerLeader) bool { return l.Certain && l.Address == "http://127.0.0.1:40995" })

	f.Unwatch(a)
	f.Unwatch("never-watched")
	if _, ok := f.Leader(a); ok {
		t.Error("Leader of an unwatched cluster")
	}
	if err := f.Watch("/"); err == nil {
		t.Error("empty cluster id accepted")
	}
	f.Close()
	if err := f.Watch(a); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close = %v", err)
	}
}

// TestFlinkLeadersMany: watch and unwatch many clusters; every goroutine and watched path goes away.
func TestFlinkLeadersMany(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := testRoot(t, admin)
	w, reg := newTestWatcher(t, Options{Servers: []string{server}})
	f, err := NewFlinkLeaders(w, FlinkLeadersOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		id := fmt.Sprintf("application_1_%04d", i)
		if err := f.Watch(id); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			createAll(t, admin, RESTLeaderPath(root, id), readVector(t, "gen-hostname.bin"), 0)
		}
	}
	waitFor(t, 20*time.Second, "every cluster read", func() bool {
		for i := range n {
			l, _ := f.Leader(fmt.Sprintf("application_1_%04d", i))
			if !l.Certain || l.Known != (i%2 == 0) {
				return false
			}
		}
		return true
	})
	if got := metricValue(t, reg, "yarngate_zk_watched_paths"); got != n {
		t.Errorf("watched_paths = %v, want %d", got, n)
	}
	for i := range n {
		f.Unwatch(fmt.Sprintf("application_1_%04d", i))
	}
	if got := metricValue(t, reg, "yarngate_zk_watched_paths"); got != 0 {
		t.Errorf("watched_paths after Unwatch = %v, want 0", got)
	}
	f.Close()
}
