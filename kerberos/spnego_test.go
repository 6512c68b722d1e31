package kerberos

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeHadoop answers like Hadoop's AuthenticationFilter: a request with a valid hadoop.auth cookie or a
// Negotiate header passes (and an accepted Negotiate gets a new cookie); anything else gets 401 Negotiate with
// an empty hadoop.auth cookie. Cookies it has revoked are refused.
type fakeHadoop struct {
	srv *httptest.Server

	mu        sync.Mutex
	next      int
	valid     map[string]bool
	requests  []seen
	redirect  string // when set, every authenticated request is answered 307 to it
	gotBodies []string
}

type seen struct {
	negotiate string // the Authorization header
	cookie    string
	status    int
}

func newFakeHadoop(t *testing.T) *fakeHadoop {
	f := &fakeHadoop{valid: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeHadoop) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	s := seen{negotiate: r.Header.Get("Authorization")}
	if c, err := r.Cookie("hadoop.auth"); err == nil {
		s.cookie = c.Value
	}
	defer func() { f.requests = append(f.requests, s) }()
	switch {
	case s.cookie != "" && f.valid[s.cookie]:
	case strings.HasPrefix(s.negotiate, "Negotiate "):
		f.next++
		token := "token-" + string(rune('0'+f.next))
		f.valid[token] = true
		http.SetCookie(w, &http.Cookie{Name: "hadoop.auth", Value: token, Path: "/", HttpOnly: true})
	default:
		http.SetCookie(w, &http.Cookie{Name: "hadoop.auth", Value: "", Path: "/"})
		w.Header().Set("WWW-Authenticate", "Negotiate")
		s.status = http.StatusUnauthorized
		w.WriteHeader(s.status)
		return
	}
	f.gotBodies = append(f.gotBodies, string(body))
	if f.redirect != "" {
		w.Header().Set("Location", f.redirect)
		s.status = http.StatusTemporaryRedirect
		w.WriteHeader(s.status)
		return
	}
	s.status = http.StatusOK
	io.WriteString(w, "ok")
}

// revoke makes the server refuse every cookie it issued (an expired hadoop.auth token).
func (f *fakeHadoop) revoke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.valid = map[string]bool{}
}

func (f *fakeHadoop) seen() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.requests...)
}

// fakeNegotiator records the SPNs it was asked for and sets a recognisable header.
type fakeNegotiator struct {
	mu   sync.Mutex
	spns []string
	err  error
}

func (n *fakeNegotiator) negotiate(r *http.Request, spn string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.err != nil {
		return n.err
	}
	n.spns = append(n.spns, spn)
	r.Header.Set("Authorization", "Negotiate fake-"+spn)
	return nil
}

func (n *fakeNegotiator) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.spns)
}

func TestTransport(t *testing.T) {
	type step struct {
		method, body string
		revoke       bool
		wantStatus   int
		wantNeg      int // negotiations so far
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "the first request negotiates, later ones send the cookie", steps: []step{
			{method: "GET", wantStatus: 200, wantNeg: 1},
			{method: "GET", wantStatus: 200, wantNeg: 1},
			{method: "POST", body: `{"a":1}`, wantStatus: 200, wantNeg: 1},
		}},
		{name: "a refused cookie negotiates once more and replays the body", steps: []step{
			{method: "GET", wantStatus: 200, wantNeg: 1},
			{method: "POST", body: `{"b":2}`, revoke: true, wantStatus: 200, wantNeg: 2},
			{method: "GET", wantStatus: 200, wantNeg: 2},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHadoop(t)
			n := &fakeNegotiator{}
			u, _ := url.Parse(f.srv.URL)
			tr := newTransport(hostPort(u), nil, n.negotiate)
			hc := &http.Client{Transport: tr}
			for i, s := range tc.steps {
				if s.revoke {
					f.revoke()
				}
				var body io.Reader
				if s.body != "" {
					body = strings.NewReader(s.body)
				}
				req, _ := http.NewRequestWithContext(t.Context(), s.method, f.srv.URL+"/ws/v1/cluster/info", body)
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				resp.Body.Close()
				if resp.StatusCode != s.wantStatus || n.count() != s.wantNeg {
					t.Fatalf("step %d: status %d after %d negotiations; want %d after %d (server saw %+v)",
						i, resp.StatusCode, n.count(), s.wantStatus, s.wantNeg, f.seen())
				}
				if s.body != "" && f.gotBodies[len(f.gotBodies)-1] != s.body {
					t.Errorf("step %d: server got body %q, want %q", i, f.gotBodies[len(f.gotBodies)-1], s.body)
				}
			}
			for _, spn := range n.spns {
				if spn != "HTTP/127.0.0.1" {
					t.Errorf("negotiated for %q, want HTTP/<host of the URL>", spn)
				}
			}
			for _, s := range f.seen() {
				if s.cookie != "" && s.negotiate != "" {
					t.Errorf("a request carried both a cookie and an AP-REQ: %+v", s)
				}
			}
		})
	}
}

