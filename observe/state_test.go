package observe

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// Every YARN application state, final status and Flink job status the derivation can meet. Flink "-" is a
// JobManager that does not answer; "?" one that answers but does not know the job.
var (
	yarnStates    = []string{"NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING", "FINISHED", "FAILED", "KILLED"}
	finalStatuses = []string{"UNDEFINED", "SUCCEEDED", "FAILED", "KILLED"}
	flinkStates   = []string{"-", "?", "INITIALIZING", "CREATED", "RUNNING", "RESTARTING", "FAILING", "CANCELLING",
		"RECONCILING", "SUSPENDED", "FINISHED", "FAILED", "CANCELED"}
)

// previous statuses of an application job: new, one that has run, and ended ones.
var previous = map[string]Status{
	"new":      {Schema: 1, State: "SUBMITTED", Since: t0, YARN: YARN{ApplicationID: "application_1_0001", State: "SUBMITTED"}},
	"ran":      {Schema: 1, State: "RUNNING", Since: t0, Ran: true, YARN: YARN{ApplicationID: "application_1_0001", State: "RUNNING"}},
	"finished": {Schema: 1, State: "FINISHED", Since: t0, Ran: true, YARN: YARN{ApplicationID: "application_1_0001", State: "FINISHED", FinalStatus: "SUCCEEDED"}},
	"failed":   {Schema: 1, State: "FAILED", Since: t0, Ran: true, YARN: YARN{ApplicationID: "application_1_0001", State: "RUNNING"}},
	"lost":     {Schema: 1, State: "LOST", Since: t0, YARN: YARN{ApplicationID: "application_1_0001", State: "RUNNING"}},
}

// The expected state, as two small tables: the row of the YARN state (and final status), and, where YARN
// says the cluster runs, the column of the Flink job status. "run" in a row defers to the column.
var (
	yarnRow = map[string]api.JobState{
		"NEW": api.StateSubmitted, "NEW_SAVING": api.StateSubmitted, "SUBMITTED": api.StateSubmitted,
		"ACCEPTED":           api.StateAccepted, // or the column, when a JobManager answers (a new attempt's leader)
		"RUNNING":            "run",
		"FINISHED/SUCCEEDED": api.StateFinished, "FINISHED/KILLED": api.StateCanceled,
		"FINISHED/FAILED": api.StateFailed, "FINISHED/UNDEFINED": api.StateFailed,
		"FAILED": api.StateFailed, "KILLED": api.StateKilled,
	}
	flinkColumn = map[string]api.JobState{
		"-": api.StateStarting, "?": api.StateStarting, "INITIALIZING": api.StateStarting, "CREATED": api.StateStarting,
		"SUSPENDED": api.StateStarting,
		"RUNNING":   api.StateRunning, "RESTARTING": api.StateRunning, "FAILING": api.StateRunning,
		"CANCELLING": api.StateRunning, "RECONCILING": api.StateRunning,
		// The Flink job ended but YARN has not confirmed the application's end: not terminal.
		"FINISHED": api.StateRunning, "FAILED": api.StateRunning, "CANCELED": api.StateRunning,
	}
)

func expectedApplicationState(prevName, yarn, final, flink string) api.JobState {
	prev := previous[prevName]
	if api.JobState(prev.State).Terminal() {
		return api.JobState(prev.State) // a job ends once
	}
	row := yarn
	if yarn == "FINISHED" {
		row = yarn + "/" + final
	}
	want := yarnRow[row]
	if want == "run" || (yarn == "ACCEPTED" && flink != "-") {
		want = flinkColumn[flink]
		if flink == "-" && prev.State == string(api.StateRunning) {
			want = api.StateRunning // a silent JobManager changes nothing
		}
	}
	if (want == api.StateSubmitted || want == api.StateAccepted) && prev.Ran {
		want = api.StateStarting // a failover: YARN starts a new attempt of a job that ran
	}
	return want
}

func observation(yarn, final, flink string) Observation {
	o := Observation{Report: Report{State: yarn, FinalStatus: final}, Now: t0.Add(time.Minute)}
	if flink != "-" {
		o.JobManager = JobManager{URL: "http://jm:8081", Answered: true}
		if flink != "?" {
			o.JobManager.Job = &FlinkJob{ID: "0123", Name: "sum", State: flink}
		}
	}
	return o
}

