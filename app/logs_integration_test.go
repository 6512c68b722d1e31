package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
)

// These tests read the JobManager's and TaskManagers' logs of real jobs through the log routes: from the
// NodeManagers while the containers run, and from YARN's aggregated logs in HDFS once the application ended
// (the test cluster aggregates logs, testenv/hadoop/Launcher.java).

// exampleStarted is the line the example job's main() logs first (SumJob.STARTED), in the JobManager's log.
const exampleStarted = "yarngate example SumJob main() started"

// logList reads GET <base>/logs.
func (g *jobGateway) logList(t *testing.T, base string) api.LogList {
	t.Helper()
	status, body := g.getRaw(t, base+"/logs", nil)
	var l api.LogList
	if status != http.StatusOK || json.Unmarshal(body, &l) != nil {
		t.Fatalf("GET %s/logs = %d %.300s", base, status, body)
	}
	return l
}

// getRaw sends a GET with headers and returns the status and the body.
func (g *jobGateway) getRaw(t *testing.T, path string, headers map[string]string) (int, []byte) {
	t.Helper()
	status, _, body := g.getWithHeaders(t, path, headers)
	return status, body
}

func (g *jobGateway) getWithHeaders(t *testing.T, path string, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.url+path, nil)
	if g.token != "" {
		req.Header.Set("Authorization", "Bearer "+g.token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := g.httpClient().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", path, err)
	}
	return resp.StatusCode, resp.Header, body
}

// waitLogs polls the log list until ok accepts it.
func (g *jobGateway) waitLogs(t *testing.T, base string, limit time.Duration, ok func(api.LogList) bool) api.LogList {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		l := g.logList(t, base)
		if ok(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs of %s never as wanted: %+v", base, l)
		}
		time.Sleep(2 * time.Second)
	}
}

// findLog returns the container of role with file, and the file's size.
func findLog(l api.LogList, role, source, file string) (api.LogContainer, int64, bool) {
	for _, c := range l.Containers {
		if c.Role != role || (source != "" && c.Source != source) {
			continue
		}
		for _, f := range c.Files {
			if f.Name == file {
				return c, f.Size, true
			}
		}
	}
	return api.LogContainer{}, 0, false
}

