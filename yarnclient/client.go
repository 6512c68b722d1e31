package yarnclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client talks to the ResourceManager REST API. It is safe for concurrent use.
type Client struct {
	// Immutable after New.
	opts Options
	http *http.Client
	log  *slog.Logger

	// mu guards active.
	mu sync.Mutex
	// active is the index in opts.RMs of the ResourceManager believed active, -1 when unknown.
	active int
}

// New validates opts, fills defaults and returns a client. It does no I/O.
func New(opts Options) (*Client, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("yarnclient options: %w", err)
	}
	for i := range opts.RMs {
		opts.RMs[i].URL = strings.TrimRight(opts.RMs[i].URL, "/")
	}
	hc := &http.Client{}
	if opts.HTTPClient != nil {
		copied := *opts.HTTPClient
		hc = &copied
	} else {
		hc.Transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: opts.RequestTimeout,
		}
	}
	// Redirects are followed by hand (see follow), so that POST and PUT bodies are re-sent and the
	// active-RM cache moves along.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	active := -1
	if len(opts.RMs) == 1 {
		active = 0
	}
	return &Client{opts: opts, http: hc, log: opts.Logger, active: active}, nil
}

// ActiveRM returns the ResourceManager currently believed active, and false when none is known yet.
func (c *Client) ActiveRM() (RM, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active < 0 {
		return RM{}, false
	}
	return c.opts.RMs[c.active], true
}

// SetActive records that the ResourceManager with this rm-id is active (for a ZooKeeper leader
// watcher). An unknown id is an error.
func (c *Client) SetActive(id string) error {
	for i, rm := range c.opts.RMs {
		if rm.ID == id {
			c.setActive(i)
			return nil
		}
	}
	return fmt.Errorf("set active resourcemanager: unknown rm-id %q", id)
}

func (c *Client) setActive(i int) {
	c.mu.Lock()
	prev := c.active
	c.active = i
	c.mu.Unlock()
	if prev != i && i >= 0 {
		c.log.Info("active resourcemanager", "rm", c.opts.RMs[i].ID, "url", c.opts.RMs[i].URL)
	}
}

// forgetActive drops the cached active RM after a failure on it; a single RM is never forgotten.
func (c *Client) forgetActive(i int) {
	if len(c.opts.RMs) == 1 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active == i {
		c.active = -1
	}
}

// request is one logical REST call.
type request struct {
	method string
	path   string // such as /ws/v1/cluster/apps
	query  url.Values
	body   []byte // JSON, nil for none
	// wantJSON marks calls whose success answer must be JSON.
	wantJSON bool
	// expect, when not 0, is the only success status; another 2xx shows a standby's answer.
	expect int
	// beforeRetry, when set, runs before every retry after an ambiguous failure; done=true ends the
	// call successfully (used by Submit to detect an application that was created after all).
	beforeRetry func(ctx context.Context) (done bool, err error)
}

// response is a successful answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errStandby marks an answer that shows the RM is not (or no longer) active.
var errStandby = errors.New("resourcemanager is not active")

// do runs req with bounded, classified retries and failover. It returns the final 2xx answer.
func (c *Client) do(ctx context.Context, req request) (*response, error) {
	var lastErr error
	for attempt := 1; attempt <= c.opts.Retry.MaxAttempts; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, c.opts.Retry.backoff(attempt)); err != nil {
				return nil, errors.Join(lastErr, err)
			}
			if req.beforeRetry != nil {
				done, err := req.beforeRetry(ctx)
				if err != nil {
					return nil, errors.Join(lastErr, err)
				}
				if done {
					return &response{status: http.StatusAccepted}, nil
				}
			}
		}
		idx, err := c.resolveActive(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.attempt(ctx, idx, req)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if !retryable(ctx, err) {
			return nil, err
		}
		c.log.Debug("resourcemanager call failed, will retry", "method", req.method, "path", req.path,
			"attempt", attempt, "rm", c.opts.RMs[idx].ID, "err", err)
		if errors.Is(err, errStandby) || isTransport(err) {
			c.forgetActive(idx)
		}
	}
	return nil, lastErr
}

// retryable classifies a failed attempt.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var rmErr *RMError
	if errors.As(err, &rmErr) {
		return rmErr.Status == http.StatusTooManyRequests || rmErr.Status >= 500
	}
	return errors.Is(err, errStandby) || isTransport(err)
}

// transportError wraps a failure to get any answer.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func isTransport(err error) bool {
	var t *transportError
	return errors.As(err, &t)
}

// maxRedirects bounds the 307 hops of one attempt.
const maxRedirects = 3

