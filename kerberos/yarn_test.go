package kerberos

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/yarngate/yarngate/yarnclient"
)

// spnegoGate answers like a Kerberized Hadoop web endpoint: without a valid cookie or a Negotiate header, 401
// Negotiate (a standby ResourceManager too); otherwise the wrapped handler, with a hadoop.auth cookie after a
// negotiation.
type spnegoGate struct {
	name string
	next http.HandlerFunc

	mu           sync.Mutex
	issued       map[string]bool
	negotiations []string // the Authorization headers accepted
	refused      int
}

func (g *spnegoGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	c, err := r.Cookie("hadoop.auth")
	switch {
	case err == nil && g.issued[c.Value]:
	case strings.HasPrefix(r.Header.Get("Authorization"), "Negotiate "):
		g.negotiations = append(g.negotiations, r.Header.Get("Authorization"))
		token := g.name + "-" + string(rune('a'+len(g.negotiations)))
		g.issued[token] = true
		http.SetCookie(w, &http.Cookie{Name: "hadoop.auth", Value: token, Path: "/"})
	default:
		g.refused++
		g.mu.Unlock()
		w.Header().Set("WWW-Authenticate", "Negotiate")
		http.Error(w, "Authentication required", http.StatusUnauthorized)
		return
	}
	g.mu.Unlock()
	g.next(w, r)
}

func (g *spnegoGate) counts() (negotiations, refused int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.negotiations), g.refused
}

func newGate(t *testing.T, name string, h http.HandlerFunc) (*spnegoGate, *httptest.Server) {
	g := &spnegoGate{name: name, next: h, issued: map[string]bool{}}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

func writeJSON(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}

// TestYARNClientOverSPNEGO runs the ResourceManager client over the SPNEGO transport against a Kerberized
// RM HA pair and a NodeManager: the client finds the active RM by probing (a standby answers an authenticated
// cluster info with haState STANDBY), follows a standby's 307 itself, reads a container log, and negotiates
// once per endpoint (cookies afterwards); no endpoint ever sees an unauthenticated request.
func TestYARNClientOverSPNEGO(t *testing.T) {
	var redirects atomic.Int32
	activeGate, active := newGate(t, "rm2", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ws/v1/cluster/info":
			writeJSON(w, `{"clusterInfo":{"id":1,"haState":"ACTIVE","resourceManagerVersion":"3.4.2"}}`)
		case "/ws/v1/cluster/apps":
			writeJSON(w, `{"apps":{"app":[{"id":"application_1765000000000_0001","state":"RUNNING","user":"yarngate"}]}}`)
		default:
			http.NotFound(w, r)
		}
	})
	standbyGate, standby := newGate(t, "rm1", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ws/v1/cluster/info":
			writeJSON(w, `{"clusterInfo":{"id":1,"haState":"STANDBY","resourceManagerVersion":"3.4.2"}}`)
		default:
			redirects.Add(1)
			w.Header().Set("Location", active.URL+r.URL.RequestURI())
			w.WriteHeader(http.StatusTemporaryRedirect)
		}
	})
	nmGate, nm := newGate(t, "nm", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws/v1/node/containerlogs/container_1765000000000_0001_01_000001/jobmanager.log" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "Container: container_1765000000000_0001_01_000001\nthe JobManager's log")
	})
	n := &fakeNegotiator{}
	yc, err := yarnclient.New(yarnclient.Options{
		RMs:        []yarnclient.RM{{ID: "rm1", URL: standby.URL}, {ID: "rm2", URL: active.URL}},
		User:       "yarngate",
		HTTPClient: newHTTPClient(nil, n.negotiate),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	// Discovery: probing both RMs' cluster info.
	info, err := yc.ClusterInfo(ctx)
	if err != nil || info.HAState != yarnclient.HAStateActive {
		t.Fatalf("ClusterInfo() = %+v, %v; want the active RM's", info, err)
	}
	if rm, ok := yc.ActiveRM(); !ok || rm.ID != "rm2" {
		t.Fatalf("active RM %+v, want rm2", rm)
	}

	// A stale belief (a ZooKeeper watcher that lags): the standby's 307 is followed by the client itself.
	if err := yc.SetActive("rm1"); err != nil {
		t.Fatal(err)
	}
	for range 12 { // more redirects than gokrb5's spnego.Client survives over its lifetime
		apps, err := yc.Apps(ctx, yarnclient.AppsFilter{})
		if err != nil || len(apps) != 1 {
			t.Fatalf("Apps() = %v, %v", apps, err)
		}
		yc.SetActive("rm1")
	}

	// A container log from the NodeManager.
	logText, err := yc.ContainerLog(ctx, nm.URL+"/node/containerlogs/container_1765000000000_0001_01_000001/yarngate", "jobmanager.log", 4096)
	if err != nil || !strings.Contains(logText, "the JobManager's log") {
		t.Fatalf("ContainerLog() = %q, %v", logText, err)
	}

	if got := redirects.Load(); got != 12 {
		t.Errorf("the standby redirected %d times, want 12", got)
	}
	for _, g := range []*spnegoGate{activeGate, standbyGate, nmGate} {
		neg, refused := g.counts()
		if neg != 1 || refused != 0 {
			t.Errorf("%s: %d negotiations and %d unauthenticated requests; want 1 and 0", g.name, neg, refused)
		}
	}
	for _, spn := range n.spns {
		if spn != "HTTP/127.0.0.1" {
			t.Errorf("negotiated for %s, want HTTP/<host of the URL>", spn)
		}
	}
}
