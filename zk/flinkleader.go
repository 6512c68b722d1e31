package zk

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultFlinkRoot is the default of Flink's high-availability.zookeeper.path.root.
const DefaultFlinkRoot = "/flink"

// restLeaderSuffix is where Flink 1.15+ (checked for 1.20.3 and 2.2.1) keeps the REST endpoint's leader below the
// cluster's namespace: ZooKeeperUtils.generateConnectionInformationPath(getLeaderPath("rest_server")).
const restLeaderSuffix = "/leader/rest_server/connection_info"

// RESTLeaderPath returns the znode holding the REST leader of a Flink cluster:
// <root>/<clusterID>/leader/rest_server/connection_info, where root and clusterID are joined as Flink's
// ZooKeeperUtils.generateZookeeperPath does (leading and trailing slashes trimmed, empty parts dropped).
// On YARN the cluster id (high-availability.cluster-id) defaults to the application id.
func RESTLeaderPath(root, clusterID string) string {
	var parts []string
	for _, p := range []string{root, clusterID} {
		if p = strings.Trim(p, "/"); p != "" {
			parts = append(parts, p)
		}
	}
	return "/" + strings.Join(parts, "/") + restLeaderSuffix
}

// JobManagerLeader is the REST leader of one Flink cluster as ZooKeeper shows it.
type JobManagerLeader struct {
	// Known reports whether the znode holds leader information. False when the cluster has no leader: the
	// znode is missing (not started yet, or the leader's session ended) or empty (leadership revoked).
	Known bool
	// Address is the leader's REST base URL, such as http://10.0.0.12:41234.
	Address string
	// SessionID is the leader session id; it changes with every leadership grant.
	SessionID UUID
	// Certain is false while the session is unhealthy or the znode could not be read or decoded; Address is
	// then the last value read, possibly stale.
	Certain bool
	// Since is when the leader wrote the znode (server time).
	Since time.Time
	// Err is why the leader is uncertain, if a read or decode failed.
	Err error
}

func (l JobManagerLeader) same(o JobManagerLeader) bool {
	return l.Known == o.Known && l.Address == o.Address && l.SessionID == o.SessionID && l.Certain == o.Certain &&
		l.Since.Equal(o.Since) && errClass(l.Err) == errClass(o.Err)
}

func jobManagerLeaderOf(n Node) JobManagerLeader {
	l := JobManagerLeader{Certain: n.Certain, Err: n.Err}
	if !n.Exists {
		return l
	}
	info, ok, err := DecodeLeaderInformation(n.Data)
	switch {
	case err != nil:
		l.Certain, l.Err = false, fmt.Errorf("zk: %s: %w", n.Path, err)
	case ok:
		l.Known, l.Address, l.SessionID, l.Since = true, info.Address, info.SessionID, n.Stat.Mtime
	}
	return l
}

// FlinkLeadersOptions configure FlinkLeaders.
type FlinkLeadersOptions struct {
	// Root is high-availability.zookeeper.path.root of the tracked clusters. Default /flink.
	Root string
	// OnChange, if set, is called with a cluster id and its new leader after every change of any
	// JobManagerLeader field (including Certain). Calls come from one goroutine, one at a time, coalesced per
	// cluster: intermediate leaders may be skipped, never the last. A call under way when Unwatch runs may
	// still arrive after it. It must not call Close.
	OnChange func(clusterID string, leader JobManagerLeader)
}

// FlinkLeaders follows the REST leaders of many Flink clusters that share one ZooKeeper path root.
type FlinkLeaders struct {
	w        *Watcher
	root     string
	onChange func(string, JobManagerLeader)
	metrics  *metrics
	co       *coalescer[string]
	cancel   context.CancelFunc
	done     chan struct{}

	mu       sync.Mutex
	closed   bool
	clusters map[string]*flinkCluster
}

