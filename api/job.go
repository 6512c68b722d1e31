package api

import (
	"strings"
	"time"
)

// JobState is the one state set of a job, whatever its target.
type JobState string

// Job states. SUBMITTED, ACCEPTED, STARTING and RUNNING are transient; the others are terminal and never
// change once reached.
const (
	// StateSubmitted: YARN has the application but has not accepted it yet (NEW, NEW_SAVING, SUBMITTED).
	StateSubmitted JobState = "SUBMITTED"
	// StateAccepted: YARN accepted the application and is waiting for the AM container (ACCEPTED).
	StateAccepted JobState = "ACCEPTED"
	// StateStarting: the JobManager runs; the Flink job does not run yet (main() running, job
	// INITIALIZING/CREATED, slots pending, or the JobManager not answering yet).
	StateStarting JobState = "STARTING"
	// StateRunning: the Flink job runs (also while RESTARTING, FAILING or CANCELLING).
	StateRunning JobState = "RUNNING"
	// StateFinished: the job finished successfully.
	StateFinished JobState = "FINISHED"
	// StateFailed: the job or its cluster failed.
	StateFailed JobState = "FAILED"
	// StateCanceled: the job was canceled through Flink.
	StateCanceled JobState = "CANCELED"
	// StateKilled: the YARN application was killed.
	StateKilled JobState = "KILLED"
	// StateLost: the gateway can no longer find the job's application.
	StateLost JobState = "LOST"
)

// JobStates lists every job state in lifecycle order.
func JobStates() []JobState {
	return []JobState{StateSubmitted, StateAccepted, StateStarting, StateRunning,
		StateFinished, StateFailed, StateCanceled, StateKilled, StateLost}
}

// ParseJobState parses a state name, case-insensitively.
func ParseJobState(s string) (JobState, bool) {
	for _, st := range JobStates() {
		if strings.EqualFold(s, string(st)) {
			return st, true
		}
	}
	return "", false
}

// Terminal reports whether the state is final.
func (s JobState) Terminal() bool {
	switch s {
	case StateFinished, StateFailed, StateCanceled, StateKilled, StateLost:
		return true
	}
	return false
}

// Rank orders the transient states (SUBMITTED 0 to RUNNING 3); every terminal state ranks above them all.
func (s JobState) Rank() int {
	switch s {
	case StateSubmitted:
		return 0
	case StateAccepted:
		return 1
	case StateStarting:
		return 2
	case StateRunning:
		return 3
	}
	return 4
}

// Reached reports whether a job in state s satisfies a wait for target: it is in target, past it, or
// terminal.
func (s JobState) Reached(target JobState) bool {
	return s == target || s.Terminal() || (!target.Terminal() && s.Rank() >= target.Rank())
}

