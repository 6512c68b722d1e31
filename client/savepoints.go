package client

import (
	"context"
	"net/http"
	"time"

	"github.com/yarngate/yarngate/api"
)

// TriggerSavepoint asks for a savepoint of a running job (POST /v1/jobs/{id}/savepoints). The same
// TriggerID again answers with the savepoint it started, so a retry never takes a second one.
func (c *Client) TriggerSavepoint(ctx context.Context, id string, req api.SavepointRequest) (api.Savepoint, error) {
	return c.savepointCall(ctx, "/v1/jobs/"+escape(id)+"/savepoints", req)
}

// StopJob stops a job with a savepoint (POST /v1/jobs/{id}/stop); the job then ends FINISHED.
func (c *Client) StopJob(ctx context.Context, id string, req api.StopRequest) (api.Savepoint, error) {
	return c.savepointCall(ctx, "/v1/jobs/"+escape(id)+"/stop", req)
}

func (c *Client) savepointCall(ctx context.Context, path string, body any) (api.Savepoint, error) {
	r, err := jsonRequest(http.MethodPost, path, body)
	if err != nil {
		return api.Savepoint{}, err
	}
	var sp api.Savepoint
	_, err = c.call(ctx, r, &sp)
	return sp, err
}

// ListSavepoints lists a job's savepoints, newest first (GET /v1/jobs/{id}/savepoints).
func (c *Client) ListSavepoints(ctx context.Context, id string) ([]api.Savepoint, error) {
	var l api.SavepointList
	_, err := c.call(ctx, &request{method: http.MethodGet, path: "/v1/jobs/" + escape(id) + "/savepoints"}, &l)
	return l.Savepoints, err
}

// SavepointPollInterval is how often WaitSavepoint asks again (the gateway has no long poll for savepoints).
const SavepointPollInterval = 2 * time.Second

// WaitSavepoint polls a job's savepoints until the one with triggerID is no longer IN_PROGRESS, or ctx ends.
// Transient failures (5xx, 429, lost connections) are retried like the job waits'.
func (c *Client) WaitSavepoint(ctx context.Context, id, triggerID string) (api.Savepoint, error) {
	for {
		sps, err := c.ListSavepoints(ctx, id)
		if err != nil && !retryable(err) {
			return api.Savepoint{}, err
		}
		for _, sp := range sps {
			if sp.TriggerID == triggerID && sp.State != api.SavepointInProgress {
				return sp, nil
			}
		}
		if err := sleep(ctx, SavepointPollInterval); err != nil {
			return api.Savepoint{}, err
		}
	}
}
