package yarnclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ClusterInfo returns /ws/v1/cluster/info of the active RM.
func (c *Client) ClusterInfo(ctx context.Context) (*ClusterInfo, error) {
	var env struct {
		ClusterInfo ClusterInfo `json:"clusterInfo"`
	}
	if err := c.getJSON(ctx, clusterInfoPath, nil, &env); err != nil {
		return nil, fmt.Errorf("get cluster info: %w", err)
	}
	return &env.ClusterInfo, nil
}

// NewApplication asks for a fresh application id and the maximum container size.
func (c *Client) NewApplication(ctx context.Context) (*NewApplication, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/ws/v1/cluster/apps/new-application", wantJSON: true})
	if err != nil {
		return nil, fmt.Errorf("create new application: %w", err)
	}
	var na NewApplication
	if err := decode(resp.body, &na); err != nil {
		return nil, fmt.Errorf("create new application: %w", err)
	}
	if !ValidApplicationID(na.ApplicationID) {
		return nil, fmt.Errorf("create new application: %w: application id %q", ErrUnexpectedResponse, na.ApplicationID)
	}
	return &na, nil
}

// Submit submits an application (202 Accepted). It validates sc first. It is safe to call again for
// the same application id: see the package documentation on retries.
func (c *Client) Submit(ctx context.Context, sc *SubmissionContext) error {
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("submit application: %w: %w", ErrBadRequest, err)
	}
	body, err := sc.JSON(false)
	if err != nil {
		return fmt.Errorf("submit application %s: %w", sc.ApplicationID, err)
	}
	submit := func() error {
		_, err := c.do(ctx, request{
			method: http.MethodPost,
			path:   "/ws/v1/cluster/apps",
			body:   body,
			expect: http.StatusAccepted,
			beforeRetry: func(ctx context.Context) (bool, error) {
				// An earlier attempt may have reached the RM although its answer was lost.
				// When the report cannot be read (ErrNotFound or another failure), the submit is
				// repeated; the RM treats a repeated id as success.
				if _, err := c.appOnce(ctx, sc.ApplicationID); err == nil {
					c.log.Info("application present after an ambiguous submit failure", "app", sc.ApplicationID)
					return true, nil
				}
				return false, nil
			},
		})
		return err
	}
	if err := submit(); err != nil {
		return fmt.Errorf("submit application %s: %w", sc.ApplicationID, err)
	}
	if err := c.confirmSaved(ctx, sc.ApplicationID, submit); err != nil {
		return fmt.Errorf("submit application %s: %w", sc.ApplicationID, err)
	}
	return nil
}

// maxResubmits bounds how often Submit submits an application again that the active ResourceManager does
// not know after a failover.
const maxResubmits = 3

// confirmSaved waits, as Hadoop's YarnClientImpl.submitApplication does, until the application is past
// NEW and NEW_SAVING, that is saved in the ResourceManager's state store. An RM answers 202 before that; when
// it fails over in between, the new active RM never heard of the application, and it is submitted again
// with the same context (what YarnClientImpl does on ApplicationNotFoundException). Bounded by
// Options.SubmitConfirmTimeout.
func (c *Client) confirmSaved(ctx context.Context, id string, submit func() error) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.SubmitConfirmTimeout)
	defer cancel()
	poll, resubmits := 50*time.Millisecond, 0
	for {
		app, err := c.App(ctx, id)
		switch {
		case err == nil && app.State != StateNew && app.State != StateNewSaving:
			return nil
		case errors.Is(err, ErrNotFound):
			if resubmits == maxResubmits {
				return fmt.Errorf("%w: still unknown after %d submissions", ErrUnavailable, resubmits+1)
			}
			resubmits++
			c.log.Warn("application unknown to the active ResourceManager after its submission (failover?); submitting again",
				"app", id, "attempt", resubmits+1)
			if err := submit(); err != nil {
				return err
			}
			continue
		case err != nil:
			return fmt.Errorf("confirm it was saved: %w", err)
		}
		if err := sleep(ctx, poll); err != nil {
			return fmt.Errorf("confirm it was saved (still %s): %w", app.State, err)
		}
		poll = min(2*poll, time.Second)
	}
}

// App returns the report of one application. An unknown or evicted id is ErrNotFound.
func (c *Client) App(ctx context.Context, id string) (*App, error) {
	if !ValidApplicationID(id) {
		return nil, fmt.Errorf("get application %q: %w: malformed id", id, ErrBadRequest)
	}
	var env struct {
		App App `json:"app"`
	}
	if err := c.getJSON(ctx, "/ws/v1/cluster/apps/"+id, nil, &env); err != nil {
		return nil, fmt.Errorf("get application %s: %w", id, err)
	}
	return &env.App, nil
}

