package job

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
)

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
		want api.ClusterView
	}{
		{
			name: "single RM, no ZooKeeper",
			opts: ClusterServiceOptions{HDFS: ok, RM: activeIs(yarnclient.RM{URL: "http://rm:8088"}), Flink: fakeVersions{"1.20.3"}},
			want: api.ClusterView{
				ResourceManager: api.ClusterRM{URL: "http://rm:8088", Source: "probe"},
				ZooKeeper:       api.ClusterZooKeeper{State: "not configured"},
				HDFS:            api.ClusterHDFS{Reachable: true},
				Flink:           []api.ClusterFlink{{Version: "1.20.3"}},
			},
		},
		{
			name: "HA, lock agrees",
			opts: ClusterServiceOptions{HDFS: ok, RM: activeIs(rm2), HAEnabled: true, RMLeader: leader("rm2", true), ZooKeeper: connected},
			want: api.ClusterView{
				ResourceManager: api.ClusterRM{Active: "rm2", URL: rm2.URL, HAEnabled: true, Source: "zookeeper"},
				ZooKeeper:       api.ClusterZooKeeper{State: "connected"},
				HDFS:            api.ClusterHDFS{Reachable: true},
				Flink:           []api.ClusterFlink{},
			},
		},
		{
			name: "HA, lock uncertain",
			opts: ClusterServiceOptions{HDFS: ok, RM: activeIs(rm1), HAEnabled: true, RMLeader: leader("rm1", false),
				ZooKeeper: fakeSession(func() zk.SessionInfo { return zk.SessionInfo{State: zk.StateDisconnected} })},
			want: api.ClusterView{
				ResourceManager: api.ClusterRM{Active: "rm1", URL: rm1.URL, HAEnabled: true, Source: "probe"},
				ZooKeeper:       api.ClusterZooKeeper{State: "disconnected"},
				HDFS:            api.ClusterHDFS{Reachable: true},
				Flink:           []api.ClusterFlink{},
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
			want: api.ClusterView{
				ResourceManager: api.ClusterRM{Active: "rm1", URL: rm1.URL, HAEnabled: true, Source: "probe"},
				ZooKeeper:       api.ClusterZooKeeper{State: "connected"},
				Flink:           []api.ClusterFlink{},
			},
		},
		{
			name: "no RM configured",
			opts: ClusterServiceOptions{HDFS: ok},
			want: api.ClusterView{
				ResourceManager: api.ClusterRM{Source: "probe"},
				ZooKeeper:       api.ClusterZooKeeper{State: "not configured"},
				HDFS:            api.ClusterHDFS{Reachable: true},
				Flink:           []api.ClusterFlink{},
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
