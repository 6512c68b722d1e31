// Package client is a typed Go client of the yarngate HTTP API: jars, jobs, sessions and logs, over the wire
// types of package api. It authenticates with a bearer token or with Kerberos (SPNEGO, from the user's
// ticket cache), trusts an extra CA for HTTPS, and turns the gateway's error bodies into *Error values that
// keep the machine-readable code.
//
// Dependency rule: client imports api and no other package of ours, and never gin: it is what a CLI, a test or
// another program uses to talk to a gateway, without the server's code.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/yarngate/yarngate/api"
)

// DefaultAddr is the gateway address when Options.Addr is empty (`make run`).
const DefaultAddr = "http://127.0.0.1:8080"

// ResponseHeaderTimeout bounds how long the default transport waits for an answer to begin once a request
// is sent: longer than any long poll the client asks for (pollInterval, which the gateway caps), so that a
// gateway that went away silently does not hang a wait forever.
const ResponseHeaderTimeout = pollInterval + time.Minute

// Options configure a Client.
type Options struct {
	// Addr is the gateway's base URL (http://host:port or https://host:port); a bare host:port means
	// http://. Default DefaultAddr.
	Addr string
	// Token, when set, is sent as a bearer token with every request.
	Token string
	// Kerberos, when set, authenticates with SPNEGO from a Kerberos ticket cache. Ignored when Token is set.
	Kerberos *KerberosOptions
	// CAFile names a PEM file of certificates to trust for HTTPS besides the system's.
	CAFile string
	// HTTPClient sends the requests; default a client without an overall timeout (long polls and log follows
	// run as long as their context) whose transport waits at most ResponseHeaderTimeout for an answer to
	// begin, with a cookie jar. Its Transport is wrapped for authentication.
	HTTPClient *http.Client
	// UserAgent is sent as User-Agent; default "yarngate-client".
	UserAgent string
}

// Client calls one gateway. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	http      *http.Client
	token     string
	userAgent string
	gaps      waitGaps
}

// New returns a client for opts.Addr. It does no I/O but reading CAFile and, for Kerberos, the ticket cache
// and krb5.conf.
func New(opts Options) (*Client, error) {
	base, err := ParseAddr(opts.Addr)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{}
	if opts.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = ResponseHeaderTimeout
		hc.Transport = t
	} else {
		c := *opts.HTTPClient
		hc = &c
	}
	if hc.Jar == nil {
		hc.Jar, _ = cookiejar.New(nil) // never fails without options
	}
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	if opts.CAFile != "" {
		t, ok := rt.(*http.Transport)
		if !ok {
			return nil, errors.New("client: CAFile needs an *http.Transport")
		}
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("client: read CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: CA file %s holds no PEM certificate", opts.CAFile)
		}
		t = t.Clone()
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{}
		}
		t.TLSClientConfig.RootCAs = pool
		rt = t
	}
	if opts.Token == "" && opts.Kerberos != nil {
		n, err := newNegotiator(*opts.Kerberos)
		if err != nil {
			return nil, err
		}
		rt = &spnegoTransport{base: rt, negotiate: n, eager: opts.Kerberos.Eager}
	}
	hc.Transport = rt
	ua := opts.UserAgent
	if ua == "" {
		ua = "yarngate-client"
	}
	return &Client{base: base, http: hc, token: opts.Token, userAgent: ua,
		gaps: waitGaps{poll: minPollGap, retry: transientRetry}}, nil
}

// ParseAddr parses a gateway address: a URL with scheme http or https, or host:port (http).
func ParseAddr(addr string) (*url.URL, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("client: gateway address: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: gateway address %q: want http://host:port or https://host:port", addr)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// Addr returns the gateway's base URL.
func (c *Client) Addr() string { return c.base.String() }

// Error is an error answer of the gateway: its HTTP status and its error body. A body that is no
// api.ErrorBody (a proxy's page, say) leaves Code empty and puts the start of the body in Message.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the error object of the answer.
	Body api.Error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Body.Code != "" {
		b.WriteString(e.Body.Code)
		b.WriteString(": ")
	}
	b.WriteString(e.Body.Message)
	fmt.Fprintf(&b, " (HTTP %d", e.StatusCode)
	if e.Body.RequestID != "" {
		fmt.Fprintf(&b, ", request %s", e.Body.RequestID)
	}
	b.WriteString(")")
	return b.String()
}

// IsCode reports whether err is an *Error with the given api.Code*.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Body.Code == code
}

// request is one call to the gateway.
type request struct {
	method  string
	path    string // under the base URL, escaped
	query   url.Values
	header  http.Header
	body    io.Reader
	getBody func() (io.ReadCloser, error) // to resend body (after a Negotiate challenge)
	size    int64                         // of body, when known (-1 unknown)
}

// jsonRequest is a request whose body is v as JSON.
func jsonRequest(method, path string, v any) (*request, error) {
	r := &request{method: method, path: path, header: http.Header{}}
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		r.body = bytes.NewReader(b)
		r.size = int64(len(b))
		r.getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		r.header.Set("Content-Type", "application/json")
	}
	return r, nil
}

// do sends r and returns the response of a 2xx answer; any other answer is an *Error.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	u, err := url.Parse(c.base.String() + r.path)
	if err != nil {
		return nil, fmt.Errorf("client: path %q: %w", r.path, err)
	}
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), r.body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	if r.body != nil {
		req.ContentLength = r.size
		if r.getBody != nil {
			req.GetBody = r.getBody
		}
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", c.userAgent)
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", r.method, u.Redacted(), err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, readError(resp)
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// readError turns a non-2xx answer into an *Error.
func readError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{StatusCode: resp.StatusCode}
	var body api.ErrorBody
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/json" && json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		e.Body = body.Error
		return e
	}
	msg := strings.TrimSpace(string(raw))
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e.Body.Message = msg
	return e
}

// call sends r and decodes the JSON answer into out (nil: discard it). It returns the HTTP status.
func (c *Client) call(ctx context.Context, r *request, out any) (int, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: decode the answer: %w", r.method, r.path, err)
	}
	return resp.StatusCode, nil
}

// escape escapes one path segment.
func escape(s string) string { return url.PathEscape(s) }
