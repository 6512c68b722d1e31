package job

import (
	"slices"
	"testing"

	"github.com/yarngate/yarngate/api"
)

func TestNormalizeClusterRequest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		req      api.FlinkClusterRequest
		problems []string // fields
		kind     string
	}{
		{"rest", api.FlinkClusterRequest{ID: "sa", REST: []string{"http://jm1:8081/", "https://jm2:8081"}}, nil, "rest"},
		{"zookeeper", api.FlinkClusterRequest{ID: "sa", ZooKeeper: &api.FlinkClusterZooKeeper{ClusterID: "c1"}}, nil, "zookeeper"},
		{"yarn", api.FlinkClusterRequest{ID: "sa", YARNApplicationID: "application_1_0001"}, nil, "yarn"},
		{"none", api.FlinkClusterRequest{ID: "sa"}, []string{"rest"}, ""},
		{"two", api.FlinkClusterRequest{ID: "sa", REST: []string{"http://jm:1"}, YARNApplicationID: "application_1_0001"}, []string{"rest"}, ""},
		{"bad id", api.FlinkClusterRequest{ID: "SA_1", REST: []string{"http://jm:1"}}, []string{"id"}, ""},
		{"bad URL", api.FlinkClusterRequest{ID: "sa", REST: []string{"file:///x", "http://u:p@jm:1"}}, []string{"rest", "rest"}, ""},
		{"no cluster id", api.FlinkClusterRequest{ID: "sa", ZooKeeper: &api.FlinkClusterZooKeeper{Root: "flink"}},
			[]string{"zookeeper.clusterId", "zookeeper.root"}, ""},
		{"bad application id", api.FlinkClusterRequest{ID: "sa", YARNApplicationID: "app-1"}, []string{"yarnApplicationId"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := normalizeClusterRequest(&tc.req)
			var got []string
			if se, ok := err.(*api.SpecError); ok {
				for _, p := range se.Problems {
					got = append(got, p.Field)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.problems) {
				t.Fatalf("problems %v, want %v (%v)", got, tc.problems, err)
			}
			if tc.kind != "" && reg.Kind() != tc.kind {
				t.Errorf("kind %q, want %q", reg.Kind(), tc.kind)
			}
			if tc.name == "rest" && !slices.Equal(reg.REST, []string{"http://jm1:8081", "https://jm2:8081"}) {
				t.Errorf("rest %v", reg.REST)
			}
			if tc.name == "zookeeper" && reg.ZKRoot != "/flink" {
				t.Errorf("root %q, want the default /flink", reg.ZKRoot)
			}
		})
	}
}
