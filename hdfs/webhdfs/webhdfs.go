// Package webhdfs reads file content from HDFS over WebHDFS (op=OPEN), the HTTP face of the NameNodes and
// DataNodes. The hdfs package reads through it where colinmarc/hdfs cannot read blocks itself: DataNodes whose
// SASL data transfer protection is integrity or privacy.
//
// A read asks a NameNode, which answers with a redirect (307) to a DataNode URL carrying a delegation token;
// the client follows it itself, at most a few hops, sending the NameNode request through Options.Client (on a
// Kerberized cluster the gateway's SPNEGO client, which never follows redirects) and the DataNode request
// through Options.DataNodeClient, which needs no Kerberos: the token in the URL authenticates it. NameNodes
// are tried in failover order; one that answers StandbyException or cannot be reached passes the read to
// the next, and the one that answered last is asked first next time.
//
// Dependency rule: webhdfs is a client package: standard library only.
package webhdfs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxHops bounds the redirects one read follows (a NameNode answers with one).
const maxHops = 4

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// ErrReadTimeout means a read of a response body made no progress within Options.ReadTimeout.
var ErrReadTimeout = errors.New("webhdfs read timed out")

// RemoteError is an error answer of a NameNode or DataNode: its HTTP status and, when the body is WebHDFS's
// JSON RemoteException, the Java exception. errors.Is matches fs.ErrNotExist (FileNotFoundException or
// 404) and fs.ErrPermission (AccessControlException, or a 403 that is not a StandbyException).
type RemoteError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Exception is the exception's simple name, such as FileNotFoundException, or "".
	Exception string
	// JavaClassName is the exception's class, or "".
	JavaClassName string
	// Message is the exception's message, or "".
	Message string
}

func (e *RemoteError) Error() string {
	if e.Exception == "" {
		return fmt.Sprintf("webhdfs: HTTP %d", e.StatusCode)
	}
	return fmt.Sprintf("webhdfs: HTTP %d: %s: %s", e.StatusCode, e.Exception, e.Message)
}

// Is reports whether e is fs.ErrNotExist or fs.ErrPermission.
func (e *RemoteError) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return e.Exception == "FileNotFoundException" || (e.Exception == "" && e.StatusCode == http.StatusNotFound)
	case fs.ErrPermission:
		return e.Exception == "AccessControlException" ||
			(e.StatusCode == http.StatusForbidden && e.Exception != "" && !e.standby())
	}
	return false
}

// standby reports a NameNode that cannot serve reads now: another NameNode may.
func (e *RemoteError) standby() bool {
	return e.Exception == "StandbyException" || e.Exception == "RetriableException" || e.Exception == "ObserverRetryOnActiveException"
}

// Options configures a Client.
type Options struct {
	// NameNodes are the NameNodes' web base URLs (scheme://host:port), in failover order.
	NameNodes []string
	// Client sends the NameNode requests. It must not follow redirects: the Client follows them itself.
	// On a Kerberized cluster it is the gateway's SPNEGO client (kerberos.Login.NewHTTPClient).
	// Default: a client without authentication that does not follow redirects.
	Client *http.Client
	// DataNodeClient sends the requests the NameNode redirects to (DataNode URLs carrying a delegation
	// token). Default: a client without authentication that does not follow redirects.
	DataNodeClient *http.Client
	// User, when set, is sent as user.name (simple authentication). Leave it empty with Kerberos.
	User string
	// ReadTimeout bounds each Read of a response body and the wait for each response. Default 60s.
	ReadTimeout time.Duration
}

// Client reads files over WebHDFS. It is safe for concurrent use.
type Client struct {
	// Immutable after construction.
	nameNodes []*url.URL
	nnClient  *http.Client
	dnClient  *http.Client
	user      string
	timeout   time.Duration

	// active is the index of the NameNode to ask first.
	active atomic.Int32
}

// New returns a Client. It does not connect.
func New(opts Options) (*Client, error) {
	if len(opts.NameNodes) == 0 {
		return nil, errors.New("webhdfs: no NameNode URLs")
	}
	c := &Client{nnClient: opts.Client, dnClient: opts.DataNodeClient, user: opts.User, timeout: opts.ReadTimeout}
	for _, raw := range opts.NameNodes {
		u, err := url.Parse(strings.TrimRight(raw, "/"))
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("webhdfs: NameNode URL %q is not http(s)://host:port", raw)
		}
		c.nameNodes = append(c.nameNodes, u)
	}
	if c.nnClient == nil {
		c.nnClient = noRedirects(nil)
	}
	if c.dnClient == nil {
		c.dnClient = noRedirects(nil)
	}
	if c.timeout <= 0 {
		c.timeout = 60 * time.Second
	}
	return c, nil
}

