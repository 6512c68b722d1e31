package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
)

// These tests take savepoints of real jobs through the gateway, stop jobs with a savepoint and restore them,
// for Flink 1.20 and 2.x: the example job's counting mode counts a sequence 1, 2, 3, ... into keyed state
// (key = seq % 4) and writes "key count seq" per element, so its output shows whether a restored job goes on
// exactly where the stopped one ended.

// savepointObj is the part of a savepoint object the tests read.
type savepointObj struct {
	TriggerID       string  `json:"triggerId"`
	JobID           string  `json:"jobId"`
	ApplicationID   string  `json:"applicationId"`
	FlinkJobID      string  `json:"flinkJobId"`
	State           string  `json:"state"`
	Format          string  `json:"format"`
	Stop            bool    `json:"stop"`
	TargetDirectory string  `json:"targetDirectory"`
	Path            *string `json:"path"`
	Failure         *string `json:"failure"`
}

// savepointDo posts to a savepoint route and decodes the savepoint of a 2xx answer.
func (g *jobGateway) savepointDo(path string, body any) (int, savepointObj, apiErr, string) {
	g.t.Helper()
	status, _, e, raw := g.do(http.MethodPost, path, nil, body)
	var sp savepointObj
	if status < 300 {
		json.Unmarshal([]byte(raw), &sp)
	}
	return status, sp, e, raw
}