// Job is the job object of the API.
type Job struct {
	// ID is the YARN application id (application jobs) or "<session id>.<Flink job id>" (session jobs).
	ID string `json:"id"`
	// Name is the job's name from its request.
	Name string `json:"name"`
	// Target is "application", "session" or "cluster".
	Target string `json:"target"`
	// ClusterID is the registered cluster a job with target cluster runs in.
	ClusterID string `json:"clusterId,omitempty"`
	// State is the job state.
	State JobState `json:"state"`
	// Terminal says whether State is final.
	Terminal bool `json:"terminal"`
	// YARN is the YARN side of the job.
	YARN JobYARN `json:"yarn"`
	// Flink is the Flink side of the job.
	Flink JobFlink `json:"flink"`
	// Links are the job's web addresses.
	Links JobLinks `json:"links"`
	// Owner is the user the job belongs to: the short name of the caller's principal, or the proxyUser a
	// service submitted it for.
	Owner string `json:"owner"`
	// SubmittedBy is the principal that submitted the job, as authenticated (alice@EXAMPLE.COM; a service's
	// principal when it acted for the owner with proxyUser); absent for adopted applications.
	SubmittedBy string `json:"submittedBy,omitempty"`
	// ACL is who else may see or act on the job; absent when nobody else may (besides administrators).
	ACL *ACL `json:"acl,omitempty"`
	// Credentials, on a Kerberized cluster, say what the job's cluster was launched with and until when it
	// can reach HDFS; absent with simple authentication.
	Credentials *Credentials `json:"credentials,omitempty"`
	// Health is the health of a running job, from its JobManager; absent while it is not
	// assessed (the job does not run, or health checks are off).
	Health *JobHealth `json:"health,omitempty"`
	// AutoRestart is the job's automatic restart policy and the restarts it caused; absent when its request
	// asked for none.
	AutoRestart *JobAutoRestart `json:"autoRestart,omitempty"`
	// Notifications are the job's own webhooks (their secrets by name only).
	Notifications []Webhook `json:"notifications,omitempty"`
	// CreatedAt is when the gateway first saw the job.
	CreatedAt time.Time `json:"createdAt"`
	// UpdatedAt is when the object last changed.
	UpdatedAt time.Time `json:"updatedAt"`
	// History lists the states the job went through, oldest first, never null.
	History []StateChange `json:"history"`
	// Upgrade is the job's latest upgrade (POST /v1/jobs/{id}/upgrade); absent when never upgraded.
	Upgrade *JobUpgrade `json:"upgrade,omitempty"`
	// Runs are the job's applications, oldest first, once it was upgraded (the id stays the first's).
	Runs []JobRun `json:"runs,omitempty"`
}

// StateChange is one entry of a job's or session's history: a state it reached, when, and why when the
// gateway knows more than the state says (a LOST job's cause).
type StateChange struct {
	// State is the state reached.
	State string `json:"state"`
	// At is when the gateway saw it reached.
	At time.Time `json:"at"`
	// Reason says why, when known; empty otherwise.
	Reason string `json:"reason,omitempty"`
}

// Health statuses of a job.
const (
	HealthHealthy   = "healthy"
	HealthDegraded  = "degraded"
	HealthUnhealthy = "unhealthy"
	HealthUnknown   = "unknown"
)

// JobHealth is a running job's health.
type JobHealth struct {
	// Status is healthy, degraded, unhealthy or unknown (the JobManager did not answer).
	Status string `json:"status"`
	// Reasons say why the status is not healthy.
	Reasons []string `json:"reasons"`
	// Restarts counts the job's restarts within the configured window (health.restartWindow).
	Restarts int `json:"restarts"`
	// Checkpointing says the job checkpoints; LastCheckpointAt is when its latest checkpoint completed
	// (null: none yet, or no checkpointing).
	Checkpointing    bool       `json:"checkpointing"`
	LastCheckpointAt *time.Time `json:"lastCheckpointAt"`
	// Backpressure is the worst operator's backpressure level (ok, low, high), null when not sampled.
	Backpressure *string `json:"backpressure"`
	// AssessedAt is when the assessment last changed.
	AssessedAt time.Time `json:"assessedAt"`
}

// JobAutoRestart is a job's automatic restart policy and what came of it.
type JobAutoRestart struct {
	// AfterSeconds and MaxRestarts are the policy (the request's autoRestart).
	AfterSeconds int `json:"afterSeconds"`
	MaxRestarts  int `json:"maxRestarts"`
	// Enabled says the gateway restarts jobs automatically (health.autoRestart); false: the policy waits.
	Enabled bool `json:"enabled"`
	// Restarts counts the automatic restarts begun; each one is an upgrade with the id auto-restart-<n>.
	Restarts int `json:"restarts"`
	// LastRestartAt is when the latest began and LastReason why (the health that caused it); null before
	// the first.
	LastRestartAt *time.Time `json:"lastRestartAt"`
	LastReason    *string    `json:"lastReason"`
}

