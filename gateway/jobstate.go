package gateway

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/yarnclient"
)

// JobState is the one state set of a job, whatever its target. See deriveState for how it follows from the
// YARN application report and the Flink job status.
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

// jobStates lists every state in lifecycle order.
var jobStates = []JobState{StateSubmitted, StateAccepted, StateStarting, StateRunning,
	StateFinished, StateFailed, StateCanceled, StateKilled, StateLost}

// ParseJobState parses a state name, case-insensitively.
func ParseJobState(s string) (JobState, bool) {
	for _, st := range jobStates {
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

// rank orders the transient states; every terminal state ranks above them all.
func (s JobState) rank() int {
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

// reached reports whether a job in state s satisfies a wait for target: it is in target, past it, or
// terminal.
func (s JobState) reached(target JobState) bool {
	return s == target || s.Terminal() || (!target.Terminal() && s.rank() >= target.rank())
}

// deriveState maps a YARN application state and final status, and the Flink job status when it is known
// (flink == ""), to the job state:
//
//	YARN NEW, NEW_SAVING, SUBMITTED           → SUBMITTED
//	YARN ACCEPTED                             → ACCEPTED
//	YARN RUNNING, Flink unknown/INITIALIZING/CREATED/SUSPENDED → STARTING
//	YARN RUNNING, Flink RUNNING/RESTARTING/FAILING/CANCELLING/RECONCILING → RUNNING
//	YARN RUNNING, Flink FINISHED/FAILED/CANCELED → FINISHED/FAILED/CANCELED (the cluster is shutting down)
//	YARN FINISHED + SUCCEEDED                 → FINISHED
//	YARN FINISHED + KILLED                    → CANCELED (Flink reports a canceled job this way)
//	YARN FINISHED + FAILED or UNDEFINED       → FAILED
//	YARN FAILED                               → FAILED
//	YARN KILLED                               → KILLED
func deriveState(yarn yarnclient.AppState, final yarnclient.FinalStatus, flink jobmanager.JobStatus) JobState {
	switch yarn {
	case yarnclient.StateNew, yarnclient.StateNewSaving, yarnclient.StateSubmitted:
		return StateSubmitted
	case yarnclient.StateAccepted:
		return StateAccepted
	case yarnclient.StateRunning:
		switch flink {
		case "RUNNING", "RESTARTING", "FAILING", "CANCELLING", "RECONCILING":
			return StateRunning
		case "FINISHED":
			return StateFinished
		case "FAILED":
			return StateFailed
		case "CANCELED":
			return StateCanceled
		}
		return StateStarting
	case yarnclient.StateFinished:
		switch final {
		case yarnclient.FinalSucceeded:
			return StateFinished
		case yarnclient.FinalKilled:
			return StateCanceled
		}
		return StateFailed
	case yarnclient.StateFailed:
		return StateFailed
	case yarnclient.StateKilled:
		return StateKilled
	}
	return StateSubmitted
}

// Job is the job object of the API.
type Job struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Target    string    `json:"target"`
	State     JobState  `json:"state"`
	Terminal  bool      `json:"terminal"`
	YARN      JobYARN   `json:"yarn"`
	Flink     JobFlink  `json:"flink"`
	Links     JobLinks  `json:"links"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// JobYARN is the YARN side of a job.
type JobYARN struct {
	ApplicationID string `json:"applicationId"`
	State         string `json:"state"`
	FinalStatus   string `json:"finalStatus"`
	Diagnostics   string `json:"diagnostics"`
	Queue         string `json:"queue"`
	User          string `json:"user"`
}

// JobFlink is the Flink side of a job. State is nil while the JobManager has not reported the job.
// Failure is the root exception of a failed job (first line and deepest cause), from the JobManager while
// it runs and from the job archive after.
type JobFlink struct {
	JobID   string  `json:"jobId"`
	State   *string `json:"state"`
	Version string  `json:"version,omitempty"`
	Failure *string `json:"failure"`
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

// flinkJobID derives the Flink job ID the gateway fixes for an application-mode job from its YARN
// application ID: the cluster timestamp and the sequence number as two 16-digit hex halves, unique per
// ResourceManager cluster and known before the cluster starts.
func flinkJobID(appID string) (string, error) {
	parts := strings.Split(appID, "_")
	if len(parts) != 3 || parts[0] != "application" {
		return "", fmt.Errorf("%q is not an application id", appID)
	}
	ts, err1 := strconv.ParseUint(parts[1], 10, 64)
	seq, err2 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("%q is not an application id", appID)
	}
	return fmt.Sprintf("%016x%016x", ts, seq), nil
}

// diagnosticsLimit bounds the diagnostics text of a job object.
const diagnosticsLimit = 4096

// cleanDiagnostics trims YARN's diagnostics: no Java stack frames, bounded length.
func cleanDiagnostics(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "at ") || strings.HasPrefix(t, "... ") {
			continue
		}
		keep = append(keep, t)
	}
	out := strings.Join(keep, "\n")
	if len(out) > diagnosticsLimit {
		out = strings.ToValidUTF8(out[:diagnosticsLimit], "") + "…" // no rune cut in half
	}
	return out
}

func ptr[T any](v T) *T { return &v }
