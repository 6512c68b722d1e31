package yarnclient

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The answers below are what a Hadoop 3.4.2 NodeManager and ResourceManager sent (trimmed): Jersey renders a
// list of one element as a bare object.

func TestAttemptContainersOneOrMany(t *testing.T) {
	const one = `{"container":{"containerId":"container_1_0001_01_000001","assignedNodeId":"localhost:35531",` +
		`"containerState":"RUNNING","nodeHttpAddress":"http://localhost:33042","nodeId":"localhost:35531","allocatedMB":"1024"}}`
	const two = `{"container":[{"containerId":"container_1_0001_01_000001","nodeId":"n:1","nodeHttpAddress":"http://n:2"},` +
		`{"containerId":"container_1_0001_01_000002","assignedNodeId":"n:1","nodeHttpAddress":"http://n:2"}]}`
	for name, tc := range map[string]struct {
		body string
		ids  []string
	}{
		"one":  {one, []string{"container_1_0001_01_000001"}},
		"two":  {two, []string{"container_1_0001_01_000001", "container_1_0001_01_000002"}},
		"none": {`{"container":null}`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			rm := newFakeRM(t)
			rm.on("GET /ws/v1/cluster/apps/application_1_0001/appattempts/appattempt_1_0001_000001/containers", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tc.body)
			})
			c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))
			got, err := c.AttemptContainers(t.Context(), "application_1_0001", "appattempt_1_0001_000001")
			if err != nil || len(got) != len(tc.ids) {
				t.Fatalf("AttemptContainers = %+v, %v", got, err)
			}
			for i, id := range tc.ids {
				if got[i].ContainerID != id || got[i].NodeID == "" || got[i].NodeHTTPAddress == "" {
					t.Errorf("container %d = %+v", i, got[i])
				}
			}
		})
	}
	c := mustClient(t, testOptions(RM{URL: "http://127.0.0.1:1"}))
	if _, err := c.AttemptContainers(t.Context(), "application_1_0001", "../x"); !errors.Is(err, ErrBadRequest) {
		t.Errorf("bad attempt id: %v", err)
	}
}

func TestNodeLogFiles(t *testing.T) {
	nm := newFakeRM(t)
	nm.on("GET /ws/v1/node/containers/container_1_0001_01_000001/logs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"containerLogsInfo":{"containerLogInfo":[{"fileName":"jobmanager.log","fileSize":"41688",`+
			`"lastModifiedTime":"Mon Dec 07 02:25:57 +0000 2026"},{"fileName":"jobmanager.out","fileSize":"0"}],`+
			`"logAggregationType":"LOCAL","containerId":"container_1_0001_01_000001","nodeId":"localhost:35531"}}`)
	})
	nm.on("GET /ws/v1/node/containers/container_1_0001_01_000002/logs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"containerLogsInfo":[{"containerLogInfo":{"fileName":"taskmanager.log","fileSize":"7"},"logAggregationType":"LOCAL"},`+
			`{"containerLogInfo":[{"fileName":"taskmanager.log","fileSize":"5"}],"logAggregationType":"AGGREGATED"}]}`)
	})
	c := mustClient(t, testOptions(RM{URL: "http://127.0.0.1:1"}))
	node := strings.TrimPrefix(nm.srv.URL, "http://")
	got, err := c.NodeLogFiles(t.Context(), node, "container_1_0001_01_000001")
	if err != nil || fmt.Sprint(got) != "[{jobmanager.log 41688} {jobmanager.out 0}]" {
		t.Errorf("NodeLogFiles = %v, %v", got, err)
	}
	got, err = c.NodeLogFiles(t.Context(), nm.srv.URL, "container_1_0001_01_000002") // the RM's form: a URL
	if err != nil || fmt.Sprint(got) != "[{taskmanager.log 7}]" {
		t.Errorf("NodeLogFiles (local beside aggregated) = %v, %v", got, err)
	}
	if _, err := c.NodeLogFiles(t.Context(), node, "../../ws/v1/cluster"); !errors.Is(err, ErrBadRequest) {
		t.Errorf("bad container id: %v", err)
	}
}

func TestNodeLogTail(t *testing.T) {
	const content = "line one\nline two\nline three\n"
	nm := newFakeRM(t)
	nm.on("GET /ws/v1/node/containerlogs/container_1_0001_01_000001/jobmanager.log", func(w http.ResponseWriter, r *http.Request) {
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		body := content
		if -size < len(body) {
			body = body[len(body)+size:]
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "Container: container_1_0001_01_000001 on localhost:35531\nLogAggregationType: LOCAL\n====\n"+
			"LogType:jobmanager.log\nLogLastModifiedTime:Mon Dec 07 02:25:44 +0000 2026\nLogLength:%d\nLogContents:\n%s"+
			"End of LogType:jobmanager.log.This log file belongs to a running container and so may not be complete.\n****\n\n",
			len(content), body)
	})
	nm.on("GET /ws/v1/node/containerlogs/container_1_0001_01_000001/gone.log", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "java.lang.Exception: Cannot find this log on the local disk.")
	})
	nm.on("GET /ws/v1/node/containerlogs/container_1_0001_01_000001/moved.log", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://jhs:19888/jobhistory/logs", http.StatusTemporaryRedirect)
	})
	c := mustClient(t, testOptions(RM{URL: "http://127.0.0.1:1"}))
	for _, tail := range []int64{0, 5, 18, int64(len(content)), 1 << 20} {
		nl, err := c.NodeLogTail(t.Context(), nm.srv.URL, "container_1_0001_01_000001", "jobmanager.log", tail)
		if err != nil {
			t.Fatalf("tail %d: %v", tail, err)
		}
		got, err := io.ReadAll(nl.Body)
		nl.Body.Close()
		want := content[len(content)-int(min(tail, int64(len(content)))):]
		if err != nil || string(got) != want || nl.FileLength != int64(len(content)) || nl.Start != int64(len(content)-len(want)) {
			t.Errorf("tail %d = %q from %d of %d, %v; want %q", tail, got, nl.Start, nl.FileLength, err, want)
		}
	}
	for _, f := range []string{"gone.log", "moved.log"} {
		if _, err := c.NodeLogTail(t.Context(), nm.srv.URL, "container_1_0001_01_000001", f, 10); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", f, err)
		}
	}
	if _, err := c.NodeLogTail(t.Context(), nm.srv.URL, "container_1_0001_01_000001", "../x", 10); !errors.Is(err, ErrBadRequest) {
		t.Errorf("bad file: %v", err)
	}
}
