package observe

import (
	"strings"
	"time"

	"github.com/yarngate/yarngate/api"
)

// YARN application states and final statuses as the ResourceManager spells them.
const (
	yarnNew       = "NEW"
	yarnNewSaving = "NEW_SAVING"
	yarnSubmitted = "SUBMITTED"
	yarnAccepted  = "ACCEPTED"
	yarnRunning   = "RUNNING"
	yarnFinished  = "FINISHED"
	yarnFailed    = "FAILED"
	yarnKilled    = "KILLED"

	finalSucceeded = "SUCCEEDED"
	finalFailed    = "FAILED"
	finalKilled    = "KILLED"
)

// YARNEnded reports whether a YARN application state is final.
func YARNEnded(state string) bool {
	return state == yarnFinished || state == yarnFailed || state == yarnKilled
}

// flinkRunning reports whether a Flink job status means the job is running (restarts and cancellation under
// way included).
func flinkRunning(s string) bool {
	switch s {
	case "RUNNING", "RESTARTING", "FAILING", "CANCELLING", "RECONCILING":
		return true
	}
	return false
}

// FlinkEnded reports whether a Flink job status is globally terminal.
func FlinkEnded(s string) bool { return s == "FINISHED" || s == "FAILED" || s == "CANCELED" }

// Terminal reports whether a status of this kind has ended; it never changes state again.
func Terminal(kind Kind, state string) bool {
	if kind == KindSession {
		return api.SessionState(state).Terminal()
	}
	return api.JobState(state).Terminal()
}

// ArchiveGrace is how long after an application job ended its Flink job's archive is still looked for when
// the job's own end was not seen while the cluster ran (the JobManager was last asked before the job ended):
// the JobManager writes the archive as the job ends, but it may still be open, or not yet listed, when YARN
// reports the application ended.
const ArchiveGrace = time.Minute

// Settled reports whether there is nothing more to learn of a status at now: it has ended, YARN has ended the
// application too (for what runs in a session, the job's end is enough), a failure is known and, for an
// application job whose Flink job was last seen running, its archive had ArchiveGrace to appear.
func Settled(kind Kind, s Status, now time.Time) bool {
	if kind == KindSessionJob {
		return SessionJobSettled(s.State, s.Flink.Failure != "")
	}
	if !Terminal(kind, s.State) {
		return false
	}
	if kind != KindSessionJob && !YARNEnded(s.YARN.State) {
		return false
	}
	return !awaitsFailure(kind, s) && !awaitsArchive(kind, s, now)
}

// SessionJobSettled is Settled for a session job, from the only two facts it depends on (its state and
// whether its Flink failure is known), for callers that hold a summary of the record rather than its status.
func SessionJobSettled(state string, failureKnown bool) bool {
	return Terminal(KindSessionJob, state) && (state != string(api.StateFailed) || failureKnown)
}

// awaitsArchive reports whether an ended application job's Flink job, last seen running, may still have its
// end told by its archive.
func awaitsArchive(kind Kind, s Status, now time.Time) bool {
	return kind == KindJob && !s.Flink.MultipleJobs && s.Flink.JobID != "" && !FlinkEnded(s.Flink.State) &&
		s.Flink.State != "" && now.Sub(s.Since) < ArchiveGrace
}

// awaitsFailure reports whether a failed job's failure is still to be found.
func awaitsFailure(kind Kind, s Status) bool {
	return kind != KindSession && s.State == string(api.StateFailed) && s.Flink.Failure == ""
}

