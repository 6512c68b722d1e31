package api

import "time"

// FlinkClusterRequest registers an existing Flink cluster with the gateway: POST /v1/clusters. Exactly one of
// REST, ZooKeeper and YARNApplicationID says where its JobManager is.
type FlinkClusterRequest struct {
	// ID names the registration (and prefixes the ids of jobs run in it): 1 to 63 lower-case letters, digits
	// and hyphens, starting with a letter or digit.
	ID string `json:"id"`
	// Name is a free-form description; the id when absent.
	Name string `json:"name,omitempty"`
	// REST lists the JobManagers' REST base URLs (http or https); the first that answers is used.
	REST []string `json:"rest,omitempty"`
	// ZooKeeper locates the leading JobManager of a standalone-HA cluster.
	ZooKeeper *FlinkClusterZooKeeper `json:"zookeeper,omitempty"`
	// YARNApplicationID registers a Flink session running on the gateway's YARN (started by yarn-session.sh
	// or any other client); its JobManager is the one YARN reports.
	YARNApplicationID string `json:"yarnApplicationId,omitempty"`
	// ACL grants others access: view to see the cluster and its jobs, modify to also submit jobs into it.
	ACL *ACL `json:"acl,omitempty"`
}

// FlinkClusterZooKeeper is where a standalone-HA Flink cluster elects its leader.
type FlinkClusterZooKeeper struct {
	// Quorum is high-availability.zookeeper.quorum; the gateway's own quorum when absent.
	Quorum string `json:"quorum,omitempty"`
	// Root is high-availability.zookeeper.path.root (default /flink).
	Root string `json:"root,omitempty"`
	// ClusterID is high-availability.cluster-id. Required.
	ClusterID string `json:"clusterId"`
}

// FlinkCluster is a registered Flink cluster: GET /v1/clusters/{id}.
type FlinkCluster struct {
	// ID is the registration's id.
	ID string `json:"id"`
	// Name describes the cluster.
	Name string `json:"name"`
	// Kind is "rest", "zookeeper" or "yarn": how the gateway finds the JobManager.
	Kind string `json:"kind"`
	// REST, ZooKeeper and YARNApplicationID repeat the registration.
	REST              []string               `json:"rest,omitempty"`
	ZooKeeper         *FlinkClusterZooKeeper `json:"zookeeper,omitempty"`
	YARNApplicationID string                 `json:"yarnApplicationId,omitempty"`
	// Health is what the cluster's JobManager answers now (absent in lists).
	Health *FlinkClusterHealth `json:"health,omitempty"`
	// Owner registered the cluster; SubmittedBy is the principal that did.
	Owner       string `json:"owner"`
	SubmittedBy string `json:"submittedBy,omitempty"`
	// ACL is who else may see the cluster or submit jobs into it.
	ACL *ACL `json:"acl,omitempty"`
	// CreatedAt is when the cluster was registered.
	CreatedAt time.Time `json:"createdAt"`
}

// Health states of a registered cluster.
const (
	// ClusterHealthy: the leading JobManager answers.
	ClusterHealthy = "HEALTHY"
	// ClusterUnreachable: no JobManager (or no leader) answers now.
	ClusterUnreachable = "UNREACHABLE"
)

// FlinkClusterHealth is what a registered cluster's leading JobManager answered (/overview and /config).
type FlinkClusterHealth struct {
	// State is HEALTHY or UNREACHABLE.
	State string `json:"state"`
	// Reason says why a cluster is UNREACHABLE.
	Reason string `json:"reason,omitempty"`
	// JobManager is the REST base URL of the leading JobManager; FlinkUI its web UI.
	JobManager string `json:"jobManager,omitempty"`
	FlinkUI    string `json:"flinkUi,omitempty"`
	// FlinkVersion is the version the JobManager reports.
	FlinkVersion string `json:"flinkVersion,omitempty"`
	// TaskManagers, SlotsTotal and SlotsAvailable count the cluster's TaskManagers and task slots.
	TaskManagers   int `json:"taskManagers"`
	SlotsTotal     int `json:"slotsTotal"`
	SlotsAvailable int `json:"slotsAvailable"`
	// JobsRunning counts the jobs running in the cluster (whoever submitted them).
	JobsRunning int `json:"jobsRunning"`
	// CheckedAt is when the JobManager was asked.
	CheckedAt time.Time `json:"checkedAt"`
}

// FlinkClusterList is GET /v1/clusters.
type FlinkClusterList struct {
	Clusters []FlinkCluster `json:"clusters"`
}
