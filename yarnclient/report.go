package yarnclient

import (
	"encoding/json"
	"strings"
	"time"
)

// ClusterInfo is the answer of /ws/v1/cluster/info.
type ClusterInfo struct {
	// ID is the cluster id (the RM start time in ms).
	ID int64 `json:"id"`
	// StartedOn is the RM start time in ms.
	StartedOn int64 `json:"startedOn"`
	// State is the service state: NOTINITED, INITED, STARTED or STOPPED.
	State string `json:"state"`
	// HAState is INITIALIZING, ACTIVE, STANDBY or STOPPED; a non-HA RM reports ACTIVE.
	HAState string `json:"haState"`
	// RMStateStoreName is the state store class, such as ...recovery.ZKRMStateStore.
	RMStateStoreName string `json:"rmStateStoreName"`
	// ResourceManagerVersion is the RM version string.
	ResourceManagerVersion string `json:"resourceManagerVersion"`
	// HadoopVersion is the Hadoop version string, such as 3.4.2.
	HadoopVersion string `json:"hadoopVersion"`
	// HAZooKeeperConnectionState describes the RM's connection to the HA ZooKeeper.
	HAZooKeeperConnectionState string `json:"haZooKeeperConnectionState"`
}

// HA states reported in ClusterInfo.HAState.
const (
	HAStateActive  = "ACTIVE"
	HAStateStandby = "STANDBY"
)

// NewApplication is the answer of POST /ws/v1/cluster/apps/new-application.
type NewApplication struct {
	// ApplicationID is the fresh id to submit with.
	ApplicationID string `json:"application-id"`
	// MaximumResourceCapability is the largest container the scheduler grants.
	MaximumResourceCapability Resource `json:"maximum-resource-capability"`
}

// AppState is YARN's YarnApplicationState.
type AppState string

// Application states.
const (
	StateNew       AppState = "NEW"
	StateNewSaving AppState = "NEW_SAVING"
	StateSubmitted AppState = "SUBMITTED"
	StateAccepted  AppState = "ACCEPTED"
	StateRunning   AppState = "RUNNING"
	StateFinished  AppState = "FINISHED"
	StateFailed    AppState = "FAILED"
	StateKilled    AppState = "KILLED"
)

// Terminal reports whether the application has ended (FINISHED, FAILED or KILLED).
func (s AppState) Terminal() bool {
	return s == StateFinished || s == StateFailed || s == StateKilled
}

// FinalStatus is the final status the ApplicationMaster reported.
type FinalStatus string

// Final statuses.
const (
	FinalUndefined FinalStatus = "UNDEFINED"
	FinalSucceeded FinalStatus = "SUCCEEDED"
	FinalFailed    FinalStatus = "FAILED"
	FinalKilled    FinalStatus = "KILLED"
)

// App is an application report (Hadoop's AppInfo). Fields after Priority are only filled when the
// caller may view the application.
type App struct {
	// ID is the application id.
	ID string `json:"id"`
	// User is the submitting user.
	User string `json:"user"`
	// Name is the application name.
	Name string `json:"name"`
	// Queue is the queue the application runs in.
	Queue string `json:"queue"`
	// State is the YARN application state.
	State AppState `json:"state"`
	// FinalStatus is set by the ApplicationMaster when it unregisters.
	FinalStatus FinalStatus `json:"finalStatus"`
	// Progress is 0..100.
	Progress float64 `json:"progress"`
	// TrackingUI is UNASSIGNED, ApplicationMaster or History.
	TrackingUI string `json:"trackingUI"`
	// TrackingURL is the RM proxy URL; empty until the AM has registered.
	TrackingURL string `json:"trackingUrl"`
	// Diagnostics is YARN's diagnostic text.
	Diagnostics string `json:"diagnostics"`
	// ClusterID is the RM cluster id.
	ClusterID int64 `json:"clusterId"`
	// ApplicationType is the submitted application type.
	ApplicationType string `json:"applicationType"`
	// ApplicationTags are the (lower-cased) tags; the RM sends them comma-joined.
	ApplicationTags []string `json:"-"`
	// Priority is the application priority.
	Priority int `json:"priority"`
	// StartedTime is the submission time in ms.
	StartedTime int64 `json:"startedTime"`
	// LaunchTime is the AM launch time in ms.
	LaunchTime int64 `json:"launchTime"`
	// FinishedTime is the end time in ms, 0 while running.
	FinishedTime int64 `json:"finishedTime"`
	// ElapsedTime is the run time in ms.
	ElapsedTime int64 `json:"elapsedTime"`
	// AMContainerLogs is the NodeManager URL of the AM container logs.
	AMContainerLogs string `json:"amContainerLogs"`
	// AMHostHTTPAddress is the AM's NodeManager web address.
	AMHostHTTPAddress string `json:"amHostHttpAddress"`
	// AMRPCAddress is host:port the AM registered (for Flink: the JobManager REST endpoint).
	AMRPCAddress string `json:"amRPCAddress"`
	// AllocatedMB is the memory currently allocated to the application.
	AllocatedMB int64 `json:"allocatedMB"`
	// AllocatedVCores is the vcores currently allocated to the application.
	AllocatedVCores int64 `json:"allocatedVCores"`
	// RunningContainers counts the application's running containers.
	RunningContainers int `json:"runningContainers"`
	// LogAggregationStatus is the log aggregation state.
	LogAggregationStatus string `json:"logAggregationStatus"`
}