// Application derives the status of a job in its own application cluster from the YARN report and the
// JobManager's answers. YARN's final status is the only source of a final state, so that no job is reported
// FINISHED that YARN does not confirm; while the cluster runs after its Flink job ended, the job is RUNNING
// with the Flink job's own status beside it:
//
//	YARN NEW, NEW_SAVING, SUBMITTED                        → SUBMITTED  (STARTING once it ran: a failover)
//	YARN ACCEPTED, no JobManager answers                   → ACCEPTED   (STARTING once it ran: a failover)
//	YARN RUNNING (or ACCEPTED with a JobManager answering — a new attempt's leader before YARN reports it):
//	  JobManager does not answer                           → RUNNING if it was, else STARTING
//	  no Flink job yet                                     → STARTING
//	  Flink job INITIALIZING, CREATED, SUSPENDED           → STARTING
//	  Flink job RUNNING, RESTARTING, FAILING, CANCELLING   → RUNNING
//	  Flink job FINISHED, FAILED, CANCELED                 → RUNNING    (main() goes on or the cluster ends)
//	YARN FINISHED + SUCCEEDED                              → FINISHED
//	YARN FINISHED + KILLED                                 → CANCELED   (how Flink reports a canceled job)
//	YARN FINISHED + FAILED or UNDEFINED, YARN FAILED       → FAILED
//	YARN KILLED                                            → KILLED
//
// With several jobs, the application is RUNNING while any of its jobs runs or once one has ended.
func Application(prev Status, o Observation) (Status, []Action) {
	rep, jm := o.Report, o.JobManager
	next := prev.clone()
	next.YARN = yarnOf(prev.YARN, rep)
	if jm.Answered {
		if next.Flink.MultipleJobs {
			next.Flink.Jobs = mergeJobs(next.Flink.Jobs, jm.Jobs)
		} else if jm.Job != nil {
			next.Flink.State = jm.Job.State
			next.Flink.Jobs = mergeJobs(next.Flink.Jobs, []FlinkJob{*jm.Job})
		}
		if jm.RootException != "" && next.Flink.Failure == "" {
			next.Flink.Failure = jm.RootException
		}
	}
	applyArchives(&next.Flink, o.Archives)
	state := applicationState(prev, rep, jm)
	if state == api.StateFinished || state == api.StateFailed || state == api.StateCanceled {
		if !next.Flink.MultipleJobs && next.Flink.State == "" {
			// The cluster ended before its job was seen: an application cluster's final status is its
			// job's outcome.
			next.Flink.State = string(state)
		}
	}
	next.JobManager = ""
	if !YARNEnded(rep.State) {
		next.JobManager = jm.URL
	}
	return settle(KindJob, prev, next, string(state), o.Now)
}

// applyArchives takes what job archives say of the Flink jobs into f: an archive has the last word on a job
// whose end was not seen.
func applyArchives(f *Flink, archives []Archive) {
	for _, a := range archives {
		f.Jobs = mergeJobs(f.Jobs, []FlinkJob{{ID: a.JobID, Name: a.Name, State: a.State}})
		if a.JobID == f.JobID && !FlinkEnded(f.State) {
			f.State = a.State
		}
		if a.State == "FAILED" && a.Failure != "" && f.Failure == "" {
			f.Failure = a.Failure
		}
	}
}

// AwaitsArchive reports whether the status of an ended application job still waits for its Flink job's
// archive at now (see ArchiveGrace): the reconciler reads the archive again until it appears or the grace ends.
func AwaitsArchive(kind Kind, s Status, now time.Time) bool {
	return Terminal(kind, s.State) && YARNEnded(s.YARN.State) && awaitsArchive(kind, s, now)
}

// WithArchive is s with what the archive of its Flink job says: the Flink job's end (and failure), learned
// after the application ended.
func WithArchive(s Status, a Archive) Status {
	next := s.clone()
	applyArchives(&next.Flink, []Archive{a})
	return next
}

// applicationState is the state table of Application.
func applicationState(prev Status, rep Report, jm JobManager) api.JobState {
	var state api.JobState
	switch rep.State {
	case yarnNew, yarnNewSaving, yarnSubmitted:
		state = api.StateSubmitted
	case yarnAccepted:
		state = api.StateAccepted
		if jm.Answered {
			state = runningState(prev, jm)
		}
	case yarnRunning:
		state = runningState(prev, jm)
	case yarnFinished:
		switch rep.FinalStatus {
		case finalSucceeded:
			state = api.StateFinished
		case finalKilled:
			state = api.StateCanceled
		default:
			state = api.StateFailed
		}
	case yarnFailed:
		state = api.StateFailed
	case yarnKilled:
		state = api.StateKilled
	default:
		state = api.StateSubmitted
	}
	return holdDuringFailover(prev, state)
}

// runningState is the state of an application whose cluster runs.
func runningState(prev Status, jm JobManager) api.JobState {
	if !jm.Answered {
		if prev.State == string(api.StateRunning) {
			return api.StateRunning // silence changes nothing: a busy or dying JobManager, YARN will tell
		}
		return api.StateStarting
	}
	if prev.Flink.MultipleJobs {
		started := false
		for _, j := range jm.Jobs {
			if flinkRunning(j.State) || FlinkEnded(j.State) {
				started = true
			}
		}
		if started {
			return api.StateRunning
		}
		return api.StateStarting
	}
	if jm.Job != nil && (flinkRunning(jm.Job.State) || FlinkEnded(jm.Job.State)) {
		return api.StateRunning
	}
	return api.StateStarting
}

// holdDuringFailover keeps a job that has run at STARTING while YARN starts a new application attempt
// (YARN reports the application ACCEPTED again): a JobManager failover is not a new submission.
func holdDuringFailover(prev Status, state api.JobState) api.JobState {
	if (state == api.StateSubmitted || state == api.StateAccepted) && prev.Ran {
		return api.StateStarting
	}
	return state
}

