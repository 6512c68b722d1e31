package jobmanager

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSavepointCalls checks the requests the savepoint calls send and how their answers (shaped as Flink 1.20
// and 2.2 give them) are read.
func TestSavepointCalls(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+string(body))
		switch r.Method + " " + r.URL.Path {
		case "POST /jobs/j1/savepoints", "POST /jobs/j1/stop", "POST /savepoint-disposal":
			io.WriteString(w, `{"request-id":"0123456789abcdef0123456789abcdef"}`)
		case "GET /jobs/j1/savepoints/running":
			io.WriteString(w, `{"status":{"id":"IN_PROGRESS"},"operation":null}`)
		case "GET /jobs/j1/savepoints/done":
			io.WriteString(w, `{"status":{"id":"COMPLETED"},"operation":{"location":"hdfs://nn:8020/sp/savepoint-1a2b3c-0123"}}`)
		case "GET /jobs/j1/savepoints/failed":
			io.WriteString(w, `{"status":{"id":"COMPLETED"},"operation":{"failure-cause":{"class":"java.util.concurrent.CompletionException",`+
				`"stack-trace":"java.util.concurrent.CompletionException: org.apache.flink.runtime.checkpoint.CheckpointException: Not all required tasks are currently running.\n\tat x.y(Z.java:1)\nCaused by: org.apache.flink.runtime.checkpoint.CheckpointException: Not all required tasks are currently running.\n"}}}`)
		case "GET /savepoint-disposal/d1":
			io.WriteString(w, `{"status":{"id":"COMPLETED"},"operation":{}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":["There is no savepoint operation with triggerId=x"]}`)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := c.TriggerSavepoint(ctx, "j1", SavepointTrigger{TargetDirectory: "hdfs:///sp", FormatType: "NATIVE", TriggerID: "aa"})
	if err != nil || id != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("TriggerSavepoint = %q, %v", id, err)
	}
	if _, err := c.Stop(ctx, "j1", StopRequest{TargetDirectory: "hdfs:///sp", Drain: true, FormatType: "CANONICAL", TriggerID: "bb"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisposeSavepoint(ctx, "hdfs:///sp/savepoint-1"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []map[string]any{
		{"target-directory": "hdfs:///sp", "cancel-job": false, "formatType": "NATIVE", "triggerId": "aa"},
		{"targetDirectory": "hdfs:///sp", "drain": true, "formatType": "CANONICAL", "triggerId": "bb"},
		{"savepoint-path": "hdfs:///sp/savepoint-1"},
	} {
		var body map[string]any
		raw := strings.SplitN(got[i], " ", 3)[2]
		if err := json.Unmarshal([]byte(raw), &body); err != nil || len(body) != len(want) {
			t.Errorf("request %d = %s, want %v", i, got[i], want)
			continue
		}
		for k, v := range want {
			if body[k] != v {
				t.Errorf("request %d: %s = %v, want %v", i, k, body[k], v)
			}
		}
	}
	for _, tc := range []struct {
		trigger string
		want    SavepointStatus
	}{
		{"running", SavepointStatus{}},
		{"done", SavepointStatus{Completed: true, Location: "hdfs://nn:8020/sp/savepoint-1a2b3c-0123"}},
		{"failed", SavepointStatus{Completed: true, Failure: "java.util.concurrent.CompletionException: org.apache.flink.runtime.checkpoint.CheckpointException: Not all required tasks are currently running."}},
	} {
		st, err := c.Savepoint(ctx, "j1", tc.trigger)
		if err != nil || st != tc.want {
			t.Errorf("Savepoint(%s) = %+v, %v; want %+v", tc.trigger, st, err, tc.want)
		}
	}
	if _, err := c.Savepoint(ctx, "j1", "unknown"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown trigger: %v, want ErrNotFound", err)
	}
	if st, err := c.Disposal(ctx, "d1"); err != nil || !st.Completed || st.Failure != "" {
		t.Errorf("Disposal = %+v, %v", st, err)
	}
}
