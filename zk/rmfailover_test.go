package zk

import (
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/hadoopconf"
	"github.com/yarngate/yarngate/testenv"
)

// rmObservation is one OnChange call and when it came.
type rmObservation struct {
	l  RMLeader
	at time.Time
}

// TestRMLeaderFailoverOnHACluster kills the active ResourceManager of the HA test cluster twice (there and back)
// and checks that the tracker follows the election lock within 5 s of the new lock's creation.
func TestRMLeaderFailoverOnHACluster(t *testing.T) {
	c := testenv.Require(t)
	if c.Env["YARNGATE_HA"] != "1" {
		t.Skip("needs the HA test cluster (HA=1 make cluster-up)")
	}
	checkNoGoroutineLeak(t)
	conf, err := hadoopconf.Load(c.HadoopConfDir)
	if err != nil {
		t.Fatal(err)
	}
	clusterID := conf.ClusterID()
	base := conf.GetDefault(rmElectionBasePathConfKey, DefaultRMElectionBasePath)
	w, reg := newTestWatcher(t, Options{Servers: strings.Split(conf.ZooKeeperQuorum(), ",")})
	log := newLeaderLog[rmObservation]()
	tr, err := NewRMLeaderTracker(w, RMLeaderOptions{ClusterID: clusterID, BasePath: base, OnChange: func(l RMLeader) {
		log.add(rmObservation{l, time.Now()})
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	active := func(o rmObservation) bool { return o.l.Certain && o.l.Source == SourceLock && o.l.ID != "" }
	first := log.waitLast(t, 15*time.Second, "the active RM", active).l.ID
	t.Logf("cluster %s: %s is active", clusterID, first)

	prev := first
	for round := 1; round <= 2; round++ {
		start := time.Now()
		cluster(t, c, "rm-failover")
		o := log.waitLast(t, 30*time.Second, "a new active RM", func(o rmObservation) bool {
			return active(o) && o.l.ID != prev
		})
		var gone time.Time
		for _, s := range log.all() {
			if s.at.After(start) && s.l.Certain && s.l.ID == "" && gone.IsZero() {
				gone = s.at
			}
		}
		latency := o.at.Sub(o.l.Since)
		t.Logf("failover %d: %s -> %s; kill to lock gone seen %v, kill to new lock %v, new lock to seen %v",
			round, prev, o.l.ID, since(start, gone), o.l.Since.Sub(start), latency)
		if latency > 5*time.Second || o.l.Since.Before(start) {
			t.Errorf("failover %d: lock created %v, seen %v later; want within 5 s of a lock created after the kill",
				round, o.l.Since, latency)
		}
		if o.l.LastActive != "" && o.l.LastActive != o.l.ID {
			t.Logf("breadcrumb still names %s (written after fencing)", o.l.LastActive)
		}
		cluster(t, c, "rm-restore")
		prev = o.l.ID
	}
	if prev != first {
		t.Errorf("after two failovers %s is active, want %s back", prev, first)
	}
	if got := metricValue(t, reg, "yarngate_zk_leader_changes_total"); got != 2 {
		t.Errorf("leader_changes_total = %v, want 2; OnChange saw:", got)
		for _, o := range log.all() {
			t.Logf("  %s %+v", o.at.Format("15:04:05.000"), o.l)
		}
	}
}

func since(start, t time.Time) any {
	if t.IsZero() {
		return "not seen (coalesced)"
	}
	return t.Sub(start)
}
