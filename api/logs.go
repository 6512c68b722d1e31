package api

// LogList is the answer of GET /v1/jobs/{id}/logs and GET /v1/sessions/{id}/logs: the containers of the
// application that runs the job or session, with their log files. A session job's logs are its session's.
type LogList struct {
	// Containers are the JobManager's (the ApplicationMaster's, one per attempt) and the TaskManagers'.
	Containers []LogContainer `json:"containers"`
}

// Roles of a container.
const (
	// LogRoleJobManager is the ApplicationMaster container, where the JobManager runs.
	LogRoleJobManager = "jobmanager"
	// LogRoleTaskManager is any other container of the application.
	LogRoleTaskManager = "taskmanager"
)

// Where a container's logs are read from.
const (
	// LogSourceNodeManager: the NodeManager running (or having run) the container serves them.
	LogSourceNodeManager = "nodemanager"
	// LogSourceAggregated: YARN's log aggregation moved them to HDFS after the container ended.
	LogSourceAggregated = "aggregated"
)

// LogContainer is one container and its log files.
type LogContainer struct {
	// ContainerID is YARN's id, container_….
	ContainerID string `json:"containerId"`
	// Role is LogRoleJobManager or LogRoleTaskManager.
	Role string `json:"role"`
	// NodeID is host:port of the container's NodeManager.
	NodeID string `json:"nodeId"`
	// State is YARN's container state (RUNNING, COMPLETE, ...).
	State string `json:"state"`
	// Source is LogSourceNodeManager or LogSourceAggregated.
	Source string `json:"source"`
	// Files are the container's log files.
	Files []LogFile `json:"files"`
}

// LogFile is one log file of a container.
type LogFile struct {
	// Name is the file's name, such as jobmanager.log; fetch it at .../logs/{containerId}/{name}.
	Name string `json:"name"`
	// Size is its length in bytes when listed (a running container's logs grow).
	Size int64 `json:"size"`
}