// Session derives the status of a session cluster:
//
//	YARN FINISHED with final status FAILED, or YARN FAILED → FAILED
//	YARN FINISHED otherwise, or KILLED                     → STOPPED
//	being stopped by the gateway                           → STOPPING (KillStalledStop after stopGrace)
//	YARN RUNNING (or ACCEPTED: a new attempt's JobManager leads before YARN reports it) and the JobManager
//	answers                                                → RUNNING
//	otherwise                                              → STARTING
func Session(prev Status, o Observation, stopGrace time.Duration) (Status, []Action) {
	rep, jm, now := o.Report, o.JobManager, o.Now
	next := prev.clone()
	next.YARN = yarnOf(prev.YARN, rep)
	var state api.SessionState
	switch {
	case rep.State == yarnFailed, rep.State == yarnFinished && rep.FinalStatus == finalFailed:
		state = api.SessionFailed
	case YARNEnded(rep.State):
		state = api.SessionStopped
	case !prev.StopRequested.IsZero():
		state = api.SessionStopping
	case (rep.State == yarnRunning || rep.State == yarnAccepted) && jm.Answered:
		state = api.SessionRunning
	default:
		state = api.SessionStarting
	}
	next.JobManager = ""
	if !YARNEnded(rep.State) {
		next.JobManager = jm.URL
	}
	next, actions := settle(KindSession, prev, next, string(state), now)
	if state == api.SessionStopping && now.Sub(prev.StopRequested) >= stopGrace {
		actions = append(actions, Action{Kind: KillStalledStop, ApplicationID: next.YARN.ApplicationID})
	}
	return next, actions
}

// SessionJob derives the status of a job in a session from the session's YARN report (o.Report; gone is set
// when YARN no longer knows the session), its JobManager's answers about the job, and the job's archive (in
// o.Archives when one was read). Flink is the truth about a session job; the session's application only tells what
// became of jobs Flink cannot report any more:
//
//	session gone from YARN: archived outcome, else                      → LOST
//	JobManager knows the job: Flink RUNNING, RESTARTING, FAILING, ...   → RUNNING
//	                          Flink FINISHED, FAILED, CANCELED          → FINISHED, FAILED, CANCELED
//	                          otherwise                                 → STARTING
//	JobManager does not know it: archived outcome, else recovering      → STARTING, else LOST
//	JobManager does not answer                                          → the state before (STARTING at first)
//	session ended: archived outcome, else session FAILED → LOST, else   → CANCELED (a stop cancels its jobs)
//	session (re)starting                                                → SUBMITTED (STARTING once it ran)
func SessionJob(prev Status, o Observation, gone bool) (Status, []Action) {
	session, jm, now := o.Report, o.JobManager, o.Now
	var archived *Archive
	for i := range o.Archives {
		if o.Archives[i].JobID == prev.Flink.JobID {
			archived = &o.Archives[i]
		}
	}
	next := prev.clone()
	if !gone {
		next.YARN = yarnOf(prev.YARN, session)
	}
	next.JobManager = ""
	var state api.JobState
	fromArchive := func() bool {
		if archived == nil || !FlinkEnded(archived.State) {
			return false
		}
		state = jobStateOfFlink(archived.State)
		next.Flink.State = archived.State
		if archived.Failure != "" && next.Flink.Failure == "" {
			next.Flink.Failure = archived.Failure
		}
		return true
	}
	switch {
	case gone:
		if !fromArchive() {
			state = api.StateLost
		}
	case jm.URL != "" && jm.Answered && jm.Job != nil:
		state = jobStateOfFlink(jm.Job.State)
		next.Flink.State = jm.Job.State
		next.JobManager = jm.URL
		if jm.RootException != "" && next.Flink.Failure == "" {
			next.Flink.Failure = jm.RootException
		}
	case jm.URL != "" && jm.Answered:
		next.JobManager = jm.URL
		switch {
		case fromArchive(): // expired from the JobManager's job store
		case jm.Recovering:
			state = api.StateStarting
		default:
			state = api.StateLost // the JobManager forgot it (restarted without HA)
		}
	case jm.URL != "":
		state = api.JobState(prev.State)
		if state == "" {
			state = api.StateStarting
		}
	case YARNEnded(session.State):
		if fromArchive() {
			break
		}
		state = api.StateCanceled
		if session.State == yarnFailed || session.FinalStatus == finalFailed {
			state = api.StateLost
		}
	default:
		state = holdDuringFailover(prev, api.StateSubmitted)
	}
	return settle(KindSessionJob, prev, next, string(state), now)
}

