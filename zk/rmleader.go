package zk

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"time"
)

// Znode names of Hadoop's ActiveStandbyElector and the RM's default election base path.
const (
	// LockZnode is the ephemeral znode the active RM holds (ActiveStandbyElector.LOCK_FILENAME).
	LockZnode = "ActiveStandbyElectorLock"
	// BreadCrumbZnode is the persistent znode naming the last RM that became active
	// (ActiveStandbyElector.BREADCRUMB_FILENAME).
	BreadCrumbZnode = "ActiveBreadCrumb"
	// DefaultRMElectionBasePath is YarnConfiguration.DEFAULT_AUTO_FAILOVER_ZK_BASE_PATH.
	DefaultRMElectionBasePath = "/yarn-leader-election"

	rmLeaderKind               = "resourcemanager"
	jobManagerLeaderKind       = "jobmanager"
	rmElectionBasePathConfKey  = "yarn.resourcemanager.ha.automatic-failover.zk-base-path"
	rmElectionClusterIDConfKey = "yarn.resourcemanager.cluster-id"
)

// ErrClusterMismatch is reported when the election lock names another YARN cluster than the configured one.
var ErrClusterMismatch = errors.New("zk: election znode belongs to another cluster")

// RMLeaderSource says where RMLeader.ID or LastActive comes from.
type RMLeaderSource string

// RMLeader sources.
const (
	// SourceLock means that ID comes from the ephemeral ActiveStandbyElectorLock, which the active RM holds
	// for as long as its ZooKeeper session lives.
	SourceLock RMLeaderSource = "lock"
	// SourceBreadCrumb means that no RM holds the lock (an election is under way, or none can become active)
	// and LastActive comes from the persistent ActiveBreadCrumb, which names the last RM that became active
	// and survives its crash: a hint for which RM to probe first, not an active RM.
	SourceBreadCrumb RMLeaderSource = "breadcrumb"
	// SourceNone means that neither znode names an RM.
	SourceNone RMLeaderSource = ""
)

// RMLeader is the active ResourceManager as ZooKeeper shows it.
type RMLeader struct {
	// ID is the rm id (yarn.resourcemanager.ha.id) holding the election lock; "" when none does. While
	// Certain is false it is the last value read, possibly stale.
	ID string
	// LastActive is the rm id in ActiveBreadCrumb: the last RM that became active; it may be dead.
	LastActive string
	// Source is SourceLock when ID is set, else SourceBreadCrumb when LastActive is, else SourceNone.
	Source RMLeaderSource
	// ClusterID is the cluster id the lock holder wrote.
	ClusterID string
	// Certain is false while the session is unhealthy or the lock could not be read or decoded: probe haState.
	Certain bool
	// Since is the lock's creation time on the server: when ID won the election.
	Since time.Time
	// Err is why the leader is uncertain, if a read or decode failed (e.g. ErrNoAuth under a sasl: ACL).
	Err error
}

func (l RMLeader) same(o RMLeader) bool {
	return l.ID == o.ID && l.LastActive == o.LastActive && l.Source == o.Source && l.ClusterID == o.ClusterID &&
		l.Certain == o.Certain && l.Since.Equal(o.Since) && errClass(l.Err) == errClass(o.Err)
}

// RMLeaderOptions configure an RMLeaderTracker.
type RMLeaderOptions struct {
	// ClusterID is yarn.resourcemanager.cluster-id. Required.
	ClusterID string
	// BasePath is yarn.resourcemanager.ha.automatic-failover.zk-base-path. Default /yarn-leader-election.
	BasePath string
	// OnChange, if set, is called with the new leader after every change of any RMLeader field (including
	// Certain). Calls come from one goroutine, one at a time, coalesced: under load intermediate leaders may
	// be skipped, never the last. It must not call Close.
	OnChange func(RMLeader)
}

// RMElectionPath returns the znode that the RMs of clusterID elect under: <basePath>/<clusterID>.
func RMElectionPath(basePath, clusterID string) string {
	return path.Join(basePath, clusterID)
}

