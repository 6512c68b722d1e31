package jobmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// SavepointTrigger asks for a savepoint of a running job (POST /jobs/:jobid/savepoints).
type SavepointTrigger struct {
	// TargetDirectory is where the savepoint goes; "" for the cluster's state.savepoints.dir.
	TargetDirectory string `json:"target-directory,omitempty"`
	// CancelJob cancels the job once the savepoint is taken (deprecated by Flink: prefer Stop).
	CancelJob bool `json:"cancel-job"`
	// FormatType is CANONICAL or NATIVE.
	FormatType string `json:"formatType,omitempty"`
	// TriggerID (32 hex digits) makes the trigger idempotent: the JobManager answers a repeated trigger id
	// with the operation it started.
	TriggerID string `json:"triggerId,omitempty"`
}

// StopRequest asks for a stop with a savepoint (POST /jobs/:jobid/stop).
type StopRequest struct {
	TargetDirectory string `json:"targetDirectory,omitempty"`
	// Drain emits MAX_WATERMARK before stopping.
	Drain      bool   `json:"drain"`
	FormatType string `json:"formatType,omitempty"`
	TriggerID  string `json:"triggerId,omitempty"`
}

// SavepointStatus is the outcome of an asynchronous savepoint (or disposal) operation.
type SavepointStatus struct {
	// Completed says the operation ended; Location is the savepoint's path (savepoints), Failure the
	// first line of the failure's cause when it failed.
	Completed bool
	Location  string
	Failure   string
}

// TriggerSavepoint triggers a savepoint and returns the trigger id (the request's, when it set one).
func (c *Client) TriggerSavepoint(ctx context.Context, jobID string, req SavepointTrigger) (string, error) {
	return c.trigger(ctx, "/jobs/"+url.PathEscape(jobID)+"/savepoints", req)
}

// Stop stops a job with a savepoint and returns the trigger id; the savepoint's outcome is read with
// Savepoint like a triggered one's.
func (c *Client) Stop(ctx context.Context, jobID string, req StopRequest) (string, error) {
	return c.trigger(ctx, "/jobs/"+url.PathEscape(jobID)+"/stop", req)
}

// Savepoint reads the status of a savepoint trigger (GET /jobs/:jobid/savepoints/:triggerid). An unknown
// trigger is an error that unwraps to ErrNotFound.
func (c *Client) Savepoint(ctx context.Context, jobID, triggerID string) (SavepointStatus, error) {
	return c.operation(ctx, "/jobs/"+url.PathEscape(jobID)+"/savepoints/"+url.PathEscape(triggerID))
}

// DisposeSavepoint asks the JobManager to dispose of a savepoint (POST /savepoint-disposal), which removes its
// files whatever state backend wrote it, and returns the trigger id of the disposal.
func (c *Client) DisposeSavepoint(ctx context.Context, path string) (string, error) {
	return c.trigger(ctx, "/savepoint-disposal", map[string]string{"savepoint-path": path})
}

// Disposal reads the status of a disposal (GET /savepoint-disposal/:triggerid).
func (c *Client) Disposal(ctx context.Context, triggerID string) (SavepointStatus, error) {
	return c.operation(ctx, "/savepoint-disposal/"+url.PathEscape(triggerID))
}

// trigger posts an asynchronous operation's request and returns its request id.
func (c *Client) trigger(ctx context.Context, path string, req any) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("jobmanager: encode %s: %w", path, err)
	}
	body, err := c.do(ctx, http.MethodPost, path, "application/json", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	var resp struct {
		RequestID string `json:"request-id"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.RequestID == "" {
		return "", fmt.Errorf("jobmanager: %s answer %q: %w", path, truncate(string(body), 200), ErrUnavailable)
	}
	return resp.RequestID, nil
}

// operation reads the status of an asynchronous operation: {"status": {"id": "IN_PROGRESS|COMPLETED"},
// "operation": {"location": ..., "failure-cause": {"class": ..., "stack-trace": ...}}}.
func (c *Client) operation(ctx context.Context, path string) (SavepointStatus, error) {
	var body struct {
		Status struct {
			ID string `json:"id"`
		} `json:"status"`
		Operation *struct {
			Location     string `json:"location"`
			FailureCause *struct {
				Class      string `json:"class"`
				StackTrace string `json:"stack-trace"`
			} `json:"failure-cause"`
		} `json:"operation"`
	}
	if err := c.getJSON(ctx, path, &body); err != nil {
		return SavepointStatus{}, err
	}
	st := SavepointStatus{Completed: body.Status.ID == "COMPLETED"}
	if op := body.Operation; op != nil {
		st.Location = op.Location
		if fc := op.FailureCause; fc != nil {
			st.Failure = summarize(fc.StackTrace)
			if st.Failure == "" {
				st.Failure = or(fc.Class, "failed")
			}
		}
	}
	return st, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