// noRedirects returns an http.Client sending with base (nil: http.DefaultTransport) that returns redirects
// to its caller.
func noRedirects(base http.RoundTripper) *http.Client {
	return &http.Client{
		Transport:     base,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Open returns the content of the file at name (an absolute path) from offset on: length bytes, or to the
// end when length is negative. The reader must be closed; each Read is bounded by Options.ReadTimeout and
// by ctx.
func (c *Client) Open(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if !path.IsAbs(name) {
		return nil, fmt.Errorf("webhdfs open %q: not an absolute path", name)
	}
	if offset < 0 {
		return nil, fmt.Errorf("webhdfs open %s: negative offset %d", name, offset)
	}
	q := url.Values{"op": {"OPEN"}}
	if offset > 0 {
		q.Set("offset", strconv.FormatInt(offset, 10))
	}
	if length >= 0 {
		q.Set("length", strconv.FormatInt(length, 10))
	}
	if c.user != "" {
		q.Set("user.name", c.user)
	}
	body, err := c.openAnyNameNode(ctx, name, q)
	if err != nil {
		return nil, fmt.Errorf("webhdfs open %s: %w", name, err)
	}
	return body, nil
}

// ReadAt reads len(p) bytes of name at offset off into p, as io.ReaderAt does: fewer only with an error,
// io.EOF at the end of the file.
func (c *Client) ReadAt(ctx context.Context, name string, p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, err := c.Open(ctx, name, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n, err := io.ReadFull(r, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// openAnyNameNode asks each NameNode in turn, starting with the one that answered last, until one serves
// the read or answers something that is not about being a standby or unreachable.
func (c *Client) openAnyNameNode(ctx context.Context, name string, q url.Values) (io.ReadCloser, error) {
	first := int(c.active.Load())
	var errs []error
	for i := range c.nameNodes {
		idx := (first + i) % len(c.nameNodes)
		nn := c.nameNodes[idx]
		u := nn.JoinPath("webhdfs/v1", name)
		u.RawQuery = q.Encode()
		body, err := c.follow(ctx, u)
		if err == nil {
			c.active.Store(int32(idx))
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		var re *RemoteError
		if errors.As(err, &re) && !re.standby() {
			c.active.Store(int32(idx))
			return nil, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", nn.Host, err))
	}
	return nil, errors.Join(errs...)
}

// follow sends GET u through the NameNode client and follows redirects through the DataNode client, and
// returns the body of the first 200 answer. The requests run on a context of their own, which the body's
// Close (or a failure) cancels.
func (c *Client) follow(parent context.Context, u *url.URL) (_ io.ReadCloser, err error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer func() {
		if err != nil {
			cancel(nil)
		}
	}()
	client := c.nnClient
	for hop := 0; ; hop++ {
		resp, err := c.get(ctx, cancel, client, u)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			return newIdleBody(resp.Body, cancel, c.timeout), nil
		case isRedirect(resp.StatusCode):
			loc := resp.Header.Get("Location")
			drain(resp.Body)
			if hop+1 >= maxHops {
				return nil, fmt.Errorf("more than %d redirects", maxHops-1)
			}
			next, err := u.Parse(loc)
			if err != nil || loc == "" || (next.Scheme != "http" && next.Scheme != "https") {
				return nil, fmt.Errorf("redirect to %q: not an http(s) URL", loc)
			}
			u, client = next, c.dnClient
		default:
			err := remoteError(resp)
			drain(resp.Body)
			return nil, err
		}
	}
}

// get sends one GET; the wait for the answer is bounded by the read timeout.
func (c *Client) get(ctx context.Context, cancel context.CancelCauseFunc, client *http.Client, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	t := time.AfterFunc(c.timeout, func() { cancel(ErrReadTimeout) })
	resp, err := client.Do(req)
	t.Stop()
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrReadTimeout) {
			return nil, fmt.Errorf("GET %s: %w", redacted(u), cause)
		}
		return nil, fmt.Errorf("GET %s: %w", redacted(u), err)
	}
	return resp, nil
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// redacted is u without its query, which may carry a delegation token.
func redacted(u *url.URL) string {
	r := *u
	r.RawQuery = ""
	return r.String()
}

// remoteError reads an error answer.
func remoteError(resp *http.Response) error {
	re := &RemoteError{StatusCode: resp.StatusCode}
	var body struct {
		RemoteException struct {
			Exception     string `json:"exception"`
			JavaClassName string `json:"javaClassName"`
			Message       string `json:"message"`
		} `json:"RemoteException"`
	}
	if b, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody)); err == nil && json.Unmarshal(b, &body) == nil {
		re.Exception = body.RemoteException.Exception
		re.JavaClassName = body.RemoteException.JavaClassName
		re.Message = body.RemoteException.Message
	}
	return re
}

// drain reads a little of body, so that the connection can be reused, and closes it.
func drain(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, maxErrorBody))
	body.Close()
}

// idleBody is a response body whose every Read must make progress within a timeout: a timer, reset for
// each Read, cancels the request's context when it fires.
type idleBody struct {
	body    io.ReadCloser
	cancel  context.CancelCauseFunc
	timeout time.Duration
	timer   *time.Timer
}

func newIdleBody(body io.ReadCloser, cancel context.CancelCauseFunc, timeout time.Duration) *idleBody {
	b := &idleBody{body: body, cancel: cancel, timeout: timeout}
	b.timer = time.AfterFunc(timeout, func() { cancel(ErrReadTimeout) })
	b.timer.Stop()
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.timeout)
	n, err := b.body.Read(p)
	if !b.timer.Stop() && err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("webhdfs read: %w", ErrReadTimeout)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("webhdfs read: %w", err)
	}
	return n, err
}

// Close closes the body and releases the request's context.
func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}
