package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
)

// TestLogStreamsAtBoundedMemory streams a large aggregated log through the gateway and reports the gateway's
// memory while it does: the heap in use (sampled; the gateway runs in this process) and the process's
// resident set. The log is an aggregated file in the real format, written by Hadoop's own writer
// (testenv/hadoop/AggLog.java) beside the aggregated logs of a real finished job, so that the gateway lists
// it among the job's containers and reads it as it reads any other. YARNGATE_LOG_BENCH_BYTES sets the log's
// size (default 64 MiB; 1073741824 for the 1 GiB figure).
func TestLogStreamsAtBoundedMemory(t *testing.T) {
	t.Parallel()
	size := int64(64 << 20)
	if v := os.Getenv("YARNGATE_LOG_BENCH_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("YARNGATE_LOG_BENCH_BYTES=%q", v)
		}
		size = n
	}
	g := startJobGateway(t)
	j := g.submit(g.spec("it-logs-bench", "1.20", "--mode", "bounded", "--n", "10", "--output", g.hdfsPath("bench-out")), nil)
	if j = g.wait(j.ID, "FINISHED", 5*time.Minute); j.State != "FINISHED" {
		t.Fatalf("job = %s: %s", j.State, j.YARN.Diagnostics)
	}
	g.waitYARNEnd(j.ID)

	// The big log: container 99 of the application, in a node file of its own in the application's log
	// directory (<root>/<user>/bucket-logs-tfile/<bucket>/<appId>/).
	appID := j.YARN.ApplicationID
	seq, _ := strconv.Atoi(appID[strings.LastIndex(appID, "_")+1:])
	container := "container_" + strings.TrimPrefix(appID, "application_") + "_01_000099"
	target := fmt.Sprintf("%s/tmp/logs/%s/bucket-logs-tfile/%04d/%s/benchhost_1", g.cluster.HDFSURL, j.YARN.User, seq%10000, appID)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(g.cluster.JavaHome, "bin", "java"), "-Xmx256m",
		"-cp", g.cluster.Env["HADOOP_CLASSPATH"], "../testenv/hadoop/AggLog.java",
		target, "none", j.YARN.User, container+":big.log="+strconv.FormatInt(size, 10))
	cmd.Env = append(os.Environ(), "HADOOP_CONF_DIR="+g.cluster.HadoopConfDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("AggLog.java: %v\n%s", err, out)
	}
	t.Logf("wrote an aggregated log of %d bytes in %s", size, time.Since(start).Round(time.Second))

	base := "/v1/jobs/" + j.ID
	start = time.Now()
	l := g.waitLogs(t, base, 2*time.Minute, func(l api.LogList) bool {
		_, n, ok := findLog(l, api.LogRoleTaskManager, api.LogSourceAggregated, "big.log")
		return ok && n == size
	})
	listed := time.Since(start)
	c, _, _ := findLog(l, api.LogRoleTaskManager, api.LogSourceAggregated, "big.log")
	if c.ContainerID != container {
		t.Fatalf("big.log listed in %+v", c)
	}

	// Stream it whole while sampling memory.
	runtime.GC()
	base0, rss0 := heapInUse(), residentSet()
	var mu sync.Mutex
	peakHeap, peakRSS := base0, rss0
	done := make(chan struct{})
	var sampling sync.WaitGroup
	sampling.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			h, r := heapInUse(), residentSet()
			mu.Lock()
			peakHeap, peakRSS = max(peakHeap, h), max(peakRSS, r)
			mu.Unlock()
		}
	})
	start = time.Now()
	resp, err := http.Get(g.url + base + "/logs/" + container + "/big.log")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET big.log = %v, %v", resp, err)
	}
	check := &generatedCheck{name: "big.log"}
	n, err := io.CopyBuffer(check, resp.Body, make([]byte, 256<<10))
	resp.Body.Close()
	elapsed := time.Since(start)
	close(done)
	sampling.Wait()
	if err != nil || n != size || check.bad >= 0 {
		t.Fatalf("streamed %d of %d bytes (first difference at %d): %v", n, size, check.bad, err)
	}
	heapGrowth, rssGrowth := peakHeap-base0, peakRSS-rss0
	t.Logf("FIGURE: streamed a %d-byte aggregated log through the gateway in %s (%.0f MiB/s; listing %s): "+
		"peak heap in use +%.1f MiB over %.1f MiB, peak RSS +%.1f MiB over %.1f MiB",
		size, elapsed.Round(time.Millisecond), float64(size)/(1<<20)/elapsed.Seconds(), listed.Round(time.Millisecond),
		float64(heapGrowth)/(1<<20), float64(base0)/(1<<20), float64(rssGrowth)/(1<<20), float64(rss0)/(1<<20))
	// A part of it again: the file's listing is kept, so this costs a seek, not another walk of the file.
	start = time.Now()
	status, tail := g.getRaw(t, base+"/logs/"+container+"/big.log?offset=-100", nil)
	if want := generatedTail("big.log", size, 100); status != http.StatusOK || !bytes.Equal(tail, want) {
		t.Errorf("the last 100 bytes = %d %q, want %q", status, tail, want)
	}
	t.Logf("FIGURE: the last 100 bytes of it again in %s", time.Since(start).Round(time.Millisecond))
	if heapGrowth > 64<<20 {
		t.Errorf("the heap grew by %d bytes while streaming a %d-byte log", heapGrowth, size)
	}
}

// heapInUse is the bytes of heap spans in use.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// residentSet is the process's resident set (VmRSS), 0 where /proc is missing.
func residentSet() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// generatedCheck compares what is written to it with AggLog.java's content of a file: "<name> line %09d\n"
// lines; bad is the offset of the first difference, -1 for none.
type generatedCheck struct {
	name string
	off  int64
	line int
	cur  []byte // the current line
	at   int    // how much of cur was compared
	bad  int64
}

func (g *generatedCheck) Write(p []byte) (int, error) {
	if g.off == 0 {
		g.bad = -1
	}
	n := len(p)
	for len(p) > 0 {
		if g.at == len(g.cur) {
			g.line++
			g.cur, g.at = fmt.Appendf(g.cur[:0], "%s line %09d\n", g.name, g.line), 0
		}
		k := min(len(p), len(g.cur)-g.at)
		if g.bad < 0 && !bytes.Equal(p[:k], g.cur[g.at:g.at+k]) {
			g.bad = g.off
		}
		g.off += int64(k)
		p, g.at = p[k:], g.at+k
	}
	return n, nil
}

// generatedTail is the last n bytes of AggLog.java's content of a file name of size bytes.
func generatedTail(name string, size, n int64) []byte {
	lineLen := int64(len(name + " line 000000001\n"))
	from := size - n
	var b bytes.Buffer
	for line := from/lineLen + 1; (line-1)*lineLen < size; line++ {
		fmt.Fprintf(&b, "%s line %09d\n", name, line)
	}
	skip := from % lineLen
	return b.Bytes()[skip : skip+n]
}
