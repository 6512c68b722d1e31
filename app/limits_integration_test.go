package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/jarfile/jartest"
)

// reconcilePasses returns yarngate_reconcile_passes_total of the gateway at url.
func reconcilePasses(t *testing.T, url string) float64 {
	t.Helper()
	_, body := get(t, url+"/metrics")
	return metricValue(t, body, "yarngate_reconcile_passes_total")
}

// uploadAnswer is the outcome of one upload.
type uploadAnswer struct {
	status     int
	code       string
	retryAfter string
	err        error
	at         time.Time
}

// postJar uploads body as a raw jar and reports the answer.
func postJar(url string, body io.Reader) uploadAnswer {
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/jars", body)
	req.Header.Set("Content-Type", "application/java-archive")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return uploadAnswer{err: err, at: time.Now()}
	}
	defer resp.Body.Close()
	var e apiErr
	json.NewDecoder(resp.Body).Decode(&e)
	return uploadAnswer{status: resp.StatusCode, code: e.Error.Code, retryAfter: resp.Header.Get("Retry-After"), at: time.Now()}
}

// TestStalledUploadsLeaveLaunchesAndReconcilerAlone is issue 13's proof: with every upload slot held by a
// sender that stalled halfway, a further upload is refused (503 upload_slots_full, Retry-After) instead of
// queueing on the HDFS clients, while reads, a job launch and the reconciler (its passes, the job reaching
// RUNNING) go on, on the clients uploads never take; then the stalled uploads end in 408 upload_too_slow
// with their temporary files removed.
func TestStalledUploadsLeaveLaunchesAndReconcilerAlone(t *testing.T) {
	t.Parallel()
	const slots = 3
	// The window leaves the launch and the job's start room to happen while the uploads are stalled, on a
	// loaded machine too (a JobManager container took over a minute to register while make test ran a fresh
	// clone's tests six at a time); the stalled uploads sent 512 KiB, far below the 64 KiB/s the window asks
	// for, so they fail at its end.
	const window = 3 * time.Minute
	g := startJobGatewayWith(t, func(cfg *config.Config, _ *hdfstest.Root) {
		cfg.HDFS.PoolSize = 2
		cfg.Jars.UploadSlots = slots
		cfg.Jars.SlotWait = 2 * time.Second
		cfg.Jars.MinRate = 64 * config.KiB
		cfg.Jars.RateWindow = window
		cfg.Jars.MaxDuration = 0
		cfg.Jars.IdleTimeout = 10 * time.Minute // only the pace ends them
	})

	stalled := make([]*slowBody, slots)
	answers := make(chan uploadAnswer, slots)
	began := time.Now()
	for i := range stalled {
		stalled[i] = newSlowBody(jartest.Bytes(t, jartest.Options{PayloadSize: 1 << 20, Seed: uint64(130 + i)}))
		go func() { answers <- postJar(g.url, stalled[i]) }()
	}
	t.Cleanup(func() {
		for _, b := range stalled {
			select {
			case <-b.release:
			default:
				close(b.release)
			}
		}
	})
	for _, b := range stalled {
		<-b.sentHead
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(g.root.Names(t, "tmp")) < slots && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // until every stalled upload holds a slot and its temporary file
	}
	if tmp := g.root.Names(t, "tmp"); len(tmp) != slots {
		t.Fatalf("tmp/ = %v, want the %d stalled uploads' temporary files", tmp, slots)
	}

	// One more upload finds no slot, and says when to retry.
	extra := jartest.Bytes(t, jartest.Options{PayloadSize: 64 << 10, Seed: 139})
	if a := postJar(g.url, bytes.NewReader(extra)); a.status != 503 || a.code != "upload_slots_full" || a.retryAfter == "" {
		t.Errorf("upload with every slot taken = %+v, want 503 upload_slots_full with Retry-After", a)
	}
	// Reads and launches have their own clients.
	if status, body := get(t, g.url+"/v1/jars"); status != 200 || !strings.Contains(body, g.jarID) {
		t.Errorf("GET /v1/jars while uploads stall = %d %s", status, body)
	}
	passes := reconcilePasses(t, g.url)
	j := g.submit(g.spec("it-stalled-uploads", "1.20", "--mode", "bounded", "--n", "1000", "--output", "hdfs://"+g.hdfsPath("sum")), nil)
	launched := time.Now()
	j = g.wait(j.ID, "RUNNING", window)
	running := time.Now()
	if j.State != "RUNNING" && j.State != "FINISHED" {
		t.Fatalf("job while uploads stall = %s (yarn %s): %s", j.State, j.YARN.State, j.YARN.Diagnostics)
	}
	if after := reconcilePasses(t, g.url); after <= passes {
		t.Errorf("reconcile passes %v before, %v after the launch: the reconciler stood still", passes, after)
	}
	t.Logf("with every upload slot stalled: launched %v and %s %v after the uploads began", launched.Sub(began).Round(time.Millisecond),
		j.State, running.Sub(began).Round(time.Millisecond))

	// The stalled uploads end in 408 once their window shows them too slow, and leave nothing behind.
	for range slots {
		select {
		case a := <-answers:
			if a.status != 408 || a.code != "upload_too_slow" {
				t.Errorf("stalled upload = %+v, want 408 upload_too_slow", a)
			}
			if a.at.Before(running) {
				t.Errorf("a stalled upload ended (%v) before the job ran (%v): the test proved nothing; widen the window",
					a.at.Sub(began), running.Sub(began))
			}
		case <-time.After(window + time.Minute):
			t.Fatal("a stalled upload got no answer")
		}
	}
	t.Logf("stalled uploads answered 408 after %v", time.Since(began).Round(time.Millisecond))
	g.root.AssertStaged(t, g.jarID) // no temporary file, no half-written jar
	// Their slots are free again.
	if a := postJar(g.url, bytes.NewReader(extra)); a.status != 201 {
		t.Errorf("upload after the stalled ones ended = %+v, want 201", a)
	}
}
