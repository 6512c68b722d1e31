package launch

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/yarngate/yarngate/flink"
)

// sessionJobManager is a session JobManager's REST API: jar upload, list and run, job status.
type sessionJobManager struct {
	mu      sync.Mutex
	uploads int
	jars    map[string]bool
	jobs    map[string]string
	runs    []map[string]any
}

func (m *sessionJobManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == "/config":
		io.WriteString(w, `{"flink-version":"2.2.1"}`)
	case p == "/jars" && r.Method == http.MethodGet:
		var files []map[string]string
		for id := range m.jars {
			files = append(files, map[string]string{"id": id})
		}
		json.NewEncoder(w).Encode(map[string]any{"files": files})
	case p == "/jars/upload":
		io.Copy(io.Discard, r.Body)
		m.uploads++
		id := strings.Repeat("u", m.uploads) + "_job.jar"
		m.jars[id] = true
		io.WriteString(w, `{"filename":"/tmp/flink-web/flink-web-upload/`+id+`","status":"success"}`)
	case strings.HasPrefix(p, "/jars/") && strings.HasSuffix(p, "/run"):
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		m.runs = append(m.runs, body)
		if args, _ := body["programArgsList"].([]any); len(args) > 0 && args[0] == "--fail" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"errors":["Could not execute application. (caused by java.lang.IllegalArgumentException: failing on purpose)"]}`)
			return
		}
		id := body["jobId"].(string)
		m.jobs[id] = "RUNNING"
		io.WriteString(w, `{"jobid":"`+id+`"}`)
	case strings.HasPrefix(p, "/jobs/"):
		id := strings.TrimPrefix(p, "/jobs/")
		st, ok := m.jobs[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":["Job could not be found."]}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"jid": id, "name": "example", "state": st})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestRunInSession(t *testing.T) {
	jm := &sessionJobManager{jars: map[string]bool{}, jobs: map[string]string{}}
	srv := httptest.NewServer(jm)
	t.Cleanup(srv.Close)
	files := &stagingFiles{}
	files.init()
	files.files["/staging/jars/x.jar"] = []byte("PK jar")
	l, err := New(Options{RM: queueRM{}, Files: files, Jars: stagedJar{}, FlinkLibRoot: "/flink-libs", User: "yarngate",
		StagingRoot: "/staging", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	run := func(jobID string, args ...string) (SessionResult, error) {
		return l.RunInSession(t.Context(), SessionRun{SessionID: "application_1700000000000_0003", JobManager: srv.URL,
			Jar: flink.RemoteFile{URI: "hdfs://nn:8020/staging/jars/x.jar", Size: 6, ModTime: 1}, EntryClass: "dev.Example",
			Args: args, FlinkJobID: jobID, Parallelism: 2})
	}
	ids := []string{strings.Repeat("1", 32), strings.Repeat("2", 32), strings.Repeat("3", 32)}
	for _, id := range ids[:2] {
		if res, err := run(id, "--n", "1"); err != nil || res.Failure != "" || res.Existed {
			t.Fatalf("run %s = %+v, %v", id, res, err)
		}
	}
	if jm.uploads != 1 {
		t.Fatalf("%d uploads of one jar to one session", jm.uploads)
	}
	if jm.runs[0]["parallelism"] != float64(2) || jm.runs[0]["entryClass"] != "dev.Example" || jm.runs[0]["jobId"] != ids[0] {
		t.Fatalf("run request %v", jm.runs[0])
	}
	// A retry under the same id finds the job and does not run it again.
	if res, err := run(ids[0], "--n", "1"); err != nil || !res.Existed || len(jm.runs) != 2 {
		t.Fatalf("retry = %+v, %v (%d runs)", res, err, len(jm.runs))
	}
	// The JobManager lost its jars (a restart): the jar is uploaded again.
	jm.mu.Lock()
	clear(jm.jars)
	jm.mu.Unlock()
	if res, err := run(ids[2], "--fail"); err != nil || !strings.Contains(res.Failure, "failing on purpose") {
		t.Fatalf("failing main() = %+v, %v", res, err)
	}
	if jm.uploads != 2 {
		t.Fatalf("%d uploads after the JobManager lost the jar", jm.uploads)
	}
	if err := l.ShutdownSession(context.WithoutCancel(t.Context()), "application_1700000000000_0003", "http://127.0.0.1:1"); err == nil {
		t.Fatal("shutdown of an unreachable JobManager succeeded")
	}
}
