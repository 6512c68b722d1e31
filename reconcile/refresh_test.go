package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/simulator"
	"github.com/yarngate/yarngate/yarnclient"
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
	h.run(t)
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
	waitUnclaimed(t, h.r) // a refresher's call under the older list, if one was under way
	asked := h.sim.Calls().ByApplication[apps[2]]
	if rec, _ := h.reg.Cached(apps[2]); rec.Status.State != "FINISHED" || rec.Status.YARN.State != "FINISHED" {
		t.Fatalf("ended application's record: %s, YARN %s, want FINISHED", rec.Status.State, rec.Status.YARN.State)
	}
	time.Sleep(300 * time.Millisecond) // six refresh periods
	if n := h.sim.Calls().ByApplication[apps[2]] - asked; n != 0 {
		t.Errorf("the JobManager of an application that left the list was asked %d times more", n)
	}
	if rec, _ := h.reg.Cached(apps[2]); rec.Status.State != "FINISHED" || rec.Status.YARN.State != "FINISHED" {
		t.Errorf("ended application's record went back to %s, YARN %s", rec.Status.State, rec.Status.YARN.State)
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

// TestRefresherFollowsLeadership: the refresher observes nothing while another instance leads, and after
// leading again waits for this instance's next list (the reports it kept may be old).
func TestRefresherFollowsLeadership(t *testing.T) {
	t.Parallel()
	lead := &flagLeader{}
	lead.on.Store(true)
	h := newSimHarness(t, simulator.Options{}, Options{Interval: time.Hour, JobManagerRefresh: 20 * time.Millisecond,
		FullListInterval: time.Hour, Leadership: lead})
	app := h.add(t, simulator.AppSpec{})
	h.run(t)
	deadline := time.Now().Add(10 * time.Second)
	for h.jmCalls() < 5 { // the first pass's call and the refresher's after it
		if time.Now().After(deadline) {
			t.Fatalf("the refresher did not ask the JobManager (%d calls)", h.jmCalls())
		}
		time.Sleep(10 * time.Millisecond)
	}
	lead.on.Store(false)
	waitUnclaimed(t, h.r) // the observations under way end; no other begins
	sim, _ := h.sim.App(app)
	if err := h.sim.SetJobState(app, sim.JobOrder[0], "RESTARTING"); err != nil {
		t.Fatal(err)
	}
	calls := h.jmCalls()
	time.Sleep(300 * time.Millisecond)
	lead.on.Store(true)
	time.Sleep(300 * time.Millisecond)
	if n := h.jmCalls() - calls; n != 0 {
		t.Errorf("the refresher asked %d times while another instance led, or before this one listed again", n)
	}
	if rec, _ := h.reg.Cached(app); rec.Status.Flink.State != "RUNNING" {
		t.Errorf("record written without leading: Flink %s", rec.Status.Flink.State)
	}
}

// TestRefreshable: the refresher observes only records of running application jobs that saw the report of
// the newest list.
func TestRefreshable(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{}, Options{})
	app := &yarnclient.App{ID: "application_1_0001", State: yarnclient.StateRunning, FinalStatus: "UNDEFINED"}
	running := func(change func(*registry.Record)) *registry.Record {
		rec := &registry.Record{ID: app.ID, ApplicationID: app.ID}
		rec.Status.YARN.State, rec.Status.YARN.FinalStatus = "RUNNING", "UNDEFINED"
		if change != nil {
			change(rec)
		}
		return rec
	}
	tests := []struct {
		name  string
		known bool
		rec   *registry.Record
		want  bool
	}{
		{"running, same report", true, running(nil), true},
		{"no record", false, running(nil), false},
		{"launch under way", true, running(func(r *registry.Record) { r.Launcher = "gw-1" }), false},
		{"launch reported failed", true, running(func(r *registry.Record) { r.State = StateLaunchFailed }), false},
		{"upgraded to another application", true, running(func(r *registry.Record) { r.ApplicationID = "application_1_0002" }), false},
		{"ended", true, running(func(r *registry.Record) { r.Terminal = true }), false},
		{"saw a newer YARN state", true, running(func(r *registry.Record) { r.Status.YARN.State = "FINISHED" }), false},
		{"saw another final status", true, running(func(r *registry.Record) { r.Status.YARN.FinalStatus = "KILLED" }), false},
	}
	for _, tt := range tests {
		if got := h.r.refreshable(tt.known, tt.rec, app); got != tt.want {
			t.Errorf("%s: refreshable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestSessionGroupReadsRecordsAgain: the records of a session's jobs that a pass found before it claimed the
// session are read again, so that what the refresher wrote meanwhile (a job canceled) is not overwritten by
// an observation from the older record.
func TestSessionGroupReadsRecordsAgain(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{}, Options{JobManagerRefresh: time.Hour, FullListInterval: time.Hour})
	session := h.add(t, simulator.AppSpec{Session: true, SessionJobs: 2})
	h.pass(t)
	sim, _ := h.sim.App(session)
	id := ident.SessionJobID(session, sim.JobOrder[0])
	found, ok := h.reg.Cached(id)
	if !ok || found.State != "RUNNING" {
		t.Fatalf("session job after the first pass: %+v", found.Status)
	}
	// The refresher's observation: the job canceled, written.
	if err := h.sim.SetJobState(session, sim.JobOrder[0], "CANCELED"); err != nil {
		t.Fatal(err)
	}
	h.r.forgetJM(session)
	h.pass(t)
	if rec, _ := h.reg.Cached(id); rec.Status.State != "CANCELED" {
		t.Fatalf("session job after the cancel: %s", rec.Status.State)
	}
	// Then the pass's older record, with a job list on which the JobManager did not answer.
	app, err := h.r.opts.RM.App(t.Context(), session)
	if err != nil {
		t.Fatal(err)
	}
	silent := &sessionView{url: amURL(app), at: time.Now()}
	h.r.observeSessionGroup(t.Context(), app, session, silent, []registry.Record{found})
	if rec, _ := h.reg.Cached(id); rec.Status.State != "CANCELED" || rec.Status.Flink.State != "CANCELED" {
		t.Errorf("canceled session job written over from the older record: %s (Flink %s)", rec.Status.State, rec.Status.Flink.State)
	}
}

// waitUnclaimed waits until no application is observed.
func waitUnclaimed(t *testing.T, r *Reconciler) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.observing)
		r.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d applications still observed after 10 s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOlderReportNotWrittenOverAnEnd: an observation under a report older than the record's (a pass's list,
// after Observe saw the application end) does not write the application back to running.
func TestOlderReportNotWrittenOverAnEnd(t *testing.T) {
	t.Parallel()
	h := newSimHarness(t, simulator.Options{}, Options{JobManagerRefresh: time.Hour, FullListInterval: time.Hour})
	id := h.add(t, simulator.AppSpec{})
	h.pass(t)
	listed, err := h.r.opts.RM.App(t.Context(), id)
	if err != nil || listed.State != yarnclient.StateRunning {
		t.Fatalf("report: %+v, %v", listed, err)
	}
	if err := h.sim.SetAppState(id, "KILLED"); err != nil {
		t.Fatal(err)
	}
	if err := h.r.Observe(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if rec, _ := h.reg.Cached(id); rec.Status.YARN.State != "KILLED" {
		t.Fatalf("after Observe: YARN %s", rec.Status.YARN.State)
	}
	h.r.reconcileApp(t.Context(), listed)
	if rec, _ := h.reg.Cached(id); rec.Status.YARN.State != "KILLED" || rec.Status.State != "KILLED" {
		t.Errorf("the older report was written over the end: %s, YARN %s", rec.Status.State, rec.Status.YARN.State)
	}
}

// run runs the reconciler (its first pass, then one an Interval) until the test ends.
func (h *simHarness) run(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}
