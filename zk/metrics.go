package zk

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Watcher's Prometheus collectors. They are registered on the Registerer of Options; several
// Watchers on one Registerer share the collectors.
type metrics struct {
	sessionState  *prometheus.GaugeVec
	sessionEvents *prometheus.CounterVec
	newSessions   prometheus.Counter
	rearms        prometheus.Counter
	reads         *prometheus.CounterVec
	watchedPaths  prometheus.Gauge
	leaderChanges *prometheus.CounterVec
	storeReloads  prometheus.Counter
	bucketRetries prometheus.Counter
	migrated      prometheus.Counter
	snapshots     prometheus.Counter
	// election metrics, by election path
	electionLeader      *prometheus.GaugeVec
	electionTransitions *prometheus.CounterVec
}

// sessionStates lists every value of the session_state label, so that the gauge shows zeros, not gaps.
var sessionStates = []SessionState{
	StateConnecting, StateConnected, StateDisconnected, StateExpired, StateAuthFailed, StateClosed,
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sessionState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "session_state",
			Help: "1 for the current ZooKeeper session state of each Watcher, 0 for the others.",
		}, []string{"state"}),
		sessionEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "session_transitions_total",
			Help: "ZooKeeper session state transitions observed, by new state.",
		}, []string{"state"}),
		newSessions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "sessions_established_total",
			Help: "ZooKeeper sessions established; more than one per Watcher means a session expired.",
		}),
		rearms: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "watch_rearms_total",
			Help: "ZooKeeper watches set (first arm and every re-arm after an event, reconnect or expiry).",
		}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "reads_total",
			Help: "Znode reads by the Watcher, by result (ok, error).",
		}, []string{"result"}),
		watchedPaths: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "watched_paths",
			Help: "Znodes the Watchers keep fresh.",
		}),
		leaderChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "leader_changes_total",
			Help: "Leader changes observed through ZooKeeper, by kind (resourcemanager, jobmanager).",
		}, []string{"kind"}),
		bucketRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "store_bucket_retries_total",
			Help: "Registry writes retried because another writer changed the key's bucket first.",
		}),
		migrated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "store_migrated_keys_total",
			Help: "Registry keys moved from the previous flat layout into hashed buckets.",
		}),
		snapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "store_snapshots_written_total",
			Help: "Registry bucket snapshots written (each a compressed copy of one bucket's keys, read at start-up).",
		}),
		storeReloads: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "store_reloads_total",
			Help: "Registry table reloads signalled to subscribers, because a new session may have missed changes.",
		}),
		electionLeader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "election_leader",
			Help: "Candidates of this process that lead their election (0 or 1 per election path).",
		}, []string{"path"}),
		electionTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "yarngate", Subsystem: "zk", Name: "election_transitions_total",
			Help: "Leadership transitions of this process's election candidates, by path and new role (leader, follower).",
		}, []string{"path", "role"}),
	}
	if reg == nil {
		return m
	}
	m.sessionState = register(reg, m.sessionState)
	m.sessionEvents = register(reg, m.sessionEvents)
	m.newSessions = register(reg, m.newSessions)
	m.rearms = register(reg, m.rearms)
	m.reads = register(reg, m.reads)
	m.watchedPaths = register(reg, m.watchedPaths)
	m.leaderChanges = register(reg, m.leaderChanges)
	m.storeReloads = register(reg, m.storeReloads)
	m.bucketRetries = register(reg, m.bucketRetries)
	m.migrated = register(reg, m.migrated)
	m.snapshots = register(reg, m.snapshots)
	m.electionLeader = register(reg, m.electionLeader)
	m.electionTransitions = register(reg, m.electionTransitions)
	return m
}

// register registers c, or returns the collector already registered under the same description.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A conflicting collector under our names is a programming error in the embedding service; the
		// unregistered collector still counts, it is just not exported.
	}
	return c
}

// setState moves the state gauge to s. With several Watchers on one registry the gauge shows the latest
// transition of any of them.
func (m *metrics) setState(s SessionState) {
	for _, st := range sessionStates {
		v := 0.0
		if st == s {
			v = 1
		}
		m.sessionState.WithLabelValues(st.String()).Set(v)
	}
	m.sessionEvents.WithLabelValues(s.String()).Inc()
}
