package gateway

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/yarnclient"
)

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
func deriveState(yarn yarnclient.AppState, final yarnclient.FinalStatus, flink jobmanager.JobStatus) api.JobState {
	switch yarn {
	case yarnclient.StateNew, yarnclient.StateNewSaving, yarnclient.StateSubmitted:
		return api.StateSubmitted
	case yarnclient.StateAccepted:
		return api.StateAccepted
	case yarnclient.StateRunning:
		switch flink {
		case "RUNNING", "RESTARTING", "FAILING", "CANCELLING", "RECONCILING":
			return api.StateRunning
		case "FINISHED":
			return api.StateFinished
		case "FAILED":
			return api.StateFailed
		case "CANCELED":
			return api.StateCanceled
		}
		return api.StateStarting
	case yarnclient.StateFinished:
		switch final {
		case yarnclient.FinalSucceeded:
			return api.StateFinished
		case yarnclient.FinalKilled:
			return api.StateCanceled
		}
		return api.StateFailed
	case yarnclient.StateFailed:
		return api.StateFailed
	case yarnclient.StateKilled:
		return api.StateKilled
	}
	return api.StateSubmitted
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