// attempt sends req to RM idx and follows a standby's redirects.
func (c *Client) attempt(ctx context.Context, idx int, req request) (*response, error) {
	target := c.opts.RMs[idx].URL + req.path
	q := url.Values{}
	for k, v := range req.query {
		q[k] = v
	}
	c.setUser(ctx, q)
	target += "?" + q.Encode()
	for hop := 0; ; hop++ {
		status, header, body, err := c.send(ctx, req.method, target, req.body)
		if err != nil {
			return nil, err
		}
		switch {
		case status == http.StatusTemporaryRedirect || status == http.StatusFound ||
			status == http.StatusSeeOther || status == http.StatusPermanentRedirect:
			loc := header.Get("Location")
			if loc == "" {
				return nil, fmt.Errorf("%w: %d without Location (no active RM known to the standby)", errStandby, status)
			}
			if hop >= maxRedirects {
				return nil, fmt.Errorf("%w: more than %d redirects", errStandby, maxRedirects)
			}
			next, err := c.redirectTarget(ctx, target, loc)
			if err != nil {
				return nil, err
			}
			c.log.Warn("resourcemanager redirected to another", "from", target, "to", next)
			target = next
			continue
		case status >= 200 && status < 300:
			if req.wantJSON && !isJSON(header.Get("Content-Type")) {
				// A standby at the end of its refresh back-off answers 200 text/plain.
				return nil, fmt.Errorf("%w: %d answer with content type %q", errStandby, status, header.Get("Content-Type"))
			}
			if req.expect != 0 && status != req.expect {
				return nil, fmt.Errorf("%w: %d answer where %d was expected", errStandby, status, req.expect)
			}
			return &response{status: status, header: header, body: body}, nil
		default:
			return nil, parseRMError(status, header.Get("Content-Type"), body)
		}
	}
}

// redirectTarget resolves a Location against the current URL, keeps user.name and doAs, and moves the
// active-RM cache to the configured RM it points at.
func (c *Client) redirectTarget(ctx context.Context, current, loc string) (string, error) {
	base, err := url.Parse(current)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnexpectedResponse, err)
	}
	u, err := base.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("%w: bad Location %q: %v", ErrUnexpectedResponse, loc, err)
	}
	q := u.Query()
	if q.Get("user.name") == "" || (c.opts.DoAs && q.Get("doAs") == "" && UserFrom(ctx) != "") {
		c.setUser(ctx, q)
		u.RawQuery = q.Encode()
	}
	for i, rm := range c.opts.RMs {
		ru, err := url.Parse(rm.URL)
		if err == nil && strings.EqualFold(ru.Host, u.Host) && ru.Scheme == u.Scheme {
			c.setActive(i)
			break
		}
	}
	return u.String(), nil
}

type userKey struct{}

// AsUser returns a context under which the client's calls act for user: creating, submitting, killing and
// reading applications as that user (?user.name=<user>, or ?doAs=<user> with Options.DoAs). "" or the
// client's own user is the client itself.
func AsUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// UserFrom returns the user ctx names (AsUser), "" for none.
func UserFrom(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// setUser names the user of a call in its query.
func (c *Client) setUser(ctx context.Context, q url.Values) {
	u := UserFrom(ctx)
	if u == "" || u == c.opts.User {
		q.Set("user.name", c.opts.User)
		q.Del("doAs")
		return
	}
	if c.opts.DoAs {
		q.Set("user.name", c.opts.User)
		q.Set("doAs", u)
		return
	}
	q.Set("user.name", u)
}

// send performs one JSON HTTP exchange bounded by RequestTimeout.
func (c *Client) send(ctx context.Context, method, target string, body []byte) (int, http.Header, []byte, error) {
	return c.sendAccepting(ctx, method, target, "application/json", body)
}

// sendAccepting is send asking for the media type accept. (Hadoop's Jersey answers 503, not 406, when it
// cannot produce the type asked for.)
func (c *Client) sendAccepting(ctx context.Context, method, target, accept string, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	hreq.Header.Set("Accept", accept)
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if c.opts.Authenticate != nil {
		if err := c.opts.Authenticate(hreq); err != nil {
			return 0, nil, nil, fmt.Errorf("authenticate request: %w", err)
		}
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return 0, nil, nil, &transportError{err: fmt.Errorf("%s %s: %w", method, redact(target), err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxAnswer+1))
	if err != nil {
		return 0, nil, nil, &transportError{err: fmt.Errorf("read answer of %s %s: %w", method, redact(target), err)}
	}
	if int64(len(data)) > c.opts.MaxAnswer {
		return 0, nil, nil, fmt.Errorf("%w: the answer of %s %s is larger than %d bytes", ErrAnswerTooLarge, method, redact(target), c.opts.MaxAnswer)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// redact drops the query (user.name, doAs, tokens) from a URL for messages.
func redact(target string) string {
	if i := strings.IndexByte(target, '?'); i >= 0 {
		return target[:i]
	}
	return target
}

// sleep waits d or until ctx ends.
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
