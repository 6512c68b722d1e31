package yarnclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// clusterInfoPath is never redirected by a standby, so it tells each RM's own HA state.
const clusterInfoPath = "/ws/v1/cluster/info"

// resolveActive returns the index of the active RM: the cached one, or the result of probing every
// RM until one is ACTIVE or FailoverTimeout has passed.
func (c *Client) resolveActive(ctx context.Context) (int, error) {
	c.mu.Lock()
	idx := c.active
	c.mu.Unlock()
	if idx >= 0 {
		return idx, nil
	}
	deadline := time.Now().Add(c.opts.FailoverTimeout)
	var lastErr error
	for round := 1; ; round++ {
		idx, err := c.probe(ctx)
		if err == nil {
			c.setActive(idx)
			return idx, nil
		}
		lastErr = err
		wait := c.opts.Retry.backoff(round + 1)
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			break
		}
		if err := sleep(ctx, wait); err != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return -1, fmt.Errorf("find active resourcemanager: %w", errors.Join(ctx.Err(), lastErr))
	}
	return -1, fmt.Errorf("find active resourcemanager within %s: %w (last: %v)", c.opts.FailoverTimeout, ErrNoActiveRM, lastErr)
}

// probe asks every RM for its cluster info, in order, and returns the first one that is ACTIVE.
func (c *Client) probe(ctx context.Context) (int, error) {
	var errs []error
	for i, rm := range c.opts.RMs {
		info, err := c.clusterInfoAt(ctx, i)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rm.ID, err))
			continue
		}
		if info.HAState == HAStateActive {
			return i, nil
		}
		errs = append(errs, fmt.Errorf("%s: haState %s", rm.ID, info.HAState))
	}
	return -1, errors.Join(errs...)
}

// clusterInfoAt reads /ws/v1/cluster/info of RM i, once, without failover.
func (c *Client) clusterInfoAt(ctx context.Context, i int) (*ClusterInfo, error) {
	target := c.opts.RMs[i].URL + clusterInfoPath + "?user.name=" + urlQueryEscape(c.opts.User)
	status, header, body, err := c.send(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, parseRMError(status, header.Get("Content-Type"), body)
	}
	if !isJSON(header.Get("Content-Type")) {
		return nil, fmt.Errorf("%w: cluster info with content type %q", ErrUnexpectedResponse, header.Get("Content-Type"))
	}
	var env struct {
		ClusterInfo ClusterInfo `json:"clusterInfo"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: decode cluster info: %v", ErrUnexpectedResponse, err)
	}
	return &env.ClusterInfo, nil
}

// ClusterInfos asks every configured RM for its cluster info, without failover, and returns the
// answers in the order of Options.RMs (nil where that RM failed) with the joined errors.
func (c *Client) ClusterInfos(ctx context.Context) ([]*ClusterInfo, error) {
	infos := make([]*ClusterInfo, len(c.opts.RMs))
	var errs []error
	for i, rm := range c.opts.RMs {
		info, err := c.clusterInfoAt(ctx, i)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster info of %s (%s): %w", rm.ID, rm.URL, err))
			continue
		}
		infos[i] = info
	}
	return infos, errors.Join(errs...)
}
