package api

import (
	"time"
)

// ClusterView is what the gateway sees of the cluster: GET /v1/cluster.
type ClusterView struct {
	ResourceManager ClusterRM        `json:"resourceManager"`
	ZooKeeper       ClusterZooKeeper `json:"zookeeper"`
	HDFS            ClusterHDFS      `json:"hdfs"`
	Flink           []ClusterFlink   `json:"flink"`
	// Registry is absent when jobs are disabled.
	Registry *ClusterRegistry `json:"registry,omitempty"`
}

// ClusterRegistry is the state of the job registry as this instance sees it.
type ClusterRegistry struct {
	// Backend is "zookeeper" or "embedded".
	Backend string `json:"backend"`
	// Instance is this gateway process's id.
	Instance string `json:"instance"`
	// Reconciler says whether this instance runs the reconciler now.
	Reconciler bool `json:"reconciler"`
	// LastReconciled is when this instance last completed a reconciliation (absent if never).
	LastReconciled *time.Time `json:"lastReconciled,omitempty"`
	// Records counts the jobs and sessions recorded.
	Records int `json:"records"`
}

// ClusterRM is the ResourceManager the gateway routes to.
type ClusterRM struct {
	// Active is the rm id (empty without RM HA, or when no RM is known to be active).
	Active string `json:"active"`
	// URL is the active RM's web address, empty when none is known.
	URL string `json:"url"`
	// HAEnabled says whether YARN runs several ResourceManagers.
	HAEnabled bool `json:"haEnabled"`
	// Source is "zookeeper" when the election lock confirms Active, else "probe".
	Source string `json:"source"`
}

// ClusterZooKeeper is the gateway's ZooKeeper session.
type ClusterZooKeeper struct {
	// State is the session state (zk.SessionState names), or "not configured".
	State string `json:"state"`
}

// ClusterHDFS says whether HDFS answered.
type ClusterHDFS struct {
	Reachable bool `json:"reachable"`
}

// ClusterFlink is one registered Flink distribution.
type ClusterFlink struct {
	Version string `json:"version"`
}
