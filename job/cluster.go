package job

import (
	"context"
	"errors"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
)

// Sources of ClusterRM.Source.
const (
	// rmSourceZooKeeper means that the RM the gateway routes to holds the election lock in ZooKeeper.
	rmSourceZooKeeper = "zookeeper"
	// rmSourceProbe means that the gateway found the RM by probing haState (or there is only one).
	rmSourceProbe = "probe"
	// zkNotConfigured is the ZooKeeper state when the gateway has no quorum.
	zkNotConfigured = "not configured"
)

// activeRMLocator is the part of *yarnclient.Client the cluster view reads: the RM it routes to, and a
// cluster-info call that makes it find one by probing when none is known.
type activeRMLocator interface {
	ActiveRM() (yarnclient.RM, bool)
	ClusterInfo(ctx context.Context) (*yarnclient.ClusterInfo, error)
}

// rmLeaderSource is the part of *zk.RMLeaderTracker the cluster view reads.
type rmLeaderSource interface {
	Leader() zk.RMLeader
}

// zkSession is the part of *zk.Watcher the cluster view reads.
type zkSession interface {
	Session() zk.SessionInfo
}

// flinkCatalog lists the registered Flink distributions (*Service).
type flinkCatalog interface {
	FlinkVersions() []string
}

// registryStatus reports the job registry (*Service).
type registryStatus interface {
	RegistryStatus() api.ClusterRegistry
}

// ClusterServiceOptions configure a ClusterService. Every dependency but HDFS is optional.
type ClusterServiceOptions struct {
	// HDFS checks that HDFS answers (hdfs.Store.Ping). Required.
	HDFS func(ctx context.Context) error
	// RM is the ResourceManager client (*yarnclient.Client); nil when no RM is configured.
	RM activeRMLocator
	// HAEnabled says whether YARN runs several ResourceManagers.
	HAEnabled bool
	// RMLeader follows the RM election in ZooKeeper (*zk.RMLeaderTracker); nil without RM HA or ZooKeeper.
	RMLeader rmLeaderSource
	// ZooKeeper is the gateway's ZooKeeper session (*zk.Watcher); nil without a quorum.
	ZooKeeper zkSession
	// Flink lists the distributions (*Service); nil when jobs are disabled.
	Flink flinkCatalog
	// Registry reports the job registry (*Service); nil when jobs are disabled.
	Registry registryStatus
	// ProbeTimeout bounds the HDFS ping and an RM probe. Default 2s.
	ProbeTimeout time.Duration
}

// ClusterService assembles the cluster view. It is safe for concurrent use.
type ClusterService struct {
	opts ClusterServiceOptions
}

// NewClusterService returns a cluster view service.
func NewClusterService(opts ClusterServiceOptions) (*ClusterService, error) {
	if opts.HDFS == nil {
		return nil, errors.New("cluster service: no HDFS check")
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 2 * time.Second
	}
	return &ClusterService{opts: opts}, nil
}

// View returns what the gateway sees now. It never fails: what does not answer shows as unreachable or
// unknown. The HDFS ping and, when no active RM is known, an RM probe run concurrently within ProbeTimeout.
func (s *ClusterService) View(ctx context.Context) api.ClusterView {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ProbeTimeout)
	defer cancel()
	hdfsErr := make(chan error, 1)
	go func() { hdfsErr <- s.opts.HDFS(ctx) }()

	v := api.ClusterView{
		ResourceManager: s.resourceManager(ctx),
		ZooKeeper:       api.ClusterZooKeeper{State: zkNotConfigured},
		Flink:           []api.ClusterFlink{},
	}
	if s.opts.ZooKeeper != nil {
		v.ZooKeeper.State = s.opts.ZooKeeper.Session().State.String()
	}
	if s.opts.Flink != nil {
		for _, ver := range s.opts.Flink.FlinkVersions() {
			v.Flink = append(v.Flink, api.ClusterFlink{Version: ver})
		}
	}
	if s.opts.Registry != nil {
		r := s.opts.Registry.RegistryStatus()
		v.Registry = &r
	}
	v.HDFS.Reachable = <-hdfsErr == nil
	return v
}

// resourceManager reports the RM the client routes to; the source is ZooKeeper when a certain election
// lock names the same RM.
func (s *ClusterService) resourceManager(ctx context.Context) api.ClusterRM {
	out := api.ClusterRM{HAEnabled: s.opts.HAEnabled, Source: rmSourceProbe}
	if s.opts.RM == nil {
		return out
	}
	rm, ok := s.opts.RM.ActiveRM()
	if !ok {
		// The client finds the active RM on its next call; a failure leaves it unknown.
		if _, err := s.opts.RM.ClusterInfo(ctx); err == nil {
			rm, ok = s.opts.RM.ActiveRM()
		}
	}
	if !ok {
		return out
	}
	out.Active, out.URL = rm.ID, rm.URL
	if s.opts.RMLeader != nil {
		if l := s.opts.RMLeader.Leader(); l.Certain && l.ID != "" && l.ID == rm.ID {
			out.Source = rmSourceZooKeeper
		}
	}
	return out
}
