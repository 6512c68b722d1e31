package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/simulator"
)

// TestRefresherBetweenPasses: with one pass and none after it, a change only a JobManager tells (a Flink
// restart, then the job running again; a session job canceled) shows as its answer comes due, and an
// application YARN reports ended in a list is not asked again.
func TestRefresherBetweenPasses(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{}, Options{Interval: time.Hour, JobManagerRefresh: 50 * time.Millisecond,
		FullListInterval: time.Hour})
	var apps []string
	for range 5 {
		apps = append(apps, h.add(t, simulator.AppSpec{}))
	}
	session := h.add(t, simulator.AppSpec{Session: true, SessionJobs: 3})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.r.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	flinkState := func(id string) string {
		rec, ok := h.reg.Cached(id)
		if !ok {
			return ""
		}
		return rec.Status.Flink.State
	}
	await := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waited 10 s for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	await("the first pass's records", func() bool { return flinkState(apps[4]) == "RUNNING" })

	app, _ := h.sim.App(apps[1])
	for _, want := range []string{"RESTARTING", "RUNNING", "FAILING"} {
		if err := h.sim.SetJobState(apps[1], app.JobOrder[0], want); err != nil {
			t.Fatal(err)
		}
		await("Flink state "+want, func() bool { return flinkState(apps[1]) == want })
	}
	sess, _ := h.sim.App(session)
	sessionJob := ident.SessionJobID(session, sess.JobOrder[1])
	await("the first pass's session job", func() bool { return flinkState(sessionJob) == "RUNNING" })
	if err := h.sim.SetJobState(session, sess.JobOrder[1], "CANCELED"); err != nil {
		t.Fatal(err)
	}
	await("the session job canceled", func() bool {
		rec, _ := h.reg.Cached(sessionJob)
		return rec.State == "CANCELED"
	})
	if other := flinkState(ident.SessionJobID(session, sess.JobOrder[2])); other != "RUNNING" {
		t.Errorf("another job of the session: %s", other)
	}
	if q := h.sim.ListQueries(); len(q) != 1 {
		t.Fatalf("%d ResourceManager lists, want the first pass's alone: the refresher asks no list", len(q))
	}
	if n := h.jmCalls(); n <= 10 {
		t.Fatalf("%d JobManager calls: the answers were not refreshed as they came due", n)
	}

	// Passes beside the refresher (Run waits an hour for its next): the pass that sees the application
	// leave the list, then the one that reads its end.
	if err := h.sim.SetAppState(apps[2], "FINISHED"); err != nil {
		t.Fatal(err)
	}
	h.pass(t)
	h.pass(t)
	if rec, _ := h.reg.Cached(apps[2]); rec.State != "FINISHED" {
		t.Fatalf("ended application's record: %s, want FINISHED", rec.State)
	}
	asked := h.sim.Calls().ByApplication[apps[2]]
	time.Sleep(300 * time.Millisecond) // six refresh periods
	if n := h.sim.Calls().ByApplication[apps[2]] - asked; n != 0 {
		t.Errorf("the JobManager of an ended application was asked %d times more", n)
	}
	if rec, _ := h.reg.Cached(apps[2]); rec.State != "FINISHED" {
		t.Errorf("ended application's record went back to %s", rec.State)
	}
	if flinkState(apps[3]) != "RUNNING" {
		t.Errorf("another job: %s", flinkState(apps[3]))
	}
}

// TestClaim: one observation of an application at a time; the pass waits for the refresher's, the refresher
// passes over one under way; a wait ends with its context.
func TestClaim(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{}, Options{})
	r := h.r
	if !r.claim(t.Context(), "a", false) {
		t.Fatal("first claim refused")
	}
	if r.claim(t.Context(), "a", false) {
		t.Fatal("a second claim without waiting was granted while the first holds")
	}
	if !r.claim(t.Context(), "b", false) {
		t.Fatal("another application's claim refused")
	}
	r.release("b")
	got := make(chan bool)
	go func() { got <- r.claim(t.Context(), "a", true) }()
	select {
	case <-got:
		t.Fatal("a waiting claim was granted while the first holds")
	case <-time.After(50 * time.Millisecond):
	}
	r.release("a")
	if !<-got {
		t.Fatal("the waiting claim was refused after the release")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if r.claim(ctx, "a", true) {
		t.Fatal("a wait with its context ended was granted")
	}
	r.release("a")
	if !r.claim(t.Context(), "a", false) {
		t.Fatal("claim refused after every release")
	}
}
