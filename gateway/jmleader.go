package gateway

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
)

// JobManagerHA configures ZooKeeper high availability of the launched clusters. With it, YARN restarts a
// JobManager that dies in a new application attempt, the job recovers from its last checkpoint, and the
// gateway follows the new JobManager through its leader znode (JobServiceOptions.Leaders).
type JobManagerHA struct {
	// Quorum is the ZooKeeper connect string the JobManagers use (high-availability.zookeeper.quorum).
	Quorum string
	// PathRoot is high-availability.zookeeper.path.root; Leaders must follow the same root.
	PathRoot string
	// StorageDir is high-availability.storageDir: an absolute HDFS path (qualified with the gateway's file
	// system) or a URI.
	StorageDir string
	// SessionTimeout is high-availability.zookeeper.client.session-timeout unless the job sets it: how long
	// a dead JobManager's leader znode stays, and so how long the next attempt waits to take over.
	SessionTimeout time.Duration
}

// jobManagerLeaders follows the REST leaders of Flink clusters in ZooKeeper, by cluster id (the
// application id); *zk.FlinkLeaders implements it.
type jobManagerLeaders interface {
	Watch(clusterID string) error
	Unwatch(clusterID string)
	Leader(clusterID string) (zk.JobManagerLeader, bool)
}

// tagHA marks an application launched with the gateway's ZooKeeper HA: its JobManager leader is followed in
// ZooKeeper under the configured path root.
const tagHA = "yarngate-ha"

// haTypeKeys are the keys that choose Flink's HA services, newest first (HighAvailabilityOptions).
var haTypeKeys = []string{"high-availability.type", "high-availability", "recovery.mode"}

// haOwnedKeys are the HA keys a job may not set while the gateway runs its cluster with ZooKeeper HA: they
// decide where the gateway finds the JobManager leader.
var haOwnedKeys = []string{"high-availability.zookeeper.quorum", "high-availability.zookeeper.path.root", "high-availability.cluster-id"}

// applyHA decides the HA of a launch. Without gateway HA, or when flinkConfig names HA services of its own
// (high-availability.type: none opts out; another type is the job's business), the spec is unchanged.
// Otherwise the spec gets ZooKeeper HA, the job's flinkConfig the session timeout unless it sets one, and
// the application the HA tag. A job's high-availability.storageDir is kept.
func (s *JobService) applyHA(spec *flink.LaunchSpec) error {
	ha := s.opts.HA
	if ha == nil {
		return nil
	}
	for _, k := range haTypeKeys {
		if v, ok := spec.FlinkConfig[k]; ok {
			if !strings.EqualFold(strings.TrimSpace(v), "zookeeper") {
				return nil
			}
			break
		}
	}
	var se api.SpecError
	for _, k := range haOwnedKeys {
		if _, ok := spec.FlinkConfig[k]; ok {
			se.Add("flinkConfig."+k, "is set by the gateway for high availability (high-availability.type: none opts out)")
		}
	}
	if err := se.OrNil(); err != nil {
		return err
	}
	storage := ha.StorageDir
	if v, ok := spec.FlinkConfig["high-availability.storageDir"]; ok {
		storage = v
	} else if !strings.Contains(storage, "://") {
		storage = s.opts.Files.URI(storage)
	}
	spec.HA = &flink.HighAvailability{Quorum: ha.Quorum, PathRoot: ha.PathRoot, StorageDir: storage}
	if ha.SessionTimeout > 0 {
		if spec.FlinkConfig == nil {
			spec.FlinkConfig = map[string]string{}
		}
		// Milliseconds: Flink 1.20 and 2.x read a bare number of this duration option as ms.
		setDefault(spec.FlinkConfig, "high-availability.zookeeper.client.session-timeout", strconv.FormatInt(ha.SessionTimeout.Milliseconds(), 10))
	}
	spec.Tags = append(spec.Tags, tagHA)
	return nil
}

// watchLeader starts following the JobManager leader of a cluster launched with HA.
func (s *JobService) watchLeader(appID string) {
	if s.opts.Leaders == nil {
		return
	}
	if err := s.opts.Leaders.Watch(appID); err != nil {
		s.opts.Logger.Warn("cannot follow the JobManager leader in ZooKeeper", "applicationId", appID, "error", err)
	}
}

// leaderProbeTimeout bounds the check that a leader ZooKeeper names is alive, while YARN names another
// JobManager.
const leaderProbeTimeout = time.Second

// listening reports whether something accepts TCP connections at the REST base URL base. A JobManager that
// died refuses them at once (its znode stays until its ZooKeeper session expires); a new one that is busy
// starting up accepts them before it answers its first requests, so connecting is the quicker and surer
// sign of life than a REST call.
func listening(ctx context.Context, base string) bool {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return false
	}
	d := net.Dialer{Timeout: leaderProbeTimeout}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// jobManagerURL returns the REST base of the JobManager of a running Flink application, "" when none runs.
//
// For an application launched with HA and a gateway that follows leaders, it is the leader ZooKeeper
// names, when certain; the cluster is watched lazily (after a gateway restart) and unwatched once the
// application has ended. Without a certain leader it is the address YARN reports (amRPCAddress). While a
// new attempt starts, the two may disagree: ZooKeeper keeps a dead JobManager's znode until its session
// expires, and the new JobManager may lead before YARN reports its attempt running. Then the leader is used
// only if it accepts connections.
func (s *JobService) jobManagerURL(ctx context.Context, app *yarnclient.App) string {
	am := amURL(app)
	if s.opts.Leaders == nil || !app.HasTag(tagHA) {
		return am
	}
	if app.State.Terminal() {
		s.opts.Leaders.Unwatch(app.ID)
		s.answered.Delete(app.ID)
		return ""
	}
	l, watched := s.opts.Leaders.Leader(app.ID)
	if !watched {
		s.watchLeader(app.ID)
		l, _ = s.opts.Leaders.Leader(app.ID)
	}
	if !l.Known || !l.Certain || l.Address == "" || l.Address == am {
		return am
	}
	// YARN names another JobManager, or none yet (the new attempt has not registered), or the same one
	// under another host name.
	pair := am + " " + l.Address
	if v, ok := s.answered.Load(app.ID); ok && v == pair && am != "" {
		return l.Address
	}
	if listening(ctx, l.Address) {
		s.answered.Store(app.ID, pair)
		return l.Address
	}
	return am
}

// jobRecoveryGrace is how long after a JobManager became leader a job it does not know may still be
// recovering from the HA stores.
const jobRecoveryGrace = 2 * time.Minute

// recovering reports whether the JobManager of an HA session took over recently enough that its jobs may
// still be recovering: a job it does not know yet is not lost.
func (s *JobService) recovering(app *yarnclient.App) bool {
	if s.opts.Leaders == nil || !app.HasTag(tagHA) {
		return false
	}
	l, ok := s.opts.Leaders.Leader(app.ID)
	return ok && (!l.Known || !l.Certain || time.Since(l.Since) < jobRecoveryGrace)
}

// holdDuringFailover keeps a job that has run at STARTING while YARN starts a new application attempt
// (YARN reports the application ACCEPTED again): a JobManager failover is not a new submission.
func (s *JobService) holdDuringFailover(id string, state api.JobState) api.JobState {
	if state != api.StateSubmitted && state != api.StateAccepted {
		return state
	}
	if last, ok := s.tracker.last(id); ok && !last.Terminal() && last.Rank() >= api.StateStarting.Rank() {
		return api.StateStarting
	}
	return state
}
