// Package observe derives the status of jobs and sessions from what was observed of them: the previous
// status (from the record), the ResourceManager's report of the application and the JobManager's answers.
// Every function here is pure: no I/O, no clock (the time is an argument), no goroutines. What should be done
// about an observation (remove launch files, look for a failure, kill a session whose stop stalled) comes
// back as follow-up actions, which the reconciler performs. Every state machine of the gateway is in
// state.go; this file holds the types.
//
// Model: the Flink Kubernetes Operator's observer (JobStatusObserver) beside its reconciler.
//
// Dependency rule: observe imports api and the standard library only; `make lint` refuses I/O packages and
// cluster clients here.
package observe

import (
	"slices"
	"time"
)

// SchemaVersion is the version of Status as records store it. Bump it when a field changes meaning, and
// teach the reader in package job to convert older versions.
const SchemaVersion = 1

// Kind says what a status describes.
type Kind string

// Kinds of status; the registry's record kinds use the same words.
const (
	// KindJob is a job in its own application cluster.
	KindJob Kind = "job"
	// KindSession is a session cluster.
	KindSession Kind = "session"
	// KindSessionJob is a job submitted into a session cluster.
	KindSessionJob Kind = "session-job"
)

// Status is what the gateway knows of one job or session at one time: the typed, versioned part of its
// record, from which the API object is rendered.
type Status struct {
	// Schema is SchemaVersion when written.
	Schema int `json:"schema"`
	// State is an api.JobState (jobs) or an api.SessionState (sessions).
	State string `json:"state"`
	// Since is when State was entered.
	Since time.Time `json:"since"`
	// Ran is set once the job or session has reached STARTING: a later ACCEPTED from YARN is a new
	// application attempt (a JobManager failover), not a new submission.
	Ran bool `json:"ran,omitempty"`
	// YARN is the application as last reported.
	YARN YARN `json:"yarn"`
	// Flink is the Flink side.
	Flink Flink `json:"flink"`
	// JobManager is the REST base URL of the JobManager while one runs; empty otherwise.
	JobManager string `json:"jobManager,omitempty"`
	// StopRequested is when the gateway began to stop a session; zero otherwise.
	StopRequested time.Time `json:"stopRequested,omitzero"`
	// Health is the last assessment of a running job's health (zero when not assessed).
	Health Health `json:"health,omitzero"`
}

// YARN is the YARN side of a status.
type YARN struct {
	ApplicationID string `json:"applicationId"`
	State         string `json:"state"`
	FinalStatus   string `json:"finalStatus,omitempty"`
	// Diagnostics are YARN's, trimmed (CleanDiagnostics), or the gateway's reason for LOST.
	Diagnostics string `json:"diagnostics,omitempty"`
	Queue       string `json:"queue,omitempty"`
	User        string `json:"user,omitempty"`
	// AMContainerLogs is the NodeManager address of the JobManager container's logs.
	AMContainerLogs string `json:"amContainerLogs,omitempty"`
}

// Flink is the Flink side of a status.
type Flink struct {
	// Version is the Flink version the cluster runs.
	Version string `json:"version,omitempty"`
	// JobID is the Flink job id the gateway fixed; empty for an application that may run several jobs.
	JobID string `json:"jobId,omitempty"`
	// MultipleJobs marks an application whose main() may run several Flink jobs (no fixed job id).
	MultipleJobs bool `json:"multipleJobs,omitempty"`
	// State is the Flink job's status as the JobManager spells it; empty while unknown.
	State string `json:"state,omitempty"`
	// Failure is the root exception of a failed job (or a failed main()), once known.
	Failure string `json:"failure,omitempty"`
	// Jobs lists every Flink job an application ran, in the order they were first seen.
	Jobs []FlinkJob `json:"jobs,omitempty"`
}

// FlinkJob is one Flink job as a JobManager or its archive reports it.
type FlinkJob struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	State string `json:"state"`
}

// Report is what the ResourceManager reported of an application.
type Report struct {
	State           string
	FinalStatus     string
	Diagnostics     string
	Queue           string
	User            string
	AMContainerLogs string
}

// JobManager is what the JobManager of a cluster answered in one observation.
type JobManager struct {
	// URL is the JobManager's REST base; empty when no JobManager is known (none runs, or YARN has not
	// reported one yet).
	URL string
	// Answered says the JobManager answered the calls made.
	Answered bool
	// Job is the job asked about; nil when the JobManager does not know it (or was not asked).
	Job *FlinkJob
	// Jobs are all jobs the JobManager lists (applications with several jobs).
	Jobs []FlinkJob
	// RootException is the first line and deepest cause of a failing job's root exception.
	RootException string
	// Recovering says the JobManager became leader recently: it may not have recovered its jobs from the
	// HA stores yet, so a job it does not know is not lost.
	Recovering bool
}

// Archive is what a JobManager archived of an ended job in HDFS.
type Archive struct {
	JobID   string
	Name    string
	State   string
	Failure string
}

// Observation is everything seen of one job or session in one pass.
type Observation struct {
	// Report is the ResourceManager's report of the application (of the session, for a session job).
	Report Report
	// JobManager is what its JobManager answered.
	JobManager JobManager
	// Archives are job archives read for this observation (ended jobs).
	Archives []Archive
	// Now is the time of the observation.
	Now time.Time
}

// Action is follow-up work an observation asks for; the reconciler performs it.
type Action struct {
	Kind ActionKind
	// ApplicationID is the application acted on.
	ApplicationID string
	// JobID is the Flink job whose failure to look for (FindFailure).
	JobID string
	// Logs is the NodeManager address of the JobManager's logs (FindFailure).
	Logs string
}

// ActionKind names follow-up work.
type ActionKind string

// Follow-up actions.
const (
	// RemoveLaunchFiles: the application ended; remove its launch files (Flink leaves them after a kill).
	RemoveLaunchFiles ActionKind = "remove-launch-files"
	// FindFailure: the job failed and its failure is not known; look in the job archive, then in the
	// JobManager log the NodeManager keeps.
	FindFailure ActionKind = "find-failure"
	// KillStalledStop: a session's stop did not complete within its grace; kill its application.
	KillStalledStop ActionKind = "kill-stalled-stop"
)

// Equal reports whether two statuses are the same, so that an unchanged status is never written again.
func (s Status) Equal(o Status) bool {
	return s.Schema == o.Schema && s.State == o.State && s.Since.Equal(o.Since) && s.Ran == o.Ran &&
		s.YARN == o.YARN && s.JobManager == o.JobManager && s.StopRequested.Equal(o.StopRequested) &&
		s.Flink.Version == o.Flink.Version && s.Flink.JobID == o.Flink.JobID &&
		s.Flink.MultipleJobs == o.Flink.MultipleJobs && s.Flink.State == o.Flink.State &&
		s.Flink.Failure == o.Flink.Failure && slices.Equal(s.Flink.Jobs, o.Flink.Jobs) && s.Health.Equal(o.Health)
}

// clone copies a status, so that changes to the copy's slices leave the original alone.
func (s Status) clone() Status {
	s.Flink.Jobs = slices.Clone(s.Flink.Jobs)
	s.Health.Reasons = slices.Clone(s.Health.Reasons)
	return s
}
