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