// savepoints lists a job's savepoints.
func (g *jobGateway) savepoints(id string) []savepointObj {
	g.t.Helper()
	status, _, _, raw := g.do(http.MethodGet, "/v1/jobs/"+id+"/savepoints", nil, nil)
	var list struct {
		Savepoints []savepointObj `json:"savepoints"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(raw), &list) != nil {
		g.t.Fatalf("list savepoints of %s = %d %s", id, status, raw)
	}
	return list.Savepoints
}

// waitSavepoint polls a job's savepoints until the one with triggerID has ended (COMPLETED or FAILED).
func (g *jobGateway) waitSavepoint(t *testing.T, id, triggerID string) savepointObj {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		for _, sp := range g.savepoints(id) {
			if sp.TriggerID == triggerID && sp.State != "IN_PROGRESS" {
				if sp.State != "COMPLETED" || sp.Path == nil {
					failure := ""
					if sp.Failure != nil {
						failure = *sp.Failure
					}
					t.Fatalf("savepoint %s of %s ended %s (%s): %+v", triggerID, id, sp.State, failure, sp)
				}
				return sp
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("savepoint %s of %s still in progress: %+v", triggerID, id, g.savepoints(id))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitRecords waits until every task of the job runs (restored tasks initialize while the job is RUNNING
// already, and a savepoint then fails) and the JobManager reports that the counting vertex (the second) read
// at least n records.
func (g *jobGateway) waitRecords(t *testing.T, jmURL, flinkJobID string, n int64) {
	t.Helper()
	deadline := time.Now().Add(8 * time.Minute)
	for {
		var detail struct {
			Vertices []struct {
				Status  string `json:"status"`
				Metrics struct {
					ReadRecords int64 `json:"read-records"`
				} `json:"metrics"`
			} `json:"vertices"`
		}
		status, body := get(t, jmURL+"/jobs/"+flinkJobID)
		if status == 200 && json.Unmarshal([]byte(body), &detail) == nil && len(detail.Vertices) == 2 &&
			detail.Vertices[0].Status == "RUNNING" && detail.Vertices[1].Status == "RUNNING" &&
			detail.Vertices[1].Metrics.ReadRecords >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not run and count %d records in time: %d %.300s", flinkJobID, n, status, body)
		}
		time.Sleep(time.Second)
	}
}

// countLine is one line of the counting job's output.
type countLine struct{ key, count, seq int64 }

// readCounts reads every output file of one run of the counting job.
func readCounts(t *testing.T, g *jobGateway, dir string) []countLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	files, err := g.cluster.ListHDFS(ctx, dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("output of %s: %v, %v", dir, files, err)
	}
	var lines []countLine
	for _, f := range files {
		for _, l := range strings.Split(strings.TrimSpace(readHDFS(t, g.cluster, dir+"/"+f.PathSuffix)), "\n") {
			if l == "" {
				continue
			}
			var c countLine
			if _, err := fmt.Sscanf(l, "%d %d %d", &c.key, &c.count, &c.seq); err != nil {
				t.Fatalf("output line %q of %s: %v", l, f.PathSuffix, err)
			}
			lines = append(lines, c)
		}
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].seq < lines[j].seq })
	return lines
}

// checkContinuity checks one run's output against where the run before ended (firstSeq 1 and empty counts
// for the first run): the sequence goes on from firstSeq with no number missing or repeated, and each key's
// count goes on from its last count, by one per element of that key. It returns the next sequence number
// and each key's last count.
func checkContinuity(t *testing.T, run string, lines []countLine, firstSeq int64, counts map[int64]int64) (int64, map[int64]int64) {
	t.Helper()
	const keys = 4
	next := map[int64]int64{}
	for k, v := range counts {
		next[k] = v
	}
	seq := firstSeq
	for _, l := range lines {
		if l.seq != seq {
			t.Fatalf("%s: sequence number %d follows %d (lost or counted twice)", run, l.seq, seq-1)
		}
		if l.key != l.seq%keys {
			t.Fatalf("%s: %+v has the wrong key", run, l)
		}
		if l.count != next[l.key]+1 {
			t.Fatalf("%s: key %d counted %d after %d (seq %d)", run, l.key, l.count, next[l.key], l.seq)
		}
		next[l.key] = l.count
		seq++
	}
	return seq, next
}

func TestSavepointStopAndRestore(t *testing.T) {
	t.Parallel()
	g := startJobGateway(t)
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			out := "hdfs://" + g.hdfsPath("count-"+v)
			start := time.Now()

			// Run 1: count, take a savepoint (idempotent by trigger id), stop with a savepoint.
			j1 := g.submit(g.spec("it-savepoint-"+v, v, "--mode", "counting", "--output", out+"/run-1", "--rate", "20"), nil)
			j1 = g.wait(j1.ID, "RUNNING", 10*time.Minute)
			if j1.State != "RUNNING" || j1.Links.JobManager == nil {
				t.Fatalf("run 1 = %s: %s", j1.State, j1.YARN.Diagnostics)
			}
			g.waitRecords(t, *j1.Links.JobManager, j1.Flink.JobID, 40)

			path := "/v1/jobs/" + j1.ID + "/savepoints"
			status, sp, _, raw := g.savepointDo(path, map[string]any{"triggerId": "first"})
			if status != http.StatusAccepted || sp.State != "IN_PROGRESS" || sp.TriggerID != "first" || sp.Format != "CANONICAL" ||
				!strings.HasSuffix(sp.TargetDirectory, "/savepoints/"+j1.ID) || sp.ApplicationID != j1.ID || sp.FlinkJobID != j1.Flink.JobID {
				t.Fatalf("trigger = %d %s", status, raw)
			}
			if status, again, _, raw := g.savepointDo(path, map[string]any{"triggerId": "first"}); status != http.StatusOK || again.TriggerID != "first" {
				t.Errorf("the same trigger again = %d %s, want 200 with the same savepoint", status, raw)
			}
			if status, _, e, raw := g.savepointDo(path, map[string]any{"triggerId": "first", "format": "NATIVE"}); status != http.StatusUnprocessableEntity || e.Error.Code != "trigger_id_reused" {
				t.Errorf("the trigger id with another format = %d %s, want 422 trigger_id_reused", status, raw)
			}
			first := g.waitSavepoint(t, j1.ID, "first")
			if !strings.Contains(*first.Path, "/savepoints/"+j1.ID+"/savepoint-") {
				t.Errorf("savepoint path %q is not below the default directory", *first.Path)
			}
			if n := len(g.savepoints(j1.ID)); n != 1 {
				t.Errorf("%d savepoints after one trigger (repeated), want 1", n)
			}

			status, stop, _, raw := g.savepointDo("/v1/jobs/"+j1.ID+"/stop", map[string]any{"savepoint": true, "triggerId": "stop-1"})
			if status != http.StatusAccepted || !stop.Stop {
				t.Fatalf("stop = %d %s", status, raw)
			}
			stopped := g.waitSavepoint(t, j1.ID, "stop-1")
			if j := g.wait(j1.ID, "FINISHED", 3*time.Minute); j.State != "FINISHED" {
				t.Fatalf("after the stop, run 1 is %s (flink %v): %s", j.State, j.Flink.State, j.YARN.Diagnostics)
			}
			list := g.savepoints(j1.ID)
			if len(list) != 2 || list[0].TriggerID != "stop-1" || list[1].TriggerID != "first" || !list[0].Stop || list[1].Stop {
				t.Errorf("savepoints of run 1 = %+v, want stop-1 then first", list)
			}
			if status, _, e, raw := g.savepointDo(path, nil); status != http.StatusConflict || e.Error.Code != "job_not_running" {
				t.Errorf("a savepoint of the finished job = %d %s, want 409 job_not_running", status, raw)
			}
			lines1 := readCounts(t, g, strings.TrimPrefix(out, "hdfs://")+"/run-1")
			next, counts := checkContinuity(t, "run 1", lines1, 1, map[int64]int64{})

			// Run 2: restore from the stop's savepoint; the counts go on.
			spec := g.spec("it-restore-"+v, v, "--mode", "counting", "--output", out+"/run-2", "--rate", "20")
			spec["savepoint"] = map[string]any{"path": *stopped.Path, "claimMode": "NO_CLAIM"}
			j2 := g.submit(spec, nil)
			j2 = g.wait(j2.ID, "RUNNING", 10*time.Minute)
			if j2.State != "RUNNING" || j2.Links.JobManager == nil {
				t.Fatalf("run 2 = %s: %s", j2.State, j2.YARN.Diagnostics)
			}
			g.waitRecords(t, *j2.Links.JobManager, j2.Flink.JobID, 20)
			if status, _, _, raw := g.savepointDo("/v1/jobs/"+j2.ID+"/stop", map[string]any{"savepoint": true, "triggerId": "stop-2", "format": "NATIVE"}); status != http.StatusAccepted {
				t.Fatalf("stop run 2 = %d %s", status, raw)
			}
			g.waitSavepoint(t, j2.ID, "stop-2")
			if j := g.wait(j2.ID, "FINISHED", 3*time.Minute); j.State != "FINISHED" {
				t.Fatalf("after the stop, run 2 is %s: %s", j.State, j.YARN.Diagnostics)
			}
			lines2 := readCounts(t, g, strings.TrimPrefix(out, "hdfs://")+"/run-2")
			end, last := checkContinuity(t, "run 2", lines2, next, counts)
			t.Logf("flink %s: run 1 counted seq 1..%d (last counts %v), run 2 went on %d..%d (last counts %v), %s",
				v, next-1, counts, next, end-1, last, time.Since(start).Round(time.Second))
			if len(lines1) < 40 || len(lines2) < 20 {
				t.Errorf("runs counted %d and %d elements, want at least 40 and 20", len(lines1), len(lines2))
			}
		})
	}
}

func TestSavepointSessionJobAndRetention(t *testing.T) {
	t.Parallel()
	g := startJobGatewayWith(t, func(cfg *config.Config, _ *hdfstest.Root) { cfg.Jobs.Savepoints.MaxCount = 1 })
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			s := g.startSession(t, "it-savepoint-session-"+v, v, 1)
			out := "hdfs://" + g.hdfsPath("session-count-"+v)
			status, j, _, raw := g.do(http.MethodPost, "/v1/jobs", nil,
				g.sessionSpec(s.ID, "it-savepoint-session-job", "--mode", "counting", "--output", out, "--rate", "20"))
			if status != http.StatusAccepted {
				t.Fatalf("session job = %d %s", status, raw)
			}
			j = g.wait(j.ID, "RUNNING", 3*time.Minute)
			if j.State != "RUNNING" || s.Links.JobManager == nil {
				t.Fatalf("session job = %s", j.State)
			}
			g.waitRecords(t, *s.Links.JobManager, j.Flink.JobID, 20)
			path := "/v1/jobs/" + url.PathEscape(j.ID) + "/savepoints"
			var paths []string
			for _, trigger := range []string{"one", "two"} {
				if status, _, _, raw := g.savepointDo(path, map[string]any{"triggerId": trigger}); status != http.StatusAccepted {
					t.Fatalf("trigger %s = %d %s", trigger, status, raw)
				}
				sp := g.waitSavepoint(t, j.ID, trigger)
				paths = append(paths, strings.TrimPrefix(*sp.Path, "hdfs://"+g.cluster.NameNode))
			}
			// Retention keeps one: the first is disposed of through the session's JobManager.
			deadline := time.Now().Add(2 * time.Minute)
			for {
				list := g.savepoints(j.ID)
				if len(list) == 2 && list[1].TriggerID == "one" && list[1].State == "DISPOSED" && list[0].State == "COMPLETED" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("savepoints with maxCount 1 = %+v, want one DISPOSED", list)
				}
				time.Sleep(500 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := g.cluster.StatHDFS(ctx, paths[0]); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the disposed savepoint %s: %v, want gone", paths[0], err)
			}
			if _, err := g.cluster.StatHDFS(ctx, paths[1]); err != nil {
				t.Errorf("the kept savepoint %s: %v", paths[1], err)
			}
			if status, c, _, raw := g.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, nil); status >= 300 {
				t.Errorf("cancel = %d %s (%s)", status, raw, c.State)
			}
			g.do(http.MethodDelete, "/v1/sessions/"+s.ID, nil, nil)
			t.Logf("flink %s: session job savepoints %v", v, strconv.Quote(strings.Join(paths, " ")))
		})
	}
}
