package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/yarngate/yarngate/api"
)

// SubmitJob launches a job (POST /v1/jobs). A non-empty idempotencyKey is sent as Idempotency-Key, so that a
// retry with the same key and request answers with the job launched first.
func (c *Client) SubmitJob(ctx context.Context, spec api.JobRequest, idempotencyKey string) (api.Job, error) {
	req, err := jsonRequest(http.MethodPost, "/v1/jobs", spec)
	if err != nil {
		return api.Job{}, err
	}
	if idempotencyKey != "" {
		req.header.Set("Idempotency-Key", idempotencyKey)
	}
	var j api.Job
	_, err = c.call(ctx, req, &j)
	return j, err
}

// GetJob returns a job now (GET /v1/jobs/{id}).
func (c *Client) GetJob(ctx context.Context, id string) (api.Job, error) {
	var j api.Job
	_, err := c.call(ctx, &request{method: http.MethodGet, path: "/v1/jobs/" + escape(id)}, &j)
	return j, err
}

// PollJob is one long poll (GET /v1/jobs/{id}?wait=state&timeout=timeout): it answers once the job has
// reached state (or passed it, or ended), or after timeout (which the gateway caps) with the job as it is.
func (c *Client) PollJob(ctx context.Context, id string, state api.JobState, timeout time.Duration) (api.Job, error) {
	q := url.Values{"wait": {string(state)}}
	if timeout > 0 {
		q.Set("timeout", timeout.String())
	}
	var j api.Job
	_, err := c.call(ctx, &request{method: http.MethodGet, path: "/v1/jobs/" + escape(id), query: q}, &j)
	return j, err
}

// pollInterval is the timeout of each long poll of WaitJob and WaitSession; the gateway may cap it lower.
const pollInterval = 60 * time.Second

// transientRetry is how long WaitJob and WaitSession wait before polling again after an answer worth
// retrying (503, 429, a connection error).
const transientRetry = 2 * time.Second

// WaitJob long-polls until the job reaches state (api.JobState.Reached) or ctx ends; then it returns the
// job as last seen with ctx's error. Answers worth retrying (unavailable, rate limited, a lost connection)
// are retried until ctx ends; a poll the gateway answers early without the state (a long poll beyond its cap,
// X-Long-Poll: skipped) is repeated only after minPollGap.
func (c *Client) WaitJob(ctx context.Context, id string, state api.JobState) (api.Job, error) {
	return waitFor(ctx, c.gaps,
		func(ctx context.Context) (api.Job, error) { return c.PollJob(ctx, id, state, pollInterval) },
		func(j api.Job) bool { return j.State.Reached(state) })
}

// minPollGap is the least time between the starts of two long polls of one wait.
const minPollGap = 2 * time.Second

// waitGaps are the pauses of a wait: between the starts of two polls, and after an answer worth retrying.
type waitGaps struct{ poll, retry time.Duration }

// waitFor repeats poll until reached says yes, ctx ends, or poll fails for good; it returns the last
// value polled.
func waitFor[T any](ctx context.Context, gaps waitGaps, poll func(context.Context) (T, error), reached func(T) bool) (T, error) {
	var last T
	for {
		start := time.Now()
		v, err := poll(ctx)
		if err == nil {
			last = v
			if reached(v) {
				return v, nil
			}
			if err := sleep(ctx, gaps.poll-time.Since(start)); err != nil {
				return last, err
			}
			continue
		}
		if ctx.Err() != nil {
			return last, ctx.Err()
		}
		if !retryable(err) {
			return last, err
		}
		if err := sleep(ctx, gaps.retry); err != nil {
			return last, err
		}
	}
}

// retryable reports whether a failed call is worth repeating: a gateway error 5xx or 429, or no answer.
func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests
	}
	return true
}

// sleep waits d (nothing when d <= 0) or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ListOptions filter a list.
type ListOptions struct {
	// State keeps only the jobs (or sessions) in this state; empty: all.
	State string
	// PageSize is the number of items asked per page (limit); 0: the gateway's default.
	PageSize int
}

// jobPage is a page of GET /v1/jobs: the jobs and, when more follow, the cursor of the next page.
type jobPage struct {
	Jobs       []api.Job `json:"jobs"`
	NextCursor string    `json:"nextCursor"`
}

// maxPages bounds how many pages a list follows, against a gateway that keeps answering the same cursor.
const maxPages = 100000

// ListJobs lists the caller's jobs, newest first (GET /v1/jobs), following nextCursor page by page.
func (c *Client) ListJobs(ctx context.Context, opts ListOptions) ([]api.Job, error) {
	jobs := []api.Job{}
	cursor := ""
	for range maxPages {
		var p jobPage
		if _, err := c.call(ctx, &request{method: http.MethodGet, path: "/v1/jobs", query: listQuery(opts, cursor)}, &p); err != nil {
			return nil, err
		}
		jobs = append(jobs, p.Jobs...)
		if p.NextCursor == "" || p.NextCursor == cursor {
			return jobs, nil
		}
		cursor = p.NextCursor
	}
	return nil, fmt.Errorf("list jobs: more than %d pages", maxPages)
}

// listQuery is the query of one page of a list.
func listQuery(opts ListOptions, cursor string) url.Values {
	q := url.Values{}
	if opts.State != "" {
		q.Set("state", opts.State)
	}
	if opts.PageSize > 0 {
		q.Set("limit", strconv.Itoa(opts.PageSize))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

// CancelJob cancels a job through Flink, or kills its YARN application when kill is set (POST
// /v1/jobs/{id}/cancel). It returns the job as the gateway answered (winding down, or already ended).
func (c *Client) CancelJob(ctx context.Context, id string, kill bool) (api.Job, error) {
	var body any
	if kill {
		body = api.CancelRequest{Kill: true}
	}
	req, err := jsonRequest(http.MethodPost, "/v1/jobs/"+escape(id)+"/cancel", body)
	if err != nil {
		return api.Job{}, err
	}
	var j api.Job
	_, err = c.call(ctx, req, &j)
	return j, err
}