// UnmarshalJSON splits the comma-joined applicationTags.
func (a *App) UnmarshalJSON(b []byte) error {
	type plain App
	var raw struct {
		plain
		Tags string `json:"applicationTags"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*a = App(raw.plain)
	a.ApplicationTags = splitTags(raw.Tags)
	return nil
}

// MarshalJSON writes the report in the RM's shape, tags comma-joined.
func (a App) MarshalJSON() ([]byte, error) {
	type plain App
	return json.Marshal(struct {
		plain
		Tags string `json:"applicationTags"`
	}{plain(a), strings.Join(a.ApplicationTags, ",")})
}

// Started returns StartedTime as a time, zero when unset.
func (a *App) Started() time.Time { return msTime(a.StartedTime) }

// Finished returns FinishedTime as a time, zero while running.
func (a *App) Finished() time.Time { return msTime(a.FinishedTime) }

// HasTag reports whether the application carries tag (compared lower-cased, as the RM stores it).
func (a *App) HasTag(tag string) bool {
	tag = strings.ToLower(tag)
	for _, t := range a.ApplicationTags {
		if t == tag {
			return true
		}
	}
	return false
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func splitTags(s string) []string {
	var tags []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// AppAttempt is one ApplicationMaster attempt (Hadoop's AppAttemptInfo).
type AppAttempt struct {
	// ID is the attempt number, starting at 1.
	ID int `json:"id"`
	// AppAttemptID is appattempt_<ts>_<n>_<attempt>.
	AppAttemptID string `json:"appAttemptId"`
	// StartTime is in ms.
	StartTime int64 `json:"startTime"`
	// FinishedTime is in ms, 0 while running.
	FinishedTime int64 `json:"finishedTime"`
	// ContainerID is the AM container.
	ContainerID string `json:"containerId"`
	// NodeHTTPAddress is the AM's NodeManager web address.
	NodeHTTPAddress string `json:"nodeHttpAddress"`
	// NodeID is host:port of the AM's NodeManager.
	NodeID string `json:"nodeId"`
	// LogsLink is the AM container log URL.
	LogsLink string `json:"logsLink"`
	// AppAttemptState is the RMAppAttemptState, such as RUNNING or FAILED.
	AppAttemptState string `json:"appAttemptState"`
}

// AppsFilter selects applications for Apps. Zero fields do not filter.
type AppsFilter struct {
	// States keeps applications in any of these states.
	States []AppState
	// FinalStatus keeps applications with this final status.
	FinalStatus FinalStatus
	// ApplicationTypes keeps applications of any of these types.
	ApplicationTypes []string
	// ApplicationTags keeps applications with any of these tags (matched lower-cased).
	ApplicationTags []string
	// User keeps applications of this user.
	User string
	// Queue keeps applications in this queue.
	Queue string
	// Name keeps applications with this exact name (Hadoop 3.3+).
	Name string
	// Limit caps the number of results (> 0).
	Limit int
	// StartedTimeBegin keeps applications started at or after this time (ms).
	StartedTimeBegin int64
	// FinishedTimeBegin keeps applications that finished at or after this time (ms): with the terminal
	// States, those that ended since then.
	FinishedTimeBegin int64
	// DeSelects omits heavy fields: resourceRequests, appNodeLabelExpression,
	// amNodeLabelExpression, resourceInfo, timeouts.
	DeSelects []string
}