// flinkCluster is one tracked cluster; guarded by FlinkLeaders.mu.
type flinkCluster struct {
	watch   *Watch
	last    JobManagerLeader // last leader handed to OnChange
	session UUID             // session of the last certain known leader; counts leader changes
}

// NewFlinkLeaders starts a tracker with no clusters on w.
func NewFlinkLeaders(w *Watcher, opts FlinkLeadersOptions) (*FlinkLeaders, error) {
	if opts.Root == "" {
		opts.Root = DefaultFlinkRoot
	}
	if err := zkValidatePath(RESTLeaderPath(opts.Root, "cluster")); err != nil {
		return nil, fmt.Errorf("zk: Flink leaders: root: %w", err)
	}
	f := &FlinkLeaders{
		w: w, root: opts.Root, onChange: opts.OnChange, metrics: w.metrics,
		co: newCoalescer[string](), done: make(chan struct{}), clusters: map[string]*flinkCluster{},
	}
	var ctx context.Context
	ctx, f.cancel = context.WithCancel(w.ctx)
	if err := w.goTracked(func() {
		defer close(f.done)
		f.co.run(ctx, f.dispatch)
	}); err != nil {
		f.cancel()
		return nil, err
	}
	return f, nil
}

// Watch starts following clusterID's REST leader. Watching a cluster already watched does nothing.
func (f *FlinkLeaders) Watch(clusterID string) error {
	if strings.Trim(clusterID, "/") == "" {
		return fmt.Errorf("zk: Flink leaders: empty cluster id")
	}
	p := RESTLeaderPath(f.root, clusterID)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if f.clusters[clusterID] != nil {
		return nil
	}
	h, err := f.w.Watch(p, func() { f.co.mark(clusterID) })
	if err != nil {
		return fmt.Errorf("zk: Flink leaders: watch %s: %w", clusterID, err)
	}
	f.clusters[clusterID] = &flinkCluster{watch: h}
	f.co.mark(clusterID)
	return nil
}

// Unwatch stops following clusterID. Unknown ids are ignored.
func (f *FlinkLeaders) Unwatch(clusterID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.clusters[clusterID]; c != nil {
		c.watch.Stop()
		delete(f.clusters, clusterID)
	}
}

// Leader returns clusterID's current leader, and false if the cluster is not watched.
func (f *FlinkLeaders) Leader(clusterID string) (JobManagerLeader, bool) {
	f.mu.Lock()
	c := f.clusters[clusterID]
	f.mu.Unlock()
	if c == nil {
		return JobManagerLeader{}, false
	}
	return jobManagerLeaderOf(c.watch.Node()), true
}

// Clusters returns the watched cluster ids, sorted.
func (f *FlinkLeaders) Clusters() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.clusters))
	for id := range f.clusters {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Close stops following every cluster and waits for the tracker's goroutine. Idempotent; Watcher.Close also
// stops it.
func (f *FlinkLeaders) Close() {
	f.mu.Lock()
	f.closed = true
	for id, c := range f.clusters {
		c.watch.Stop()
		delete(f.clusters, id)
	}
	f.mu.Unlock()
	f.cancel()
	<-f.done
}

// dispatch runs on the tracker's goroutine for a cluster whose znode changed.
func (f *FlinkLeaders) dispatch(clusterID string) {
	f.mu.Lock()
	c := f.clusters[clusterID]
	if c == nil {
		f.mu.Unlock()
		return
	}
	l := jobManagerLeaderOf(c.watch.Node())
	if l.same(c.last) {
		f.mu.Unlock()
		return
	}
	c.last = l
	if l.Certain && l.Known && l.SessionID != c.session {
		if c.session != (UUID{}) {
			f.metrics.leaderChanges.WithLabelValues(jobManagerLeaderKind).Inc()
		}
		c.session = l.SessionID
	}
	f.mu.Unlock()
	if f.onChange != nil {
		f.onChange(clusterID, l)
	}
}