// Webhook is a notification target of a job (docs/NOTIFICATIONS.md).
type Webhook struct {
	// URL is called with POST: https, or http to a host the gateway allows (notify.allowHosts).
	URL string `json:"url"`
	// Events are the event types sent: state, health, savepoint, upgrade; empty: all.
	Events []string `json:"events,omitempty"`
	// Secret names the gateway's signing secret (notify.secrets) the calls are signed with; the secret
	// itself is never part of a request or a job.
	Secret string `json:"secret"`
}

// Credentials are what a cluster on a Kerberized Hadoop was launched with.
type Credentials struct {
	// HDFSTokenExpiresAt is the maximum date of the HDFS delegation token the cluster was launched with:
	// YARN renews the token until then, never beyond.
	HDFSTokenExpiresAt time.Time `json:"hdfsTokenExpiresAt"`
	// HDFSAccessUntil is when the cluster loses access to HDFS (checkpoints, HA data, new TaskManagers):
	// HDFSTokenExpiresAt for a cluster without a keytab; null for one that logs in with a keytab and
	// obtains new tokens itself.
	HDFSAccessUntil *time.Time `json:"hdfsAccessUntil"`
	// KeytabPrincipal is the principal of the keytab the cluster logs in with; null without one.
	KeytabPrincipal *string `json:"keytabPrincipal"`
}

// JobYARN is the YARN side of a job.
type JobYARN struct {
	// ApplicationID is the YARN application id.
	ApplicationID string `json:"applicationId"`
	// State is YARN's application state.
	State string `json:"state"`
	// FinalStatus is YARN's final status of the application.
	FinalStatus string `json:"finalStatus"`
	// Diagnostics is YARN's diagnostics text, without Java stack frames and bounded in length.
	Diagnostics string `json:"diagnostics"`
	// Queue is the YARN queue the application runs in.
	Queue string `json:"queue"`
	// User is the user the application runs as.
	User string `json:"user"`
}

// JobFlink is the Flink side of a job. State is nil while the JobManager has not reported the job.
// Failure is the root exception of a failed job (first line and deepest cause), from the JobManager while
// it runs and from the job archive after.
type JobFlink struct {
	// JobID is the Flink job id: fixed by the gateway for an application job, chosen by it for a session
	// job; for an application that runs several jobs (multipleJobs), the first job's id once known (every
	// job is in Jobs).
	JobID string `json:"jobId"`
	// State is the Flink job status, nil while the JobManager has not reported it.
	State *string `json:"state"`
	// Version is the Flink version the job runs on.
	Version string `json:"version,omitempty"`
	// Failure is the root exception of a failed job, nil when none is known. For an application whose
	// main() failed after its Flink job finished, it is main()'s failure while State stays FINISHED.
	Failure *string `json:"failure"`
	// Jobs lists every Flink job the application ran, in the order first seen (one for a single job).
	Jobs []FlinkJob `json:"jobs"`
}

// FlinkJob is one Flink job of an application.
type FlinkJob struct {
	// ID is the Flink job id.
	ID string `json:"id"`
	// Name is the job's name (the name given to execute()).
	Name string `json:"name"`
	// State is the Flink job status as its JobManager or archive last reported it.
	State string `json:"state"`
}

// JobLinks are the job's web addresses. FlinkUI and JobManager are nil while no JobManager runs.
type JobLinks struct {
	// YARN is the application's page in the ResourceManager UI.
	YARN string `json:"yarn"`
	// FlinkUI is the Flink web UI through the ResourceManager's web proxy.
	FlinkUI *string `json:"flinkUi"`
	// JobManager is the JobManager's REST base URL.
	JobManager *string `json:"jobManager"`
}

// JobList is the body of GET /v1/jobs.
type JobList struct {
	// Jobs are the jobs, never null.
	Jobs []Job `json:"jobs"`
	// NextCursor names the next page (?cursor=); absent on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// CancelRequest is the optional body of POST /v1/jobs/{id}/cancel.
type CancelRequest struct {
	// Kill skips Flink's cancel and kills the YARN application.
	Kill bool `json:"kill"`
}