// jobStateOfFlink maps a Flink job status to the state of a job that runs in a session.
func jobStateOfFlink(s string) api.JobState {
	switch {
	case flinkRunning(s):
		return api.StateRunning
	case s == "FINISHED":
		return api.StateFinished
	case s == "FAILED":
		return api.StateFailed
	case s == "CANCELED":
		return api.StateCanceled
	}
	return api.StateStarting
}

// Lost marks a status LOST: YARN no longer knows its application although it had not ended. The reason
// replaces YARN's diagnostics. An ended status is returned unchanged.
func Lost(kind Kind, prev Status, reason string, now time.Time) Status {
	if Terminal(kind, prev.State) {
		return prev
	}
	next := prev.clone()
	next.YARN.Diagnostics = reason
	state := string(api.StateLost)
	if kind == KindSession {
		state = string(api.SessionLost)
	}
	next, _ = settle(kind, prev, next, state, now)
	return next
}

// Stopping marks a session as being stopped by the gateway, from now.
func Stopping(prev Status, now time.Time) Status {
	if Terminal(KindSession, prev.State) || !prev.StopRequested.IsZero() {
		return prev
	}
	next := prev.clone()
	next.StopRequested = now.UTC()
	next, _ = settle(KindSession, prev, next, string(api.SessionStopping), now)
	return next
}

// WithFailure records the failure of a failed job found after it ended (in the job archive or the
// JobManager log); a known failure is kept.
func WithFailure(prev Status, failure string) Status {
	if prev.Flink.Failure != "" || failure == "" {
		return prev
	}
	next := prev.clone()
	next.Flink.Failure = failure
	return next
}

// settle completes a derived status: a status ends once (after that its state and Since stay, while YARN's
// fields and a failure found later still come in), Since moves with the state, a job that started is
// remembered as having run, and the follow-up actions of an ending are returned.
func settle(kind Kind, prev, next Status, state string, now time.Time) (Status, []Action) {
	next.Schema = SchemaVersion
	switch {
	case Terminal(kind, prev.State):
		next.State, next.Since = prev.State, prev.Since
	case state != prev.State:
		next.State, next.Since = state, now.UTC()
	}
	if next.State == string(api.StateStarting) || next.State == string(api.StateRunning) {
		next.Ran = true // the session states STARTING and RUNNING are spelt the same
	}
	if Terminal(kind, next.State) {
		next.JobManager = ""
	}
	var actions []Action
	app := next.YARN.ApplicationID
	if kind != KindSessionJob && Terminal(kind, next.State) && YARNEnded(next.YARN.State) &&
		!(Terminal(kind, prev.State) && YARNEnded(prev.YARN.State)) {
		actions = append(actions, Action{Kind: RemoveLaunchFiles, ApplicationID: app})
	}
	if awaitsFailure(kind, next) && (kind == KindSessionJob || YARNEnded(next.YARN.State)) {
		actions = append(actions, Action{Kind: FindFailure, ApplicationID: app, JobID: next.Flink.JobID,
			Logs: next.YARN.AMContainerLogs})
	}
	return next, actions
}

// yarnOf takes the YARN side of a status from a report, keeping the application id.
func yarnOf(prev YARN, rep Report) YARN {
	return YARN{ApplicationID: prev.ApplicationID, State: rep.State, FinalStatus: rep.FinalStatus,
		Diagnostics: CleanDiagnostics(rep.Diagnostics), Queue: rep.Queue, User: rep.User,
		AMContainerLogs: rep.AMContainerLogs}
}

// mergeJobs updates known jobs from a listing and appends new ones, keeping the order of first sight.
func mergeJobs(known, seen []FlinkJob) []FlinkJob {
	out := known
	for _, s := range seen {
		found := false
		for i := range out {
			if out[i].ID == s.ID {
				out[i].State = s.State
				if s.Name != "" {
					out[i].Name = s.Name
				}
				found = true
				break
			}
		}
		if !found {
			out = append(out, s)
		}
	}
	return out
}

// diagnosticsLimit bounds the diagnostics text of a status.
const diagnosticsLimit = 4096

// CleanDiagnostics trims YARN's diagnostics: no Java stack frames, bounded length.
func CleanDiagnostics(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "at ") || strings.HasPrefix(t, "... ") {
			continue
		}
		keep = append(keep, t)
	}
	out := strings.Join(keep, "\n")
	if len(out) > diagnosticsLimit {
		out = strings.ToValidUTF8(out[:diagnosticsLimit], "") + "…" // no rune cut in half
	}
	return out
}