// appOnce is App with a single attempt, for use inside another call's retry loop.
func (c *Client) appOnce(ctx context.Context, id string) (*App, error) {
	idx, err := c.resolveActive(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.attempt(ctx, idx, request{method: http.MethodGet, path: "/ws/v1/cluster/apps/" + id, wantJSON: true})
	if err != nil {
		return nil, err
	}
	var env struct {
		App App `json:"app"`
	}
	if err := decode(resp.body, &env); err != nil {
		return nil, err
	}
	return &env.App, nil
}

// Apps lists the applications that match f.
func (c *Client) Apps(ctx context.Context, f AppsFilter) ([]App, error) {
	q, err := f.query()
	if err != nil {
		return nil, fmt.Errorf("list applications: %w: %w", ErrBadRequest, err)
	}
	var env struct {
		Apps *struct {
			App []App `json:"app"`
		} `json:"apps"`
	}
	if err := c.getJSON(ctx, "/ws/v1/cluster/apps", q, &env); err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	if env.Apps == nil {
		return nil, nil
	}
	return env.Apps.App, nil
}

func (f AppsFilter) query() (url.Values, error) {
	q := url.Values{}
	join := func(key string, vals []string) {
		if len(vals) > 0 {
			q.Set(key, strings.Join(vals, ","))
		}
	}
	states := make([]string, len(f.States))
	for i, s := range f.States {
		states[i] = string(s)
	}
	join("states", states)
	join("applicationTypes", f.ApplicationTypes)
	tags := make([]string, len(f.ApplicationTags))
	for i, t := range f.ApplicationTags {
		if strings.Contains(t, ",") {
			return nil, fmt.Errorf("tag %q contains a comma", t)
		}
		tags[i] = strings.ToLower(t)
	}
	join("applicationTags", tags)
	join("deSelects", f.DeSelects)
	if f.FinalStatus != "" {
		q.Set("finalStatus", string(f.FinalStatus))
	}
	if f.User != "" {
		q.Set("user", f.User)
	}
	if f.Queue != "" {
		q.Set("queue", f.Queue)
	}
	if f.Name != "" {
		q.Set("name", f.Name)
	}
	if f.Limit < 0 {
		return nil, fmt.Errorf("limit %d is negative", f.Limit)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.StartedTimeBegin > 0 {
		q.Set("startedTimeBegin", strconv.FormatInt(f.StartedTimeBegin, 10))
	}
	if f.FinishedTimeBegin > 0 {
		q.Set("finishedTimeBegin", strconv.FormatInt(f.FinishedTimeBegin, 10))
	}
	return q, nil
}

// DeSelectAll names every field Hadoop 3.x's application list can leave out (deSelects): a reconciler reads
// none of them, and they are the bulk of a report.
var DeSelectAll = []string{"resourceRequests", "timeouts", "appNodeLabelExpression", "amNodeLabelExpression", "resourceInfo"}

// AppAttempts lists the ApplicationMaster attempts of an application.
func (c *Client) AppAttempts(ctx context.Context, id string) ([]AppAttempt, error) {
	if !ValidApplicationID(id) {
		return nil, fmt.Errorf("list attempts of %q: %w: malformed id", id, ErrBadRequest)
	}
	var env struct {
		AppAttempts *struct {
			AppAttempt []AppAttempt `json:"appAttempt"`
		} `json:"appAttempts"`
	}
	if err := c.getJSON(ctx, "/ws/v1/cluster/apps/"+id+"/appattempts", nil, &env); err != nil {
		return nil, fmt.Errorf("list attempts of %s: %w", id, err)
	}
	if env.AppAttempts == nil {
		return nil, nil
	}
	return env.AppAttempts.AppAttempt, nil
}

// appStateBody is the body and answer of /apps/{id}/state. The RM may wrap the answer in
// {"appstate":{...}} (its JAXB root name); both forms are read.
type appStateBody struct {
	State       AppState `json:"state"`
	Diagnostics string   `json:"diagnostics,omitempty"`
}

// Kill asks the RM to kill an application and waits until the report shows a terminal state, which
// it returns (KILLED, or FINISHED/FAILED when the application had already ended). The wait is bounded
// by ctx. diagnostics, when not empty, is recorded by the RM as the kill reason.
func (c *Client) Kill(ctx context.Context, id, diagnostics string) (AppState, error) {
	if !ValidApplicationID(id) {
		return "", fmt.Errorf("kill application %q: %w: malformed id", id, ErrBadRequest)
	}
	body, err := json.Marshal(appStateBody{State: StateKilled, Diagnostics: diagnostics})
	if err != nil {
		return "", fmt.Errorf("kill application %s: encode: %w", id, err)
	}
	resp, err := c.do(ctx, request{method: http.MethodPut, path: "/ws/v1/cluster/apps/" + id + "/state", body: body, wantJSON: true})
	if err != nil {
		return "", fmt.Errorf("kill application %s: %w", id, err)
	}
	if st, ok := decodeAppState(resp.body); ok && resp.status == http.StatusOK && st.Terminal() {
		return st, nil
	}
	for {
		app, err := c.App(ctx, id)
		if err != nil {
			return "", fmt.Errorf("kill application %s: wait for terminal state: %w", id, err)
		}
		if app.State.Terminal() {
			return app.State, nil
		}
		if err := sleep(ctx, c.opts.KillPollInterval); err != nil {
			return "", fmt.Errorf("kill application %s: still %s: %w", id, app.State, err)
		}
	}
}

func decodeAppState(body []byte) (AppState, bool) {
	var flat appStateBody
	if json.Unmarshal(body, &flat) == nil && flat.State != "" {
		return flat.State, true
	}
	var wrapped struct {
		AppState appStateBody `json:"appstate"`
	}
	if json.Unmarshal(body, &wrapped) == nil && wrapped.AppState.State != "" {
		return wrapped.AppState.State, true
	}
	return "", false
}

// getJSON runs a GET with failover and decodes the JSON answer into out.
func (c *Client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q, wantJSON: true})
	if err != nil {
		return err
	}
	return decode(resp.body, out)
}

func decode(body []byte, out any) error {
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: decode JSON: %v", ErrUnexpectedResponse, err)
	}
	return nil
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
