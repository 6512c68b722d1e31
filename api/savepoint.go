package api

import "time"

// SavepointFormat is the format of a savepoint's files: CANONICAL (portable across state backends) or NATIVE
// (the state backend's own, faster to take and restore).
type SavepointFormat string

// Savepoint formats.
const (
	FormatCanonical SavepointFormat = "CANONICAL"
	FormatNative    SavepointFormat = "NATIVE"
)

// SavepointState is where a savepoint stands.
type SavepointState string

// Savepoint states. IN_PROGRESS is transient; the others are final.
const (
	// SavepointInProgress: the JobManager is taking it.
	SavepointInProgress SavepointState = "IN_PROGRESS"
	// SavepointCompleted: it was written; path says where.
	SavepointCompleted SavepointState = "COMPLETED"
	// SavepointFailed: the JobManager could not take it; failure says why.
	SavepointFailed SavepointState = "FAILED"
	// SavepointDisposed: retention dropped it and its files were removed.
	SavepointDisposed SavepointState = "DISPOSED"
)

// SavepointRequest is the body of POST /v1/jobs/{id}/savepoints. Every field is optional.
type SavepointRequest struct {
	// TriggerID makes the trigger idempotent: the same trigger id again answers with the savepoint it
	// started (1 to 64 letters, digits, '-', '_' and '.'). Without one the gateway chooses it.
	TriggerID string `json:"triggerId,omitempty"`
	// Format is CANONICAL (the default) or NATIVE.
	Format SavepointFormat `json:"format,omitempty"`
	// TargetDirectory is where Flink writes it (a URI or an absolute path); default the job's
	// state.savepoints.dir, else <stagingRoot>/savepoints/<job id>.
	TargetDirectory string `json:"targetDirectory,omitempty"`
}

// StopRequest is the body of POST /v1/jobs/{id}/stop.
type StopRequest struct {
	// Savepoint takes a savepoint as the job stops (Flink's stop-with-savepoint); required: a stop without a
	// savepoint is a cancel (POST /v1/jobs/{id}/cancel).
	Savepoint bool `json:"savepoint"`
	// Drain emits MAX_WATERMARK before the job stops, flushing event-time windows (a final stop, not one
	// to resume from).
	Drain bool `json:"drain,omitempty"`
	// Format, TargetDirectory and TriggerID are as in SavepointRequest.
	Format          SavepointFormat `json:"format,omitempty"`
	TargetDirectory string          `json:"targetDirectory,omitempty"`
	TriggerID       string          `json:"triggerId,omitempty"`
}

// Savepoint is one savepoint of a job, as GET /v1/jobs/{id}/savepoints lists it.
type Savepoint struct {
	// TriggerID identifies it (the caller's trigger id, or the gateway's).
	TriggerID string `json:"triggerId"`
	// JobID is the job it belongs to; ApplicationID the YARN application and FlinkJobID the Flink job that
	// took it.
	JobID         string `json:"jobId"`
	ApplicationID string `json:"applicationId"`
	FlinkJobID    string `json:"flinkJobId"`
	// State is IN_PROGRESS, COMPLETED, FAILED or DISPOSED.
	State SavepointState `json:"state"`
	// Format is CANONICAL or NATIVE.
	Format SavepointFormat `json:"format"`
	// Stop says it was taken by a stop (the job ended with it); Drain whether that stop drained.
	Stop  bool `json:"stop,omitempty"`
	Drain bool `json:"drain,omitempty"`
	// TargetDirectory is where it was asked to be written; Path is the savepoint itself once COMPLETED.
	TargetDirectory string  `json:"targetDirectory"`
	Path            *string `json:"path"`
	// Failure says why it FAILED (or why its disposal failed).
	Failure *string `json:"failure"`
	// RequestedBy is who triggered it; RequestedAt when; CompletedAt when it completed or failed;
	// DisposedAt when retention removed it.
	RequestedBy string     `json:"requestedBy,omitempty"`
	RequestedAt time.Time  `json:"requestedAt"`
	CompletedAt *time.Time `json:"completedAt"`
	DisposedAt  *time.Time `json:"disposedAt"`
}

// SavepointList is the answer of GET /v1/jobs/{id}/savepoints, newest first.
type SavepointList struct {
	Savepoints []Savepoint `json:"savepoints"`
}
