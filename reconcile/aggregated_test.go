package reconcile

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/yarnlogs"
)

// aggregatedFiles serves one aggregated log file (yarnlogs' fixture, written by Hadoop's LogWriter) at its
// place in the bucketed layout.
type aggregatedFiles struct {
	fakeFiles
	dir, name string
	data      []byte
}

type byteFile struct{ *bytes.Reader }

func (b byteFile) Close() error { return nil }
func (b byteFile) Size() int64  { return b.Reader.Size() }

func (a *aggregatedFiles) ReadDir(_ context.Context, name string) ([]hdfs.DirEntry, error) {
	if name != a.dir {
		return nil, os.ErrNotExist
	}
	return []hdfs.DirEntry{{Name: a.name + ".tmp"}, {Name: a.name}}, nil
}

func (a *aggregatedFiles) OpenFile(_ context.Context, name string) (hdfs.File, error) {
	if name != a.dir+"/"+a.name {
		return nil, os.ErrNotExist
	}
	return byteFile{bytes.NewReader(a.data)}, nil
}

func TestAggregatedLogTail(t *testing.T) {
	data, err := os.ReadFile("../yarnlogs/testdata/gz.tfile")
	if err != nil {
		t.Fatal(err)
	}
	const app = "application_1700000000000_0007"
	files := &aggregatedFiles{dir: "/tmp/logs/alice/bucket-logs-tfile/0007/" + app, name: "node_45454", data: data}
	r := &Reconciler{opts: Options{Files: files, RemoteLogs: yarnlogs.DefaultLayout, Logger: slog.New(slog.DiscardHandler)}}
	link := "http://node:8042/node/containerlogs/container_1700000000000_0007_01_000001/alice"
	got, err := r.aggregatedLogTail(t.Context(), app, link, "jobmanager.log", 44)
	if err != nil || got != "ine 000009999\njobmanager.log line 000010000\n" {
		t.Fatalf("tail = %q, %v", got, err)
	}
	if _, err := r.aggregatedLogTail(t.Context(), app, link, "taskmanager.log", 10); err == nil {
		t.Error("a file the container lacks was found")
	}
	if _, err := r.aggregatedLogTail(t.Context(), app, strings.Replace(link, "alice", "bob", 1), "jobmanager.log", 10); err == nil {
		t.Error("another user's directory was read")
	}
}
