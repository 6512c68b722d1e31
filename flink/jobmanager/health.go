package jobmanager

import (
	"context"
	"errors"
	"net/url"
	"time"
)

// Failures returns the times of the failures in a job's exception history (GET /jobs/{id}/exceptions),
// newest first. The JobManager keeps a bounded history (web.exception-history-size, 16 by default).
func (c *Client) Failures(ctx context.Context, jobID string) ([]time.Time, error) {
	var body struct {
		History struct {
			Entries []struct {
				Timestamp int64 `json:"timestamp"`
			} `json:"entries"`
		} `json:"exceptionHistory"`
	}
	if err := c.getJSON(ctx, "/jobs/"+url.PathEscape(jobID)+"/exceptions?maxExceptions=64", &body); err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, len(body.History.Entries))
	for _, e := range body.History.Entries {
		if e.Timestamp > 0 {
			out = append(out, time.UnixMilli(e.Timestamp))
		}
	}
	return out, nil
}

// Checkpoints is what GET /jobs/{id}/checkpoints says of a job's checkpoints.
type Checkpoints struct {
	// Enabled says the job checkpoints (its checkpoint configuration exists).
	Enabled bool
	// Completed counts completed checkpoints; LastCompleted is when the latest one completed (zero: none).
	Completed     int64
	LastCompleted time.Time
}

// CheckpointStats returns the checkpointing figures of a job: one call for the configuration (404 when
// checkpointing is disabled) and, when enabled, one for the statistics.
func (c *Client) CheckpointStats(ctx context.Context, jobID string) (Checkpoints, error) {
	var cfg map[string]any
	err := c.getJSON(ctx, "/jobs/"+url.PathEscape(jobID)+"/checkpoints/config", &cfg)
	if errors.Is(err, ErrNotFound) {
		return Checkpoints{}, nil
	}
	if err != nil {
		return Checkpoints{}, err
	}
	var body struct {
		Counts struct {
			Completed int64 `json:"completed"`
		} `json:"counts"`
		Latest struct {
			Completed *struct {
				LatestAck int64 `json:"latest_ack_timestamp"`
			} `json:"completed"`
		} `json:"latest"`
	}
	if err := c.getJSON(ctx, "/jobs/"+url.PathEscape(jobID)+"/checkpoints", &body); err != nil {
		return Checkpoints{}, err
	}
	out := Checkpoints{Enabled: true, Completed: body.Counts.Completed}
	if l := body.Latest.Completed; l != nil && l.LatestAck > 0 {
		out.LastCompleted = time.UnixMilli(l.LatestAck)
	}
	return out, nil
}

// Backpressure returns an operator's backpressure level (GET /jobs/{id}/vertices/{vertex}/backpressure): ok,
// low or high, or "" while the JobManager has no sample yet (the first call starts one).
func (c *Client) Backpressure(ctx context.Context, jobID, vertexID string) (string, error) {
	var body struct {
		Status string `json:"status"`
		Level  string `json:"backpressureLevel"`
	}
	if err := c.getJSON(ctx, "/jobs/"+url.PathEscape(jobID)+"/vertices/"+url.PathEscape(vertexID)+"/backpressure", &body); err != nil {
		return "", err
	}
	if body.Status != "ok" {
		return "", nil
	}
	return body.Level, nil
}

// LatestCheckpoint returns the external path of a job's latest completed checkpoint (GET
// /jobs/{id}/checkpoints, latest.completed.external_path); "" when none completed.
func (c *Client) LatestCheckpoint(ctx context.Context, jobID string) (string, error) {
	var body struct {
		Latest struct {
			Completed *struct {
				ExternalPath string `json:"external_path"`
			} `json:"completed"`
		} `json:"latest"`
	}
	if err := c.getJSON(ctx, "/jobs/"+url.PathEscape(jobID)+"/checkpoints", &body); err != nil {
		return "", err
	}
	if l := body.Latest.Completed; l != nil && l.ExternalPath != "<checkpoint-not-externally-addressable>" {
		return l.ExternalPath, nil
	}
	return "", nil
}

// RetainsCheckpoints reports whether a job's completed checkpoints outlive its cancellation (GET
// /jobs/{id}/checkpoints/config: externalization enabled and not delete_on_cancellation); a job that does
// not checkpoint (404) retains none.
func (c *Client) RetainsCheckpoints(ctx context.Context, jobID string) (bool, error) {
	var cfg struct {
		Externalization struct {
			Enabled              bool `json:"enabled"`
			DeleteOnCancellation bool `json:"delete_on_cancellation"`
		} `json:"externalization"`
	}
	err := c.getJSON(ctx, "/jobs/"+url.PathEscape(jobID)+"/checkpoints/config", &cfg)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return cfg.Externalization.Enabled && !cfg.Externalization.DeleteOnCancellation, nil
}