// RMLeaderTracker follows the active ResourceManager of one YARN cluster through its election znodes.
type RMLeaderTracker struct {
	clusterID string
	lock      *Watch
	crumb     *Watch
	onChange  func(RMLeader)
	metrics   *metrics
	co        *coalescer[struct{}]
	cancel    context.CancelFunc
	done      chan struct{}

	mu          sync.Mutex
	last        RMLeader // last leader handed to OnChange
	lastElected int64    // Czxid of the last lock seen while certain; counts leader changes
}

// NewRMLeaderTracker starts following the RM election of opts.ClusterID on w.
func NewRMLeaderTracker(w *Watcher, opts RMLeaderOptions) (*RMLeaderTracker, error) {
	if opts.ClusterID == "" {
		return nil, fmt.Errorf("zk: RM leader: %s (ClusterID) is required", rmElectionClusterIDConfKey)
	}
	if opts.BasePath == "" {
		opts.BasePath = DefaultRMElectionBasePath
	}
	dir := RMElectionPath(opts.BasePath, opts.ClusterID)
	if err := zkValidatePath(dir); err != nil {
		return nil, fmt.Errorf("zk: RM leader: %s + cluster id: %w", rmElectionBasePathConfKey, err)
	}
	t := &RMLeaderTracker{
		clusterID: opts.ClusterID, onChange: opts.OnChange, metrics: w.metrics,
		co: newCoalescer[struct{}](), done: make(chan struct{}),
	}
	mark := func() { t.co.mark(struct{}{}) }
	var err error
	if t.lock, err = w.Watch(dir+"/"+LockZnode, mark); err != nil {
		return nil, err
	}
	if t.crumb, err = w.Watch(dir+"/"+BreadCrumbZnode, mark); err != nil {
		t.lock.Stop()
		return nil, err
	}
	var ctx context.Context
	ctx, t.cancel = context.WithCancel(w.ctx)
	if err := w.goTracked(func() {
		defer close(t.done)
		t.co.run(ctx, func(struct{}) { t.dispatch() })
	}); err != nil {
		t.cancel()
		t.lock.Stop()
		t.crumb.Stop()
		return nil, err
	}
	t.co.mark(struct{}{})
	return t, nil
}

// Leader returns the current leader. Its certainty reflects the session right now.
func (t *RMLeaderTracker) Leader() RMLeader {
	return t.leaderOf(t.lock.Node(), t.crumb.Node())
}

// Close stops the tracker and waits for its goroutine. Idempotent; Watcher.Close also stops it.
func (t *RMLeaderTracker) Close() {
	t.cancel()
	t.lock.Stop()
	t.crumb.Stop()
	<-t.done
}

func (t *RMLeaderTracker) leaderOf(lock, crumb Node) RMLeader {
	l := RMLeader{Certain: lock.Certain, Err: lock.Err}
	if lock.Exists {
		info, err := DecodeActiveRMInfo(lock.Data)
		switch {
		case err != nil:
			l.Certain, l.Err = false, fmt.Errorf("zk: %s: %w", lock.Path, err)
		case info.ClusterID != "" && info.ClusterID != t.clusterID:
			l.Certain = false
			l.Err = fmt.Errorf("%w: %s names %q, want %q", ErrClusterMismatch, lock.Path, info.ClusterID, t.clusterID)
		default:
			l.ID, l.ClusterID, l.Source, l.Since = info.RMID, info.ClusterID, SourceLock, lock.Stat.Ctime
		}
	}
	if crumb.Exists {
		if info, err := DecodeActiveRMInfo(crumb.Data); err == nil {
			l.LastActive = info.RMID
		}
	}
	if l.Source == SourceNone && l.LastActive != "" {
		l.Source = SourceBreadCrumb
	}
	return l
}

// dispatch runs on the tracker's goroutine after any change of either znode.
func (t *RMLeaderTracker) dispatch() {
	lock := t.lock.Node()
	l := t.leaderOf(lock, t.crumb.Node())
	t.mu.Lock()
	if l.same(t.last) {
		t.mu.Unlock()
		return
	}
	t.last = l
	if l.Certain && l.Source == SourceLock && lock.Stat.Czxid != t.lastElected {
		if t.lastElected != 0 {
			t.metrics.leaderChanges.WithLabelValues(rmLeaderKind).Inc()
		}
		t.lastElected = lock.Stat.Czxid
	}
	t.mu.Unlock()
	if t.onChange != nil {
		t.onChange(l)
	}
}
