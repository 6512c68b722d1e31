package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/yarngate/yarngate/api"
)

// CreateSession starts a session cluster (POST /v1/sessions); a non-empty idempotencyKey is sent as
// Idempotency-Key.
func (c *Client) CreateSession(ctx context.Context, spec api.SessionRequest, idempotencyKey string) (api.Session, error) {
	req, err := jsonRequest(http.MethodPost, "/v1/sessions", spec)
	if err != nil {
		return api.Session{}, err
	}
	if idempotencyKey != "" {
		req.header.Set("Idempotency-Key", idempotencyKey)
	}
	var s api.Session
	_, err = c.call(ctx, req, &s)
	return s, err
}

// GetSession returns a session now (GET /v1/sessions/{id}).
func (c *Client) GetSession(ctx context.Context, id string) (api.Session, error) {
	var s api.Session
	_, err := c.call(ctx, &request{method: http.MethodGet, path: "/v1/sessions/" + escape(id)}, &s)
	return s, err
}

// PollSession is one long poll of a session (GET /v1/sessions/{id}?wait=state&timeout=timeout).
func (c *Client) PollSession(ctx context.Context, id string, state api.SessionState, timeout time.Duration) (api.Session, error) {
	q := url.Values{"wait": {string(state)}}
	if timeout > 0 {
		q.Set("timeout", timeout.String())
	}
	var s api.Session
	_, err := c.call(ctx, &request{method: http.MethodGet, path: "/v1/sessions/" + escape(id), query: q}, &s)
	return s, err
}

// WaitSession long-polls until the session reaches state (api.SessionState.Reached) or ctx ends, as WaitJob.
func (c *Client) WaitSession(ctx context.Context, id string, state api.SessionState) (api.Session, error) {
	return waitFor(ctx, c.gaps,
		func(ctx context.Context) (api.Session, error) { return c.PollSession(ctx, id, state, pollInterval) },
		func(s api.Session) bool { return s.State.Reached(state) })
}

// sessionPage is a page of GET /v1/sessions.
type sessionPage struct {
	Sessions   []api.Session `json:"sessions"`
	NextCursor string        `json:"nextCursor"`
}

// ListSessions lists the caller's sessions, newest first (GET /v1/sessions), following nextCursor.
func (c *Client) ListSessions(ctx context.Context, opts ListOptions) ([]api.Session, error) {
	sessions := []api.Session{}
	cursor := ""
	for range maxPages {
		var p sessionPage
		if _, err := c.call(ctx, &request{method: http.MethodGet, path: "/v1/sessions", query: listQuery(opts, cursor)}, &p); err != nil {
			return nil, err
		}
		sessions = append(sessions, p.Sessions...)
		if p.NextCursor == "" || p.NextCursor == cursor {
			return sessions, nil
		}
		cursor = p.NextCursor
	}
	return nil, fmt.Errorf("list sessions: more than %d pages", maxPages)
}

// StopSession stops a session (DELETE /v1/sessions/{id}); it returns the session as the gateway answered
// (STOPPING, or unchanged when it had ended).
func (c *Client) StopSession(ctx context.Context, id string) (api.Session, error) {
	var s api.Session
	_, err := c.call(ctx, &request{method: http.MethodDelete, path: "/v1/sessions/" + escape(id)}, &s)
	return s, err
}