// TestApplicationEveryRow derives the state of an application job for every combination of YARN state,
// final status, Flink job status and previous status, and checks the promises that hold for all of them.
func TestApplicationEveryRow(t *testing.T) {
	rows := 0
	for prevName, prev := range previous {
		for _, yarn := range yarnStates {
			for _, final := range finalStatuses {
				for _, flink := range flinkStates {
					name := fmt.Sprintf("%s/%s/%s/%s", prevName, yarn, final, flink)
					got, actions := Application(prev, observation(yarn, final, flink))
					rows++
					if want := expectedApplicationState(prevName, yarn, final, flink); api.JobState(got.State) != want {
						t.Errorf("%s: state %s, want %s", name, got.State, want)
					}
					if got.State == string(api.StateFinished) && !(yarn == "FINISHED" && final == "SUCCEEDED") &&
						prev.State != string(api.StateFinished) {
						t.Errorf("%s: FINISHED although YARN says %s/%s", name, yarn, final)
					}
					if api.JobState(got.State).Terminal() && !YARNEnded(yarn) && !api.JobState(prev.State).Terminal() {
						t.Errorf("%s: terminal %s while YARN's application is %s", name, got.State, yarn)
					}
					if got.State == prev.State && !got.Since.Equal(prev.Since) {
						t.Errorf("%s: Since moved without a state change", name)
					}
					if got.State != prev.State && !got.Since.Equal(t0.Add(time.Minute)) {
						t.Errorf("%s: Since %v not the observation's time", name, got.Since)
					}
					if api.JobState(got.State).Terminal() && got.JobManager != "" {
						t.Errorf("%s: an ended job keeps JobManager %q", name, got.JobManager)
					}
					ended := api.JobState(got.State).Terminal() && YARNEnded(yarn)
					prevEnded := api.JobState(prev.State).Terminal() && YARNEnded(prev.YARN.State)
					if hasAction(actions, RemoveLaunchFiles) != (ended && !prevEnded) {
						t.Errorf("%s: actions %v (ended %v, before %v)", name, actions, ended, prevEnded)
					}
					if got.Schema != SchemaVersion || got.YARN.ApplicationID != "application_1_0001" {
						t.Errorf("%s: schema %d, application %q", name, got.Schema, got.YARN.ApplicationID)
					}
				}
			}
		}
	}
	if rows != len(previous)*len(yarnStates)*len(finalStatuses)*len(flinkStates) {
		t.Fatalf("%d rows", rows)
	}
}

func hasAction(actions []Action, kind ActionKind) bool {
	return slices.ContainsFunc(actions, func(a Action) bool { return a.Kind == kind })
}

// step is one observation of a scenario and the state it must give.
type step struct {
	yarn, final string
	jm          JobManager
	archives    []Archive
	want        api.JobState
	flinkState  string
	failure     string
}

func runSteps(t *testing.T, prev Status, steps []step) Status {
	t.Helper()
	for i, s := range steps {
		o := Observation{Report: Report{State: s.yarn, FinalStatus: s.final}, JobManager: s.jm, Archives: s.archives,
			Now: t0.Add(time.Duration(i+1) * time.Second)}
		prev, _ = Application(prev, o)
		if api.JobState(prev.State) != s.want {
			t.Fatalf("step %d (%s/%s): state %s, want %s", i, s.yarn, s.final, prev.State, s.want)
		}
		if s.flinkState != "" && prev.Flink.State != s.flinkState {
			t.Fatalf("step %d: flink state %q, want %q", i, prev.Flink.State, s.flinkState)
		}
		if s.failure != "" && prev.Flink.Failure != s.failure {
			t.Fatalf("step %d: failure %q, want %q", i, prev.Flink.Failure, s.failure)
		}
	}
	return prev
}

func jmJob(state string) JobManager {
	return JobManager{URL: "http://jm:8081", Answered: true, Job: &FlinkJob{ID: "j1", Name: "sum", State: state}}
}

