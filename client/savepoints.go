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

// UpgradeJob starts an upgrade of a running job to a new spec (POST /v1/jobs/{id}/upgrade); the answer is the
// job with its upgrade at its first step. The same UpgradeID again answers the upgrade it started. Follow it
// with Job until Upgrade.Step is SUCCEEDED, ROLLED_BACK or FAILED.
func (c *Client) UpgradeJob(ctx context.Context, id string, req api.UpgradeRequest) (api.Job, error) {
	r, err := jsonRequest(http.MethodPost, "/v1/jobs/"+escape(id)+"/upgrade", req)
	if err != nil {
		return api.Job{}, err
	}
	var j api.Job
	_, err = c.call(ctx, r, &j)
	return j, err
}

// UpgradePollInterval is how often WaitUpgrade asks for the job.
const UpgradePollInterval = 2 * time.Second

// WaitUpgrade polls a job until its upgrade upgradeID has ended (api.JobUpgrade.Final), or ctx ends; the
// answer is the job then. Transient failures are retried like the job waits'.
func (c *Client) WaitUpgrade(ctx context.Context, id, upgradeID string) (api.Job, error) {
	for {
		j, err := c.GetJob(ctx, id)
		if err != nil && !retryable(err) {
			return api.Job{}, err
		}
		if err == nil && j.Upgrade != nil && j.Upgrade.ID == upgradeID && j.Upgrade.Final() {
			return j, nil
		}
		if err := sleep(ctx, UpgradePollInterval); err != nil {
			return j, err
		}
	}
}
