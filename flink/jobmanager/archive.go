package jobmanager

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotArchived means an archive holds no exceptions entry for the job.
var ErrNotArchived = errors.New("jobmanager: job not in archive")

// ArchivedRootException reads a job archive, the file a JobManager writes to jobmanager.archive.fs.dir
// when a job ends (the History Server's input: {"archive": [{"path": "/jobs/<id>/...", "json": "..."}]}),
// and returns the job's root exception shortened like RootException: the first line and the deepest cause.
// It returns "" for a job that ended without an exception.
func ArchivedRootException(archive []byte, jobID string) (string, error) {
	var a struct {
		Archive []struct {
			Path string `json:"path"`
			JSON string `json:"json"`
		} `json:"archive"`
	}
	if err := json.Unmarshal(archive, &a); err != nil {
		return "", fmt.Errorf("jobmanager: decode job archive: %w", err)
	}
	want := "/jobs/" + jobID + "/exceptions"
	for _, e := range a.Archive {
		if e.Path != want {
			continue
		}
		var ex struct {
			RootException string `json:"root-exception"`
			History       struct {
				Entries []struct {
					Stacktrace string `json:"stacktrace"`
				} `json:"entries"`
			} `json:"exceptionHistory"`
		}
		if err := json.Unmarshal([]byte(e.JSON), &ex); err != nil {
			return "", fmt.Errorf("jobmanager: decode archived exceptions of %s: %w", jobID, err)
		}
		msg := ex.RootException
		if msg == "" && len(ex.History.Entries) > 0 {
			msg = ex.History.Entries[0].Stacktrace
		}
		return summarize(msg), nil
	}
	return "", fmt.Errorf("%w: %s", ErrNotArchived, jobID)
}

// ArchivedJobStatus reads a job archive (see ArchivedRootException) and returns the status the job ended
// in (FINISHED, FAILED or CANCELED), from its "/jobs/<id>" entry.
func ArchivedJobStatus(archive []byte, jobID string) (JobStatus, error) {
	var a struct {
		Archive []struct {
			Path string `json:"path"`
			JSON string `json:"json"`
		} `json:"archive"`
	}
	if err := json.Unmarshal(archive, &a); err != nil {
		return "", fmt.Errorf("jobmanager: decode job archive: %w", err)
	}
	for _, e := range a.Archive {
		if e.Path != "/jobs/"+jobID {
			continue
		}
		var d JobDetail
		if err := json.Unmarshal([]byte(e.JSON), &d); err != nil {
			return "", fmt.Errorf("jobmanager: decode archived details of %s: %w", jobID, err)
		}
		if d.State == "" {
			break
		}
		return d.State, nil
	}
	return "", fmt.Errorf("%w: %s", ErrNotArchived, jobID)
}

// ArchivedSavepoint is a completed savepoint as a job archive's checkpoint statistics list it.
type ArchivedSavepoint struct {
	// Path is the savepoint's external path; TriggeredAt is when it was triggered, in milliseconds since the
	// epoch.
	Path        string
	TriggeredAt int64
}

// ArchivedSavepoints reads a job archive (see ArchivedRootException) and returns the completed savepoints its
// "/jobs/<id>/checkpoints" entry names: the latest savepoint and those in the checkpoint history (bounded by
// the cluster's web.checkpoints.history), without duplicates.
func ArchivedSavepoints(archive []byte, jobID string) ([]ArchivedSavepoint, error) {
	var a struct {
		Archive []struct {
			Path string `json:"path"`
			JSON string `json:"json"`
		} `json:"archive"`
	}
	if err := json.Unmarshal(archive, &a); err != nil {
		return nil, fmt.Errorf("jobmanager: decode job archive: %w", err)
	}
	type stat struct {
		Status       string `json:"status"`
		IsSavepoint  bool   `json:"is_savepoint"`
		ExternalPath string `json:"external_path"`
		Triggered    int64  `json:"trigger_timestamp"`
	}
	for _, e := range a.Archive {
		if e.Path != "/jobs/"+jobID+"/checkpoints" {
			continue
		}
		var cs struct {
			Latest struct {
				Savepoint *stat `json:"savepoint"`
			} `json:"latest"`
			History []stat `json:"history"`
		}
		if err := json.Unmarshal([]byte(e.JSON), &cs); err != nil {
			return nil, fmt.Errorf("jobmanager: decode archived checkpoints of %s: %w", jobID, err)
		}
		var out []ArchivedSavepoint
		seen := map[string]bool{}
		add := func(s stat) {
			if s.ExternalPath != "" && !seen[s.ExternalPath] && (s.Status == "" || s.Status == "COMPLETED") {
				seen[s.ExternalPath] = true
				out = append(out, ArchivedSavepoint{Path: s.ExternalPath, TriggeredAt: s.Triggered})
			}
		}
		if s := cs.Latest.Savepoint; s != nil {
			add(*s)
		}
		for _, s := range cs.History {
			if s.IsSavepoint {
				add(s)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotArchived, jobID)
}

// ArchivedLatestCheckpoint returns the external path of the latest completed checkpoint an ended job's archive
// names (its /jobs/{id}/checkpoints entry): with checkpoints retained on cancellation, the one a canceled job
// left behind. "" when it names none.
func ArchivedLatestCheckpoint(archive []byte, jobID string) (string, error) {
	var a struct {
		Archive []struct {
			Path string `json:"path"`
			JSON string `json:"json"`
		} `json:"archive"`
	}
	if err := json.Unmarshal(archive, &a); err != nil {
		return "", fmt.Errorf("jobmanager: decode job archive: %w", err)
	}
	for _, e := range a.Archive {
		if e.Path != "/jobs/"+jobID+"/checkpoints" {
			continue
		}
		var cs struct {
			Latest struct {
				Completed *struct {
					ExternalPath string `json:"external_path"`
				} `json:"completed"`
			} `json:"latest"`
		}
		if err := json.Unmarshal([]byte(e.JSON), &cs); err != nil {
			return "", fmt.Errorf("jobmanager: decode archived checkpoints of %s: %w", jobID, err)
		}
		if c := cs.Latest.Completed; c != nil && c.ExternalPath != "<checkpoint-not-externally-addressable>" {
			return c.ExternalPath, nil
		}
		return "", nil
	}
	return "", fmt.Errorf("%w: %s", ErrNotArchived, jobID)
}
