package api

// JobRequest is the body of POST /v1/jobs (or the spec part of a multipart submission).
type JobRequest struct {
	// Name names the job (default "yarngate-job").
	Name string `json:"name"`
	// JarID is the id of a staged jar (POST /v1/jars); give it or JarPath.
	JarID string `json:"jarId,omitempty"`
	// JarPath is an hdfs:// URI of a jar; give it or JarID.
	JarPath string `json:"jarPath,omitempty"`
	// EntryClass overrides the jar's Main-Class.
	EntryClass string `json:"entryClass,omitempty"`
	// Args are the program arguments.
	Args []string `json:"args"`
	// Target is "application" (default), "session" or "cluster".
	Target string `json:"target,omitempty"`
	// SessionID is the session to run in, with target session.
	SessionID string `json:"sessionId,omitempty"`
	// ClusterID is the registered Flink cluster to run in (POST /v1/clusters), with target cluster.
	ClusterID string `json:"clusterId,omitempty"`
	// Parallelism is the job's default parallelism.
	Parallelism *int `json:"parallelism,omitempty"`
	// Queue is the YARN queue.
	Queue string `json:"queue,omitempty"`
	// JobManager sizes the JobManager.
	JobManager *JobManagerSpec `json:"jobManager,omitempty"`
	// TaskManager sizes the TaskManagers.
	TaskManager *TaskManagerSpec `json:"taskManager,omitempty"`
	// FlinkVersion selects a registered Flink distribution.
	FlinkVersion string `json:"flinkVersion,omitempty"`
	// FlinkConfig are Flink configuration overrides (string, number or boolean values).
	FlinkConfig map[string]any `json:"flinkConfig,omitempty"`
	// Savepoint restores the job from a savepoint or retained checkpoint.
	Savepoint *SavepointSpec `json:"savepoint,omitempty"`
	// MultipleJobs lets an application job's main() run several Flink jobs (several execute() calls).
	// Flink allows that only without JobManager high availability and without a fixed job id, so such a job
	// runs without HA, and its jobs are listed in flink.jobs. Not for session jobs.
	MultipleJobs bool `json:"multipleJobs,omitempty"`
	// KeytabID names a stored keytab (POST /v1/keytabs) the job's cluster logs in with, on a Kerberized
	// cluster, so that it obtains new delegation tokens itself and outlives the one it was launched with.
	// Its principal must be the job's user. Not for session jobs (the session's keytab counts).
	KeytabID string `json:"keytabId,omitempty"`
	// ACL grants others access to the job (the owner, its caller, always has it).
	ACL *ACL `json:"acl,omitempty"`
	// ProxyUser submits the job for another user (a service acting for a person, as Livy's proxyUser): the
	// job belongs to that user and runs as that user. Only callers the gateway's rules allow to act for
	// that user may name one (auth.proxyUsers); others get 403 forbidden.
	ProxyUser string `json:"proxyUser,omitempty"`
	// AutoRestart restarts the job automatically when it stays unhealthy (docs/NOTIFICATIONS.md): from its
	// latest retained checkpoint, else its newest completed savepoint. Only for application jobs that run
	// one Flink job, and only where the gateway allows it (health.autoRestart).
	AutoRestart *AutoRestartSpec `json:"autoRestart,omitempty"`
	// Notifications are webhooks that receive the job's events (state and health changes, savepoints,
	// upgrade steps), besides the gateway's global ones. At most 4.
	Notifications []Webhook `json:"notifications,omitempty"`
}

// AutoRestartSpec is a job's automatic restart policy.
type AutoRestartSpec struct {
	// AfterSeconds is how long the job must be unhealthy, without a break, before it is restarted (at
	// least 1).
	AfterSeconds int `json:"afterSeconds"`
	// MaxRestarts caps the automatic restarts over the job's life (1 to 100).
	MaxRestarts int `json:"maxRestarts"`
}

// JobManagerSpec sizes the JobManager.
type JobManagerSpec struct {
	// Memory is the JobManager's process memory, such as "1600m".
	Memory string `json:"memory,omitempty"`
}

// TaskManagerSpec sizes the TaskManagers.
type TaskManagerSpec struct {
	// Memory is each TaskManager's process memory, such as "1728m".
	Memory string `json:"memory,omitempty"`
	// Slots is the number of task slots per TaskManager.
	Slots *int `json:"slots,omitempty"`
}

// SavepointSpec restores a job from a savepoint or retained checkpoint.
type SavepointSpec struct {
	// Path is the savepoint's or checkpoint's path.
	Path string `json:"path"`
	// AllowNonRestoredState skips state that maps to no operator.
	AllowNonRestoredState bool `json:"allowNonRestoredState,omitempty"`
	// ClaimMode says who owns the restored snapshot's files: NO_CLAIM (the default: Flink never deletes
	// them; its first checkpoint is a full one), CLAIM (the restored job owns them and may delete them)
	// or LEGACY (Flink 1.20 only: neither).
	ClaimMode ClaimMode `json:"claimMode,omitempty"`
}

// ClaimMode is how a job restored from a snapshot treats its files.
type ClaimMode string

// Claim modes.
const (
	ClaimModeClaim   ClaimMode = "CLAIM"
	ClaimModeNoClaim ClaimMode = "NO_CLAIM"
	ClaimModeLegacy  ClaimMode = "LEGACY"
)

// SessionRequest is the body of POST /v1/sessions.
type SessionRequest struct {
	// Name names the session (default "yarngate-session").
	Name string `json:"name"`
	// Queue is the YARN queue.
	Queue string `json:"queue,omitempty"`
	// JobManager sizes the JobManager.
	JobManager *JobManagerSpec `json:"jobManager,omitempty"`
	// TaskManager sizes the TaskManagers.
	TaskManager *TaskManagerSpec `json:"taskManager,omitempty"`
	// FlinkVersion selects a registered Flink distribution.
	FlinkVersion string `json:"flinkVersion,omitempty"`
	// FlinkConfig are Flink configuration overrides (string, number or boolean values).
	FlinkConfig map[string]any `json:"flinkConfig,omitempty"`
	// KeytabID names a stored keytab the session cluster logs in with (see JobRequest.KeytabID).
	KeytabID string `json:"keytabId,omitempty"`
	// ACL grants others access to the session; its modify list says who may submit jobs into it.
	ACL *ACL `json:"acl,omitempty"`
	// ProxyUser creates the session for another user (see JobRequest.ProxyUser).
	ProxyUser string `json:"proxyUser,omitempty"`
}

// ACL grants users and groups other than the owner access to a job or session, like YARN's application
// ACLs. Entries are user names, "group:<name>" for a group, or "*" for every authenticated caller.
type ACL struct {
	// View lists who may see it.
	View []string `json:"view,omitempty"`
	// Modify lists who may act on it: cancel a job; stop a session and submit jobs into it. Modify
	// implies view.
	Modify []string `json:"modify,omitempty"`
}
