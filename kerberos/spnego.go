package kerberos

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"

	"github.com/jcmturner/gokrb5/v8/spnego"
)

// negotiator sets a SPNEGO Authorization header for spn on r.
type negotiator func(r *http.Request, spn string) error

// negotiate is the Login's negotiator: an AP-REQ for spn from the current ticket.
func (l *Login) negotiate(r *http.Request, spn string) error {
	cl, err := l.Client()
	if err != nil {
		return err
	}
	if err := spnego.SetSPNEGOHeader(cl, r, spn); err != nil {
		return fmt.Errorf("spnego for %s: %w", spn, err)
	}
	return nil
}

// Transport is an http.RoundTripper that authenticates every request to one endpoint (host:port) with
// SPNEGO as HTTP/<host>. It keeps the endpoint's cookies (Hadoop's hadoop.auth) and sends them instead of a
// new AP-REQ while the server accepts them. It never follows redirects: a RoundTripper returns them.
type Transport struct {
	// Immutable after construction.
	base      http.RoundTripper
	negotiate negotiator
	endpoint  string // host:port, lower case
	spn       string
	jar       *cookiejar.Jar // safe for concurrent use
}

// NewTransport returns a Transport for the endpoint of rawURL (scheme://host[:port]), sending requests with
// base (nil: a clone of http.DefaultTransport). The URL's host must be the name in the service's principal
// (HTTP/<host>); an IP address rarely is.
func (l *Login) NewTransport(rawURL string, base http.RoundTripper) (*Transport, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("spnego transport: %q is not an absolute URL", rawURL)
	}
	return newTransport(hostPort(u), base, l.negotiate), nil
}

func newTransport(endpoint string, base http.RoundTripper, n negotiator) *Transport {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	host, _, _ := net.SplitHostPort(endpoint)
	jar, _ := cookiejar.New(nil) // never fails without options
	return &Transport{base: base, negotiate: n, endpoint: endpoint, spn: "HTTP/" + host, jar: jar}
}

// SPN returns the service principal the Transport authenticates to, such as HTTP/rm1.example.com.
func (t *Transport) SPN() string { return t.spn }

// hostPort returns u's host:port in lower case, the port defaulted from the scheme.
func hostPort(u *url.URL) string {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(host, port)
}

// RoundTrip sends req with the endpoint's cookie, or with a new AP-REQ when there is none, and negotiates
// once more when the server answers 401 Negotiate to a cookie. A request whose body cannot be read again
// (no GetBody) gets that second try only when it has no body.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if ep := hostPort(req.URL); ep != t.endpoint {
		closeBody(req)
		return nil, fmt.Errorf("spnego transport for %s: request to another endpoint %s", t.endpoint, ep)
	}
	cookies := t.cookies(req.URL)
	out := req.Clone(req.Context())
	if len(cookies) == 0 {
		if err := t.negotiate(out, t.spn); err != nil {
			closeBody(req)
			return nil, err
		}
	} else {
		for _, c := range cookies {
			out.AddCookie(c)
		}
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if len(cookies) > 0 && challenged(resp) {
		again, ok, err := t.renegotiate(req)
		if err != nil {
			return nil, err
		}
		if ok {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			resp, err = t.base.RoundTrip(again)
			if err != nil {
				return nil, err
			}
		}
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.keepCookies(req.URL, resp)
	}
	return resp, nil
}

// renegotiate returns a copy of req with a new AP-REQ and a fresh body, and false when the body cannot be
// read again.
func (t *Transport) renegotiate(req *http.Request) (*http.Request, bool, error) {
	again := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, false, nil
		}
		body, err := req.GetBody()
		if err != nil {
			return nil, false, fmt.Errorf("spnego transport: body for a second try: %w", err)
		}
		again.Body = body
	}
	if err := t.negotiate(again, t.spn); err != nil {
		return nil, false, err
	}
	return again, true, nil
}

// cookies returns the endpoint's cookies that still hold a value.
func (t *Transport) cookies(u *url.URL) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range t.jar.Cookies(u) {
		if c.Value != "" {
			out = append(out, c)
		}
	}
	return out
}

// keepCookies stores the cookies of an accepted answer; an empty one (hadoop.auth= comes with every 401)
// would only be sent back and refused.
func (t *Transport) keepCookies(u *url.URL, resp *http.Response) {
	var keep []*http.Cookie
	for _, c := range resp.Cookies() {
		if c.Value != "" || c.MaxAge < 0 {
			keep = append(keep, c)
		}
	}
	if len(keep) > 0 {
		t.jar.SetCookies(u, keep)
	}
}

// challenged reports a 401 that asks for SPNEGO.
func challenged(resp *http.Response) bool {
	if resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		if scheme, _, _ := strings.Cut(strings.TrimSpace(v), " "); strings.EqualFold(scheme, "Negotiate") {
			return true
		}
	}
	return false
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// Endpoints is an http.RoundTripper that sends each request through the Transport of its endpoint
// (host:port), created on first use: one cookie jar per endpoint. It suits clients that talk to endpoints
// they learn as they go, such as the NodeManagers that serve container logs.
type Endpoints struct {
	// Immutable after construction.
	base      http.RoundTripper
	negotiate negotiator

	// mu guards byEndpoint.
	mu         sync.Mutex
	byEndpoint map[string]*Transport
}

// NewEndpoints returns an Endpoints sending with base (nil: a clone of http.DefaultTransport, shared by all
// endpoints).
func (l *Login) NewEndpoints(base http.RoundTripper) *Endpoints {
	return newEndpoints(base, l.negotiate)
}

func newEndpoints(base http.RoundTripper, n negotiator) *Endpoints {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &Endpoints{base: base, negotiate: n, byEndpoint: map[string]*Transport{}}
}

// RoundTrip sends req through the Transport of its endpoint.
func (e *Endpoints) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Host == "" {
		closeBody(req)
		return nil, errors.New("spnego transport: request without a host")
	}
	ep := hostPort(req.URL)
	e.mu.Lock()
	t, ok := e.byEndpoint[ep]
	if !ok {
		t = newTransport(ep, e.base, e.negotiate)
		e.byEndpoint[ep] = t
	}
	e.mu.Unlock()
	return t.RoundTrip(req)
}

// NewHTTPClient returns an http.Client that authenticates with SPNEGO to every endpoint it is sent to (an
// Endpoints) and returns redirects to its caller instead of following them.
func (l *Login) NewHTTPClient(base http.RoundTripper) *http.Client {
	return newHTTPClient(base, l.negotiate)
}

func newHTTPClient(base http.RoundTripper, n negotiator) *http.Client {
	return &http.Client{
		Transport:     newEndpoints(base, n),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
