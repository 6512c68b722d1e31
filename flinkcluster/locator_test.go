package flinkcluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
)

// fakeJM serves a JobManager's /config and /overview.
func fakeJM(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/config":
			fmt.Fprint(w, `{"refresh-interval":3000,"flink-version":"1.20.3","flink-revision":"01e3a6d"}`)
		case "/overview":
			fmt.Fprint(w, `{"taskmanagers":1,"slots-total":4,"slots-available":3,"jobs-running":1,"flink-version":"1.20.3"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// notFlink answers everything with an HTML page.
func notFlink(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html>the ResourceManager</html>")
	}))
	t.Cleanup(s.Close)
	return s
}

// closedURL is the URL of a server that no longer listens.
func closedURL(t *testing.T) string {
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

type fakeRM struct{ app *yarnclient.App }

func (f fakeRM) App(ctx context.Context, id string) (*yarnclient.App, error) {
	if f.app == nil || f.app.ID != id {
		return nil, yarnclient.ErrNotFound
	}
	return f.app, nil
}

type fakeLeaders map[string]zk.JobManagerLeader

func (f fakeLeaders) Watch(string) error { return nil }
func (f fakeLeaders) Unwatch(string)     {}
func (f fakeLeaders) Leader(id string) (zk.JobManagerLeader, bool) {
	return f[id], true
}

func TestLeader(t *testing.T) {
	jm, other, dead := fakeJM(t), notFlink(t), closedURL(t)
	since := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	leaders := fakeLeaders{"sa": {Known: true, Certain: true, Address: jm.URL, Since: since}}
	rm := fakeRM{app: &yarnclient.App{ID: "application_1_0001", State: yarnclient.StateRunning,
		AMHostHTTPAddress: "127.0.0.1:8042", AMRPCAddress: "evil.example.com:" + jm.URL[len("http://127.0.0.1:"):]}}
	l := New(Options{RM: rm, Quorum: "localhost:2181",
		NewLeaders: func(root string) (LeaderSource, error) { return leaders, nil }})
	for _, tc := range []struct {
		name    string
		reg     registry.ClusterRegistration
		want    string
		wantErr error
	}{
		{"first answering URL", registry.ClusterRegistration{REST: []string{dead, jm.URL}}, jm.URL, nil},
		{"no URL answers", registry.ClusterRegistration{REST: []string{dead}}, "", ErrUnreachable},
		{"not Flink", registry.ClusterRegistration{REST: []string{other.URL}}, "", ErrNotFlink},
		{"ZooKeeper leader", registry.ClusterRegistration{ZKRoot: "/flink", ZKClusterID: "sa"}, jm.URL, nil},
		{"no leader", registry.ClusterRegistration{ZKRoot: "/flink", ZKClusterID: "nope"}, "", ErrNoLeader},
		{"another quorum", registry.ClusterRegistration{ZKQuorum: "zk9:2181", ZKClusterID: "sa"}, "", ErrUnsupported},
		{"the same quorum by address", registry.ClusterRegistration{ZKQuorum: "127.0.0.1:2181", ZKClusterID: "sa"}, jm.URL, nil},
		// The AM container's host as YARN placed it, not the address the AM registered.
		{"YARN session", registry.ClusterRegistration{YARNApplicationID: "application_1_0001"}, jm.URL, nil},
		{"YARN application unknown", registry.ClusterRegistration{YARNApplicationID: "application_1_0002"}, "", ErrNotRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.Leader(t.Context(), "c-"+tc.name, tc.reg)
			if !errors.Is(err, tc.wantErr) || got.URL != tc.want {
				t.Fatalf("Leader = %q, %v; want %q, %v", got.URL, err, tc.want, tc.wantErr)
			}
			if tc.wantErr == nil && tc.reg.ZKClusterID == "sa" && !got.Since.Equal(since) {
				t.Errorf("since %v, want the znode's %v", got.Since, since)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	jm, other := fakeJM(t), notFlink(t)
	l := New(Options{})
	info, err := l.Probe(t.Context(), jm.URL)
	if err != nil || info != (Info{FlinkVersion: "1.20.3", TaskManagers: 1, SlotsTotal: 4, SlotsAvailable: 3, JobsRunning: 1}) {
		t.Errorf("Probe = %+v, %v", info, err)
	}
	if _, err := l.Probe(t.Context(), other.URL); !errors.Is(err, ErrNotFlink) {
		t.Errorf("Probe(not Flink) = %v", err)
	}
}

func TestSameQuorum(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"localhost:2181", "127.0.0.1:2181", true},
		{"a:1,b:2", "b:2,a:1/chroot", true},
		{"a:1", "a:2", false},
		{"a:1,b:2", "a:1", false},
	} {
		if got := SameQuorum(tc.a, tc.b); got != tc.want {
			t.Errorf("SameQuorum(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
