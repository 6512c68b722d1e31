package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
)

// fakeCluster is a clusterAPI whose answer each test sets.
type fakeCluster struct {
	view func(ctx context.Context) ClusterView
}

func (f *fakeCluster) View(ctx context.Context) ClusterView { return f.view(ctx) }

// fakeActiveRM is an activeRMLocator with function fields.
type fakeActiveRM struct {
	active      func() (yarnclient.RM, bool)
	clusterInfo func(ctx context.Context) (*yarnclient.ClusterInfo, error)
}

func (f *fakeActiveRM) ActiveRM() (yarnclient.RM, bool) { return f.active() }
func (f *fakeActiveRM) ClusterInfo(ctx context.Context) (*yarnclient.ClusterInfo, error) {
	return f.clusterInfo(ctx)
}

type fakeLeader func() zk.RMLeader

func (f fakeLeader) Leader() zk.RMLeader { return f() }

type fakeSession func() zk.SessionInfo

func (f fakeSession) Session() zk.SessionInfo { return f() }

type fakeVersions []string

func (f fakeVersions) FlinkVersions() []string { return f }

func TestGetCluster(t *testing.T) {
	want := ClusterView{
		ResourceManager: ClusterRM{Active: "rm2", URL: "http://rm2:8088", HAEnabled: true, Source: "zookeeper"},
		ZooKeeper:       ClusterZooKeeper{State: "connected"},
		HDFS:            ClusterHDFS{Reachable: true},
		Flink:           []ClusterFlink{{Version: "1.20.3"}, {Version: "2.2.1"}},
	}
	s := newTestServerWith(t, func(o *Options) {
		o.Cluster = &fakeCluster{view: func(ctx context.Context) ClusterView {
			if ctx == nil {
				t.Error("no context")
			}
			return want
		}}
	})
	rec := s.do(t, http.MethodGet, "/v1/cluster", nil, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/cluster = %d %s", rec.Code, rec.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	rm := got["resourceManager"].(map[string]any)
	if rm["active"] != "rm2" || rm["url"] != "http://rm2:8088" || rm["haEnabled"] != true || rm["source"] != "zookeeper" {
		t.Errorf("resourceManager = %v", rm)
	}
	if zk := got["zookeeper"].(map[string]any); zk["state"] != "connected" {
		t.Errorf("zookeeper = %v", zk)
	}
	if h := got["hdfs"].(map[string]any); h["reachable"] != true {
		t.Errorf("hdfs = %v", h)
	}
	if f := got["flink"].([]any); len(f) != 2 || f[0].(map[string]any)["version"] != "1.20.3" {
		t.Errorf("flink = %v", f)
	}
}

func TestGetClusterUnconfigured(t *testing.T) {
	s := newTestServerWith(t, func(*Options) {})
	rec := s.do(t, http.MethodGet, "/v1/cluster", nil, nil)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /v1/cluster without a cluster service = %d, want 503", rec.Code)
	}
}

func TestClusterServiceView(t *testing.T) {
	rm1 := yarnclient.RM{ID: "rm1", URL: "http://rm1:8088"}
	rm2 := yarnclient.RM{ID: "rm2", URL: "http://rm2:8088"}
	activeIs := func(rm yarnclient.RM) *fakeActiveRM {
		return &fakeActiveRM{active: func() (yarnclient.RM, bool) { return rm, true }}
	}
	leader := func(id string, certain bool) fakeLeader {
		return func() zk.RMLeader { return zk.RMLeader{ID: id, Certain: certain, Source: zk.SourceLock} }
	}
	connected := fakeSession(func() zk.SessionInfo { return zk.SessionInfo{State: zk.StateConnected} })
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name string
		opts ClusterServiceOptions
		want ClusterView
	}{
		{
			name: "single RM, no ZooKeeper",
			opts: ClusterServiceOptions{HDFS: ok, RM: activeIs(yarnclient.RM{URL: "http://rm:8088"}), Flink: fakeVersions{"1.20.3"}},
			want: ClusterView{
				ResourceManager: ClusterRM{URL: "http://rm:8088", Source: "probe"},
				ZooKeeper:       ClusterZooKeeper{State: "not configured"},
				HDFS:            ClusterHDFS{Reachable: true},
				Flink:           []ClusterFlink{{Version: "1.20.3"}},
			},
		},
		{
			name: "HA, lock agrees",
			opts: ClusterServiceOptions{HDFS: ok, RM: activeIs(rm2), HAEnabled: true, RMLeader: leader("rm2", true), ZooKeeper: connected},
			want: ClusterView{
				ResourceManager: ClusterRM{Active: "rm2", URL: rm2.URL, HAEnabled: true, Source: "zookeeper"},
				ZooKeeper:       ClusterZooKeeper{State: "connected"},
				HDFS:            ClusterHDFS{Reachable: true},
				Flink:           []ClusterFlink{},
			},
		},
		{
			name: "HA, lock uncertain",
			opts: ClusterServiceOptions{HDFS: ok, RM: activeIs(rm1), HAEnabled: true, RMLeader: leader("rm1", false),
				ZooKeeper: fakeSession(func() zk.SessionInfo { return zk.SessionInfo{State: zk.StateDisconnected} })},
			want: ClusterView{
				ResourceManager: ClusterRM{Active: "rm1", URL: rm1.URL, HAEnabled: true, Source: "probe"},
				ZooKeeper:       ClusterZooKeeper{State: "disconnected"},
				HDFS:            ClusterHDFS{Reachable: true},
				Flink:           []ClusterFlink{},
			},
		},
		{
			name: "HA, no active known, the probe finds rm1; HDFS down",
			opts: ClusterServiceOptions{
				HDFS: func(context.Context) error { return errors.New("connection refused") },
				RM: func() *fakeActiveRM {
					probed := false
					return &fakeActiveRM{
						active: func() (yarnclient.RM, bool) { return rm1, probed },
						clusterInfo: func(ctx context.Context) (*yarnclient.ClusterInfo, error) {
							if _, ok := ctx.Deadline(); !ok {
								t.Error("RM probe without a deadline")
							}
							probed = true
							return &yarnclient.ClusterInfo{}, nil
						},
					}
				}(),
				HAEnabled: true, RMLeader: leader("", true), ZooKeeper: connected,
			},
			want: ClusterView{
				ResourceManager: ClusterRM{Active: "rm1", URL: rm1.URL, HAEnabled: true, Source: "probe"},
				ZooKeeper:       ClusterZooKeeper{State: "connected"},
				Flink:           []ClusterFlink{},
			},
		},
		{
			name: "no RM configured",
			opts: ClusterServiceOptions{HDFS: ok},
			want: ClusterView{
				ResourceManager: ClusterRM{Source: "probe"},
				ZooKeeper:       ClusterZooKeeper{State: "not configured"},
				HDFS:            ClusterHDFS{Reachable: true},
				Flink:           []ClusterFlink{},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := NewClusterService(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(svc.View(t.Context()))
			want, _ := json.Marshal(tt.want)
			if string(got) != string(want) {
				t.Errorf("View =\n %s\nwant\n %s", got, want)
			}
		})
	}
}

func TestNewClusterServiceNeedsHDFS(t *testing.T) {
	if _, err := NewClusterService(ClusterServiceOptions{}); err == nil {
		t.Error("NewClusterService without an HDFS check succeeded")
	}
}