func TestApplicationScenarios(t *testing.T) {
	fresh := Status{State: string(api.StateSubmitted), Since: t0, YARN: YARN{ApplicationID: "application_1_0001"},
		Flink: Flink{JobID: "j1"}}
	cases := []struct {
		name  string
		prev  Status
		steps []step
	}{
		{"late failure: main() throws after its job finished", fresh, []step{
			{yarn: "ACCEPTED", want: api.StateAccepted},
			{yarn: "RUNNING", jm: jmJob("RUNNING"), want: api.StateRunning},
			{yarn: "RUNNING", jm: jmJob("FINISHED"), want: api.StateRunning, flinkState: "FINISHED"},
			{yarn: "RUNNING", jm: JobManager{URL: "http://jm:8081"}, want: api.StateRunning},
			{yarn: "FAILED", final: "FAILED", want: api.StateFailed, flinkState: "FINISHED"},
			{yarn: "FAILED", final: "FAILED", want: api.StateFailed},
		}},
		{"Flink 2 reports FINISHED before YARN", fresh, []step{
			{yarn: "RUNNING", jm: jmJob("RUNNING"), want: api.StateRunning},
			{yarn: "RUNNING", jm: jmJob("FINISHED"), want: api.StateRunning},
			{yarn: "FINISHED", final: "SUCCEEDED", want: api.StateFinished, flinkState: "FINISHED"},
		}},
		{"JobManager failover holds at STARTING", fresh, []step{
			{yarn: "RUNNING", jm: jmJob("RUNNING"), want: api.StateRunning},
			{yarn: "ACCEPTED", want: api.StateStarting},
			{yarn: "ACCEPTED", jm: jmJob("RUNNING"), want: api.StateRunning}, // new leader before YARN's report
			{yarn: "RUNNING", jm: JobManager{URL: "http://jm2:8081"}, want: api.StateRunning},
			{yarn: "ACCEPTED", want: api.StateStarting},
			{yarn: "RUNNING", jm: JobManager{URL: "http://jm2:8081"}, want: api.StateStarting},
			{yarn: "RUNNING", jm: jmJob("RESTARTING"), want: api.StateRunning},
		}},
		{"failure from the running JobManager", fresh, []step{
			{yarn: "RUNNING", jm: JobManager{URL: "u", Answered: true, Job: &FlinkJob{ID: "j1", State: "FAILING"}, RootException: "boom"},
				want: api.StateRunning, failure: "boom"},
			{yarn: "FINISHED", final: "FAILED", want: api.StateFailed, failure: "boom"},
		}},
		{"a job seen only ended takes YARN's outcome as Flink's", fresh, []step{
			{yarn: "FINISHED", final: "KILLED", want: api.StateCanceled, flinkState: "CANCELED"},
		}},
		{"multi-job application lists every job", Status{State: "SUBMITTED", Since: t0,
			YARN: YARN{ApplicationID: "application_1_0002"}, Flink: Flink{MultipleJobs: true}}, []step{
			{yarn: "RUNNING", jm: JobManager{URL: "u", Answered: true}, want: api.StateStarting},
			{yarn: "RUNNING", jm: JobManager{URL: "u", Answered: true, Jobs: []FlinkJob{{ID: "a", Name: "sum-1", State: "RUNNING"}}}, want: api.StateRunning},
			{yarn: "RUNNING", jm: JobManager{URL: "u", Answered: true, Jobs: []FlinkJob{{ID: "a", Name: "sum-1", State: "FINISHED"}}}, want: api.StateRunning},
			{yarn: "RUNNING", jm: JobManager{URL: "u", Answered: true, Jobs: []FlinkJob{{ID: "a", Name: "sum-1", State: "FINISHED"}, {ID: "b", Name: "sum-2", State: "RUNNING"}}}, want: api.StateRunning},
			{yarn: "FINISHED", final: "SUCCEEDED", archives: []Archive{{JobID: "b", Name: "sum-2", State: "FINISHED"}}, want: api.StateFinished},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runSteps(t, c.prev, c.steps)
			if c.prev.Flink.MultipleJobs {
				want := []FlinkJob{{ID: "a", Name: "sum-1", State: "FINISHED"}, {ID: "b", Name: "sum-2", State: "FINISHED"}}
				if !slices.Equal(got.Flink.Jobs, want) {
					t.Fatalf("jobs %+v, want %+v", got.Flink.Jobs, want)
				}
			}
		})
	}
}

