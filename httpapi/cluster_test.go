package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/yarngate/yarngate/api"
)

// fakeCluster is a clusterAPI whose answer each test sets.
type fakeCluster struct {
	view func(ctx context.Context) api.ClusterView
}

func (f *fakeCluster) View(ctx context.Context) api.ClusterView { return f.view(ctx) }

func TestGetCluster(t *testing.T) {
	want := api.ClusterView{
		ResourceManager: api.ClusterRM{Active: "rm2", URL: "http://rm2:8088", HAEnabled: true, Source: "zookeeper"},
		ZooKeeper:       api.ClusterZooKeeper{State: "connected"},
		HDFS:            api.ClusterHDFS{Reachable: true},
		Flink:           []api.ClusterFlink{{Version: "1.20.3"}, {Version: "2.2.1"}},
	}
	s := newTestServerWith(t, func(o *Options) {
		o.Cluster = &fakeCluster{view: func(ctx context.Context) api.ClusterView {
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
