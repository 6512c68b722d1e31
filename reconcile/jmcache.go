package reconcile

import (
	"hash/fnv"
	"time"

	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/yarnclient"
)

// jmAnswer is the last answer of an application's JobManager, so that a pass asks only the JobManagers whose
// answer is due: JobManager calls scale with what changes (YARN's report of the application) and with
// JobManagerRefresh, not with the number of running jobs per pass; a JobManager that timed out or failed is
// asked again only after a back-off, so that it does not slow every pass by its timeout.
type jmAnswer struct {
	url, report string             // the JobManager asked and the YARN report it was asked under (reportKey)
	view        observe.JobManager // an application's JobManager: what it answered
	session     *sessionView       // a session's JobManager: its job list
	next        time.Time          // when to ask again
	failures    int                // answers missed in a row
}

// reportKey is what of a YARN report makes a JobManager's answer stale when it changes.
func reportKey(app *yarnclient.App) string {
	return string(app.State) + " " + string(app.FinalStatus) + " " + app.AMRPCAddress + " " + app.AMHostHTTPAddress
}

// cachedJM returns the JobManager answer of an application that stands: asked at url under the same
// report, and not yet due — or due, but the pass has no JobManager call left for answers that are due
// (JobManagerCallsPerPass; budgeted false: sessions, whose one call covers all their jobs, are not
// bounded by it). A JobManager it returns no answer for is to be asked now.
func (r *Reconciler) cachedJM(app *yarnclient.App, url string, budgeted bool) (*jmAnswer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.jms[app.ID]
	if a == nil || a.url != url || a.report != reportKey(app) {
		return nil, false // never asked, or what YARN reports changed: ask
	}
	if !r.dueLocked(a, r.opts.Now()) || budgeted && r.budget.Add(-1) < 0 {
		return a, true
	}
	return nil, false
}

// dueLocked reports whether an answer is due at now (r.mu held). (Judging it half a pass ahead, so that
// passes back to back at scale ask each JobManager every second pass instead of every second or third, was
// tried: JobManager-only changes showed sooner, p99 4.9 s, but the 40 % more calls made passes longer and
// YARN's changes later, p99 7.7 s.)
func (r *Reconciler) dueLocked(a *jmAnswer, now time.Time) bool {
	return !now.Before(a.next)
}

// rememberJM keeps a JobManager's answer (answered: whether it answered at all) until it is due again:
// after JobManagerRefresh (less a spread by application, so that the JobManagers of many applications
// observed together are not all due in the same pass), or after a back-off doubling from the larger of
// JobManagerRefresh and JobManagerTimeout up to JobManagerBackoff while it does not answer.
func (r *Reconciler) rememberJM(app *yarnclient.App, url string, answered bool, set func(*jmAnswer)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.jms[app.ID]
	if a == nil || a.url != url {
		a = &jmAnswer{url: url}
		r.jms[app.ID] = a
	}
	a.report = reportKey(app)
	set(a)
	wait := r.opts.JobManagerRefresh
	if answered {
		a.failures = 0
		h := fnv.New32a()
		_, _ = h.Write([]byte(app.ID))
		wait -= time.Duration(h.Sum32()%1000) * wait / 4000 // up to a quarter less
	} else {
		a.failures++
		wait = max(wait, r.opts.JobManagerTimeout) // at least what one more try may cost
		for i := 1; i < a.failures && wait < r.opts.JobManagerBackoff; i++ {
			wait *= 2
		}
		wait = min(wait, r.opts.JobManagerBackoff)
	}
	a.next = r.opts.Now().Add(wait)
}

// forgetJM drops an application's JobManager answer (its application ended, or it must be asked now).
func (r *Reconciler) forgetJM(appID string) {
	r.mu.Lock()
	delete(r.jms, appID)
	r.mu.Unlock()
}

// silent reports whether an application's JobManager did not answer when last asked (it is backed off).
func (r *Reconciler) silent(appID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.jms[appID]
	return a != nil && a.failures > 0
}
