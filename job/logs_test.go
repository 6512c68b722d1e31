package job

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/yarnlogs"
)

// growingNode is a NodeManager whose log file grows by grow bytes before every answer, serving tails as
// the real one does (the last |size| bytes, and the file's length).
type growingNode struct {
	nodeLogs
	file  []byte
	grow  int
	calls int
}

func (g *growingNode) NodeLogTail(_ context.Context, _, _, file string, tail int64) (*yarnclient.NodeLog, error) {
	if file != "f.log" {
		return nil, yarnclient.ErrNotFound
	}
	g.calls++
	for range g.grow {
		g.file = append(g.file, byte('a'+len(g.file)%26))
	}
	n := min(tail, int64(len(g.file)))
	return &yarnclient.NodeLog{FileLength: int64(len(g.file)), Start: int64(len(g.file)) - n,
		Body: io.NopCloser(bytes.NewReader(g.file[int64(len(g.file))-n:]))}, nil
}

func TestNodeLogFromIsExact(t *testing.T) {
	for _, tc := range []struct {
		name        string
		size, grow  int
		start, n    int64
		wantEndDiff int64 // end - start, -1: to the file's end at the answer
	}{
		{"head", 1000, 0, 0, 10, 10},
		{"middle", 1 << 20, 0, 300000, 5000, 5000},
		{"to the end", 1000, 0, 400, -1, -1},
		{"grows a little", 1 << 20, 100, 10, 100, 100},
		{"grows more than the margin", 1 << 20, nodeMargin * 2, 5, 50, 50},
		{"past the end", 100, 0, 100, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := &growingNode{grow: tc.grow}
			for range tc.size {
				node.file = append(node.file, byte('a'+len(node.file)%26))
			}
			s := &Service{opts: Options{Logs: LogSources{YARN: node}}}
			body, end, err := s.nodeLogFrom(t.Context(), logContainer{LogContainer: api.LogContainer{ContainerID: "container_1_0001_01_000001"}}, "f.log", tc.start, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			want := node.file[tc.start:end]
			if !bytes.Equal(got, want) || (tc.wantEndDiff >= 0 && end-tc.start != tc.wantEndDiff) {
				t.Errorf("got %d bytes to %d, want %d (calls %d)", len(got), end, len(want), node.calls)
			}
		})
	}
	s := &Service{opts: Options{Logs: LogSources{YARN: &growingNode{}}}}
	if _, _, err := s.nodeLogFrom(t.Context(), logContainer{}, "other.log", 0, -1); !errors.Is(err, ErrLogNotFound) {
		t.Errorf("a file the NodeManager lacks: %v, want ErrLogNotFound", err)
	}
}

func TestNodeIDOfAggregatedFile(t *testing.T) {
	for name, want := range map[string]string{
		"localhost_35531":            "localhost:35531",
		"worker-3.example.com_45454": "worker-3.example.com:45454",
		"host_45454_1796610261031":   "host:45454",
		"under_score_host_45454":     "under_score_host:45454",
	} {
		if got := nodeIDOf(name); got != want {
			t.Errorf("nodeIDOf(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestAggregatedIndexKeepsTheNewestListings(t *testing.T) {
	var x aggregatedIndex
	key := func(i int) aggregatedKey { return aggregatedKey{path: "/tmp/logs/a/node_1", size: int64(i)} }
	for i := range maxIndexedFiles + 10 {
		x.put(key(i), []yarnlogs.Container{{ID: "container_1"}})
	}
	if _, ok := x.get(key(0)); ok {
		t.Error("the oldest listing was kept beyond the bound")
	}
	if cs, ok := x.get(key(maxIndexedFiles + 9)); !ok || cs[0].ID != "container_1" {
		t.Error("the newest listing is missing")
	}
	if _, ok := x.get(aggregatedKey{path: "/tmp/logs/a/node_1", size: 3}); ok {
		t.Error("a file of another size matched")
	}
	if len(x.entries) != maxIndexedFiles || len(x.order) != maxIndexedFiles {
		t.Errorf("index holds %d/%d", len(x.entries), len(x.order))
	}
}