func TestApplicationActions(t *testing.T) {
	prev := Status{State: "RUNNING", Since: t0, Ran: true, YARN: YARN{ApplicationID: "application_1_0001", State: "RUNNING"},
		Flink: Flink{JobID: "j1"}}
	got, actions := Application(prev, Observation{Report: Report{State: "FAILED", FinalStatus: "FAILED",
		AMContainerLogs: "http://nm/logs"}, Now: t0})
	want := []Action{{Kind: RemoveLaunchFiles, ApplicationID: "application_1_0001"},
		{Kind: FindFailure, ApplicationID: "application_1_0001", JobID: "j1", Logs: "http://nm/logs"}}
	if !slices.Equal(actions, want) {
		t.Fatalf("actions %+v, want %+v", actions, want)
	}
	// Observed again: the files were dealt with, the failure is still sought.
	_, actions = Application(got, Observation{Report: Report{State: "FAILED", FinalStatus: "FAILED"}, Now: t0})
	if hasAction(actions, RemoveLaunchFiles) || !hasAction(actions, FindFailure) {
		t.Fatalf("second observation: %+v", actions)
	}
	got = WithFailure(got, "java.lang.IllegalStateException: late")
	if !Settled(KindJob, got, got.Since.Add(ArchiveGrace)) {
		t.Fatal("a failed job with its failure and YARN ended is not settled")
	}
	if _, actions = Application(got, Observation{Report: Report{State: "FAILED", FinalStatus: "FAILED"}, Now: t0}); len(actions) != 0 {
		t.Fatalf("settled job asks for %+v", actions)
	}
}

// TestUnchangedObservationIsEqual: observing the same thing twice (as a new reconciler leader does) gives an
// equal status, so nothing is written.
func TestUnchangedObservationIsEqual(t *testing.T) {
	prev := Status{State: "SUBMITTED", Since: t0, YARN: YARN{ApplicationID: "application_1_0001"}, Flink: Flink{JobID: "j1"}}
	o := Observation{Report: Report{State: "RUNNING", Diagnostics: "at x\nrunning"}, JobManager: jmJob("RUNNING"), Now: t0.Add(time.Second)}
	first, _ := Application(prev, o)
	o.Now = t0.Add(time.Hour)
	second, _ := Application(first, o)
	if !second.Equal(first) {
		t.Fatalf("same observation changed the status:\n%+v\n%+v", first, second)
	}
	if first.Equal(prev) {
		t.Fatal("a real change compared equal")
	}
}

func TestSessionStates(t *testing.T) {
	base := Status{State: string(api.SessionStarting), Since: t0, YARN: YARN{ApplicationID: "application_1_0003"}}
	answering := JobManager{URL: "http://jm", Answered: true}
	stopping := base
	stopping.State, stopping.StopRequested = string(api.SessionStopping), t0
	cases := []struct {
		name        string
		prev        Status
		yarn, final string
		jm          JobManager
		now         time.Duration
		want        api.SessionState
		kill        bool
	}{
		{"accepted", base, "ACCEPTED", "UNDEFINED", JobManager{}, 0, api.SessionStarting, false},
		{"running, JobManager silent", base, "RUNNING", "UNDEFINED", JobManager{URL: "http://jm"}, 0, api.SessionStarting, false},
		{"running", base, "RUNNING", "UNDEFINED", answering, 0, api.SessionRunning, false},
		{"new attempt's leader before YARN", base, "ACCEPTED", "UNDEFINED", answering, 0, api.SessionRunning, false},
		{"stopping within grace", stopping, "RUNNING", "UNDEFINED", answering, 10 * time.Second, api.SessionStopping, false},
		{"stop stalled", stopping, "RUNNING", "UNDEFINED", answering, time.Minute, api.SessionStopping, true},
		{"stopped", stopping, "FINISHED", "SUCCEEDED", JobManager{}, 0, api.SessionStopped, false},
		{"killed", base, "KILLED", "KILLED", JobManager{}, 0, api.SessionStopped, false},
		{"failed", base, "FINISHED", "FAILED", JobManager{}, 0, api.SessionFailed, false},
		{"yarn failed", base, "FAILED", "FAILED", JobManager{}, 0, api.SessionFailed, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, actions := Session(c.prev, Observation{Report: Report{State: c.yarn, FinalStatus: c.final}, JobManager: c.jm,
				Now: t0.Add(c.now)}, 30*time.Second)
			if api.SessionState(got.State) != c.want {
				t.Fatalf("state %s, want %s", got.State, c.want)
			}
			if hasAction(actions, KillStalledStop) != c.kill {
				t.Fatalf("actions %+v", actions)
			}
			if api.SessionState(got.State).Terminal() != hasAction(actions, RemoveLaunchFiles) {
				t.Fatalf("ended %v, actions %+v", got.State, actions)
			}
		})
	}
}