// checkRanges fetches a log file whole (its first size bytes) and in parts, and checks that every part is
// exactly the bytes of the whole it names: ?offset&length, a Range header, and a tail (?offset=-n).
func (g *jobGateway) checkRanges(t *testing.T, path string, size int64) []byte {
	t.Helper()
	status, whole := g.getRaw(t, path+"?length="+strconv.FormatInt(size, 10), nil)
	if status != http.StatusOK || int64(len(whole)) != size {
		t.Fatalf("GET %s (%d bytes) = %d, %d bytes", path, size, status, len(whole))
	}
	for _, r := range []struct{ off, n int64 }{{0, 1}, {size / 3, 100}, {size - 10, 10}, {1, size - 1}} {
		status, part := g.getRaw(t, fmt.Sprintf("%s?offset=%d&length=%d", path, r.off, r.n), nil)
		if status != http.StatusOK || !bytes.Equal(part, whole[r.off:r.off+r.n]) {
			t.Errorf("offset %d length %d = %d, %d bytes, not the file's", r.off, r.n, status, len(part))
		}
		status, hdr, part := g.getWithHeaders(t, path, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", r.off, r.off+r.n-1)})
		if status != http.StatusPartialContent || !bytes.Equal(part, whole[r.off:r.off+r.n]) ||
			!strings.HasPrefix(hdr.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/", r.off, r.off+r.n-1)) {
			t.Errorf("Range %d-%d = %d %q, %d bytes, not the file's", r.off, r.off+r.n-1, status, hdr.Get("Content-Range"), len(part))
		}
	}
	status, hdr, tail := g.getWithHeaders(t, path+"?offset=-50", nil)
	start, _ := strconv.ParseInt(hdr.Get("X-Log-Start"), 10, 64)
	if status != http.StatusOK || len(tail) != 50 || start < size-50 {
		t.Errorf("tail of 50 bytes = %d, %d bytes from %d (size was %d)", status, len(tail), start, size)
	}
	return whole
}

func TestLogsOfRunningAndFinishedJob(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	spec := g.spec("it-logs", "1.20", "--mode", "unbounded", "--rate", "20")
	j := g.submit(spec, nil)
	j = g.wait(j.ID, "RUNNING", 5*time.Minute)
	if j.State != "RUNNING" {
		t.Fatalf("job = %s: %s", j.State, j.YARN.Diagnostics)
	}
	base := "/v1/jobs/" + j.ID

	// Running: the NodeManagers serve the JobManager's and the TaskManager's logs.
	l := g.waitLogs(t, base, 3*time.Minute, func(l api.LogList) bool {
		_, _, jm := findLog(l, api.LogRoleJobManager, api.LogSourceNodeManager, "jobmanager.log")
		_, _, tm := findLog(l, api.LogRoleTaskManager, api.LogSourceNodeManager, "taskmanager.out")
		return jm && tm
	})
	jm, size, _ := findLog(l, api.LogRoleJobManager, "", "jobmanager.log")
	if jm.State != "RUNNING" || jm.NodeID == "" || !strings.HasPrefix(jm.ContainerID, "container_") {
		t.Errorf("JobManager container = %+v", jm)
	}
	jmPath := base + "/logs/" + jm.ContainerID + "/jobmanager.log"
	whole := g.checkRanges(t, jmPath, size)
	if !bytes.Contains(whole, []byte(exampleStarted)) {
		t.Errorf("the running JobManager's log lacks %q", exampleStarted)
	}

	// Follow: the TaskManager prints every element (taskmanager.out); a follow from the current end sees
	// new bytes arrive, and ends when the client goes away.
	tm, tmSize, _ := findLog(l, api.LogRoleTaskManager, "", "taskmanager.out")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("%s%s/logs/%s/taskmanager.out?follow=true&offset=%d", g.url, base, tm.ContainerID, tmSize), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("follow = %v %v", resp, err)
	}
	var followed bytes.Buffer
	buf := make([]byte, 4096)
	for followed.Len() < 200 {
		n, err := resp.Body.Read(buf)
		followed.Write(buf[:n])
		if err != nil {
			t.Fatalf("follow of %+v from %d ended after %d bytes (headers %v): %v", tm, tmSize, followed.Len(), resp.Header, err)
		}
	}
	cancel()
	resp.Body.Close()
	if !strings.Contains(followed.String(), "\n") {
		t.Errorf("followed bytes %q are not lines", followed.String())
	}

	// Unknown containers and files are 404 with the error body.
	for _, p := range []string{base + "/logs/container_1_0001_01_000099/jobmanager.log", jmPath + ".nope", base + "/logs/notacontainer/x"} {
		status, body := g.getRaw(t, p, nil)
		var e apiErr
		if status != http.StatusNotFound || json.Unmarshal(body, &e) != nil || e.Error.Code != api.CodeNotFound {
			t.Errorf("GET %s = %d %s, want 404 not_found", p, status, body)
		}
	}

	// Finished: once YARN aggregated the logs into HDFS, the same files come from there.
	if status, _, _, body := g.do(http.MethodPost, base+"/cancel", nil, nil); status != http.StatusAccepted && status != http.StatusOK {
		t.Fatalf("cancel = %d %s", status, body)
	}
	g.wait(j.ID, "CANCELED", 3*time.Minute)
	g.waitYARNEnd(j.ID)
	l = g.waitLogs(t, base, 3*time.Minute, func(l api.LogList) bool {
		_, _, ok := findLog(l, api.LogRoleJobManager, api.LogSourceAggregated, "jobmanager.log")
		return ok
	})
	jm, size, _ = findLog(l, api.LogRoleJobManager, api.LogSourceAggregated, "jobmanager.log")
	if jm.State != "COMPLETE" || jm.NodeID == "" {
		t.Errorf("aggregated JobManager container = %+v", jm)
	}
	if _, _, ok := findLog(l, api.LogRoleTaskManager, api.LogSourceAggregated, "taskmanager.log"); !ok {
		t.Errorf("no aggregated TaskManager log: %+v", l)
	}
	whole = g.checkRanges(t, base+"/logs/"+jm.ContainerID+"/jobmanager.log", size)
	if !bytes.Contains(whole, []byte(exampleStarted)) {
		t.Errorf("the aggregated JobManager log lacks %q", exampleStarted)
	}
}
