package jobmanager

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// healthJM answers the health calls as Flink's REST API does (bodies trimmed to the fields read).
func healthJM(checkpointing bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/exceptions"):
			w.Write([]byte(`{"root-exception":null,"timestamp":null,"all-exceptions":[],"truncated":false,
				"exceptionHistory":{"entries":[{"exceptionName":"java.io.IOException","stacktrace":"x","timestamp":1767225660000,"taskName":"Map"},
				{"exceptionName":"java.io.IOException","stacktrace":"x","timestamp":1767225600000,"taskName":"Map"}],"truncated":false}}`))
		case strings.HasSuffix(r.URL.Path, "/checkpoints/config"):
			if !checkpointing {
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"errors":["Checkpointing is not enabled for this job (x)."]}`))
				return
			}
			w.Write([]byte(`{"mode":"exactly_once","interval":2000,"timeout":600000}`))
		case strings.HasSuffix(r.URL.Path, "/checkpoints"):
			w.Write([]byte(`{"counts":{"restored":0,"total":3,"in_progress":0,"completed":3,"failed":0},
				"latest":{"completed":{"id":3,"status":"COMPLETED","latest_ack_timestamp":1767225700000,"external_path":"hdfs:///x"},
				"savepoint":null,"failed":null,"restored":null}}`))
		case strings.HasSuffix(r.URL.Path, "/backpressure"):
			w.Write([]byte(`{"status":"ok","backpressureLevel":"high","end-timestamp":1767225700000,"subtasks":[]}`))
		default:
			http.NotFound(w, r)
		}
	}
}

func TestHealthCalls(t *testing.T) {
	c := newTest(t, healthJM(true))
	f, err := c.Failures(t.Context(), "j")
	if err != nil || len(f) != 2 || !f[0].Equal(time.UnixMilli(1767225660000)) {
		t.Fatalf("Failures = %v, %v", f, err)
	}
	cp, err := c.CheckpointStats(t.Context(), "j")
	if err != nil || !cp.Enabled || cp.Completed != 3 || !cp.LastCompleted.Equal(time.UnixMilli(1767225700000)) {
		t.Fatalf("CheckpointStats = %+v, %v", cp, err)
	}
	if l, err := c.Backpressure(t.Context(), "j", "v"); err != nil || l != "high" {
		t.Fatalf("Backpressure = %q, %v", l, err)
	}
	off := newTest(t, healthJM(false))
	if cp, err := off.CheckpointStats(t.Context(), "j"); err != nil || cp.Enabled {
		t.Fatalf("CheckpointStats without checkpointing = %+v, %v", cp, err)
	}
}

func TestRetainsCheckpoints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   bool
	}{
		{"retained on cancellation", 200, `{"mode":"exactly_once","interval":2000,"externalization":{"enabled":true,"delete_on_cancellation":false}}`, true},
		{"deleted on cancellation", 200, `{"mode":"exactly_once","externalization":{"enabled":true,"delete_on_cancellation":true}}`, false},
		{"not externalized", 200, `{"mode":"exactly_once","externalization":{"enabled":false,"delete_on_cancellation":true}}`, false},
		{"no checkpointing", 404, `{"errors":["Checkpointing is not enabled for this job (x)."]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTest(t, func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/jobs/j/checkpoints/config") {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			})
			if got, err := c.RetainsCheckpoints(t.Context(), "j"); err != nil || got != tc.want {
				t.Errorf("RetainsCheckpoints = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