func TestSessionJobStates(t *testing.T) {
	fresh := Status{State: string(api.StateSubmitted), Since: t0, YARN: YARN{ApplicationID: "application_1_0003"},
		Flink: Flink{JobID: "j1"}}
	ran := fresh
	ran.State, ran.Ran = string(api.StateRunning), true
	running := Report{State: "RUNNING"}
	answering := func(job *FlinkJob) JobManager { return JobManager{URL: "http://jm", Answered: true, Job: job} }
	cases := []struct {
		name     string
		prev     Status
		session  Report
		gone     bool
		jm       JobManager
		archives []Archive
		want     api.JobState
		failure  string
	}{
		{"running", fresh, running, false, answering(&FlinkJob{ID: "j1", State: "RUNNING"}), nil, api.StateRunning, ""},
		{"created", fresh, running, false, answering(&FlinkJob{ID: "j1", State: "CREATED"}), nil, api.StateStarting, ""},
		{"finished in the session", ran, running, false, answering(&FlinkJob{ID: "j1", State: "FINISHED"}), nil, api.StateFinished, ""},
		{"failed in the session", ran, running, false, JobManager{URL: "http://jm", Answered: true,
			Job: &FlinkJob{ID: "j1", State: "FAILED"}, RootException: "x"}, nil, api.StateFailed, "x"},
		{"expired from the JobManager, archived", ran, running, false, answering(nil),
			[]Archive{{JobID: "j1", State: "FAILED", Failure: "y"}}, api.StateFailed, "y"},
		{"unknown to a recovering leader", ran, running, false, JobManager{URL: "http://jm", Answered: true, Recovering: true}, nil, api.StateStarting, ""},
		{"forgotten by a restarted JobManager", ran, running, false, answering(nil), nil, api.StateLost, ""},
		{"JobManager silent keeps the state", ran, running, false, JobManager{URL: "http://jm"}, nil, api.StateRunning, ""},
		{"session stopped", ran, Report{State: "FINISHED", FinalStatus: "SUCCEEDED"}, false, JobManager{}, nil, api.StateCanceled, ""},
		{"session failed", ran, Report{State: "FAILED", FinalStatus: "FAILED"}, false, JobManager{}, nil, api.StateLost, ""},
		{"session gone, archived", ran, Report{}, true, JobManager{}, []Archive{{JobID: "j1", State: "FINISHED"}}, api.StateFinished, ""},
		{"session gone", ran, Report{}, true, JobManager{}, nil, api.StateLost, ""},
		{"session restarting", ran, Report{State: "ACCEPTED"}, false, JobManager{}, nil, api.StateStarting, ""},
		{"session starting", fresh, Report{State: "ACCEPTED"}, false, JobManager{}, nil, api.StateSubmitted, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _ := SessionJob(c.prev, Observation{Report: c.session, JobManager: c.jm, Archives: c.archives, Now: t0.Add(time.Second)}, c.gone)
			if api.JobState(got.State) != c.want || got.Flink.Failure != c.failure {
				t.Fatalf("state %s failure %q, want %s %q", got.State, got.Flink.Failure, c.want, c.failure)
			}
		})
	}
}

func TestLostAndStopping(t *testing.T) {
	run := Status{State: "RUNNING", Since: t0, Ran: true, JobManager: "http://jm", YARN: YARN{ApplicationID: "a", Diagnostics: "x"}}
	lost := Lost(KindJob, run, "gone", t0.Add(time.Minute))
	if lost.State != "LOST" || lost.YARN.Diagnostics != "gone" || lost.JobManager != "" || !lost.Since.Equal(t0.Add(time.Minute)) {
		t.Fatalf("lost: %+v", lost)
	}
	if again := Lost(KindJob, lost, "other", t0.Add(time.Hour)); !again.Equal(lost) {
		t.Fatalf("lost twice: %+v", again)
	}
	sess := Status{State: "RUNNING", Since: t0, YARN: YARN{ApplicationID: "a"}}
	st := Stopping(sess, t0.Add(time.Second))
	if st.State != "STOPPING" || !st.StopRequested.Equal(t0.Add(time.Second)) {
		t.Fatalf("stopping: %+v", st)
	}
	if again := Stopping(st, t0.Add(time.Hour)); !again.Equal(st) {
		t.Fatalf("stopping twice moved: %+v", again)
	}
	if l := Lost(KindSession, sess, "gone", t0); l.State != "LOST" {
		t.Fatalf("session lost: %+v", l)
	}
}

func TestCleanDiagnostics(t *testing.T) {
	got := CleanDiagnostics("Exception: boom\n\tat a.b(C.java:1)\n\t... 3 more\n\nnext")
	if got != "Exception: boom\nnext" {
		t.Fatalf("%q", got)
	}
	long := CleanDiagnostics(string(make([]byte, 5000)))
	if len(long) > diagnosticsLimit+len("…") {
		t.Fatalf("len %d", len(long))
	}
}