// TestTransportNeverFollowsRedirects: a 307 (a standby ResourceManager's answer) goes back to the caller, and
// the target is never contacted, however many redirects a client sees over its lifetime (gokrb5's own
// spnego.Client fails the tenth).
func TestTransportNeverFollowsRedirects(t *testing.T) {
	active := newFakeHadoop(t)
	standby := newFakeHadoop(t)
	standby.redirect = active.srv.URL + "/ws/v1/cluster/apps?user.name=x"
	n := &fakeNegotiator{}
	for _, hc := range []*http.Client{
		{Transport: newEndpoints(nil, n.negotiate)}, // a plain client: the RoundTripper alone must not follow
		newHTTPClient(nil, n.negotiate),
	} {
		for i := range 12 {
			resp, err := hc.Post(standby.srv.URL+"/ws/v1/cluster/apps", "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			resp.Body.Close()
			if hc.CheckRedirect == nil {
				// net/http follows with a plain client: what matters is that our RoundTripper returned the 307.
				continue
			}
			if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != standby.redirect {
				t.Fatalf("request %d: %d Location %q; want the 307 itself", i, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	}
	if got := len(active.seen()); got != 12 {
		// Only the plain client's 12 requests reached the active RM, through net/http's own redirect
		// handling; the SPNEGO client built here never followed.
		t.Errorf("the active RM saw %d requests, want 12 (from the plain client only)", got)
	}
}

func TestEndpointsKeepOneJarPerEndpoint(t *testing.T) {
	a, b := newFakeHadoop(t), newFakeHadoop(t) // same host, two ports: browsers would share the cookie
	n := &fakeNegotiator{}
	hc := &http.Client{Transport: newEndpoints(nil, n.negotiate)}
	for _, u := range []string{a.srv.URL, b.srv.URL, a.srv.URL, b.srv.URL} {
		resp, err := hc.Get(u + "/ws/v1/node/info")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d", u, resp.StatusCode)
		}
	}
	if n.count() != 2 {
		t.Errorf("%d negotiations, want one per endpoint", n.count())
	}
	for _, s := range append(a.seen(), b.seen()...) {
		if s.status == http.StatusUnauthorized {
			t.Errorf("a cookie went to the wrong endpoint: %+v", s)
		}
	}
}

func TestTransportErrors(t *testing.T) {
	f := newFakeHadoop(t)
	u, _ := url.Parse(f.srv.URL)
	errNoTicket := errors.New("no ticket")
	tests := []struct {
		name    string
		target  string
		negErr  error
		wantErr error
	}{
		{name: "another endpoint", target: "http://other.example.com:8088/ws/v1/cluster/info"},
		{name: "no ticket", target: f.srv.URL + "/ws/v1/cluster/info", negErr: errNoTicket, wantErr: errNoTicket},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTransport(hostPort(u), nil, (&fakeNegotiator{err: tc.negErr}).negotiate)
			body := &trackedBody{Reader: strings.NewReader("x")}
			req, _ := http.NewRequestWithContext(t.Context(), "POST", tc.target, body)
			_, err := tr.RoundTrip(req)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("RoundTrip error %v, want %v", err, tc.wantErr)
			}
			if !body.closed {
				t.Error("the request body was not closed")
			}
			if len(f.seen()) != 0 {
				t.Error("the server was contacted")
			}
		})
	}
}

type trackedBody struct {
	io.Reader
	closed bool
}

func (b *trackedBody) Close() error { b.closed = true; return nil }

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"http://RM1.Example.com:8088/x": "rm1.example.com:8088",
		"http://rm1.example.com./x":     "rm1.example.com:80",
		"https://rm1.example.com/x":     "rm1.example.com:443",
		"http://[::1]:8088/":            "[::1]:8088",
	} {
		u, _ := url.Parse(in)
		if got := hostPort(u); got != want {
			t.Errorf("hostPort(%s) = %s, want %s", in, got, want)
		}
	}
}
