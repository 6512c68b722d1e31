package reconcile

import (
	"context"
	"time"

	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/observe"
)

// maxBackpressureVertices bounds the operators whose backpressure one health check asks for.
const maxBackpressureVertices = 8

// healthDue reports whether a record's health is to be checked now, and notes the check: at most once per
// HealthInterval per record, so that the JobManager calls of health checks stay few whatever the interval of
// passes, and no more checks per pass than its health budget (a twentieth of JobManagerCallsPerPass: states come first), so that
// the jobs a new leader (or a restart) finds are not all checked in its first pass: those left over are
// checked in the next ones, which spreads the checks over the passes from then on.
func (r *Reconciler) healthDue(id string) bool {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.healthChecked[id]; ok && now.Sub(last) < r.opts.HealthInterval || r.healthBudget.Add(-1) < 0 {
		return false
	}
	r.healthChecked[id] = now
	return true
}

// forgetHealth drops the bookkeeping of a record whose job no longer runs.
func (r *Reconciler) forgetHealth(id string) {
	r.mu.Lock()
	delete(r.healthChecked, id)
	r.mu.Unlock()
}

// assessHealth checks the health of a running job (application or session job) when it is due (see healthDue) and sets it in
// next: a few JobManager calls (exception history, checkpoint configuration and statistics, the job's
// operators and their backpressure), bounded together by JobManagerTimeout, then the pure assessment of
// package observe. A job that does not run has no health. appID is the application whose JobManager runs the
// job: while that JobManager's last answer was none (it timed out or failed, and is backed off), the check
// waits for it to answer again, so that a hanging JobManager costs no health check its timeout.
func (r *Reconciler) assessHealth(ctx context.Context, id, appID string, next *observe.Status) {
	if r.opts.HealthInterval < 0 || next.Flink.MultipleJobs || next.Flink.JobID == "" {
		return
	}
	if next.State != "RUNNING" {
		next.Health = observe.Health{}
		r.forgetHealth(id)
		return
	}
	if r.silent(appID) || !r.healthDue(id) {
		return
	}
	var s observe.HealthSample
	if next.JobManager != "" {
		if jm, err := jobmanager.New(next.JobManager, r.jmHTTP); err == nil {
			hctx, cancel := context.WithTimeout(ctx, r.opts.JobManagerTimeout)
			s = r.sampleHealth(hctx, jm, next.Flink.JobID)
			cancel()
		}
	}
	s.RunningSince = next.Since
	h := observe.AssessHealth(next.State, s, r.opts.HealthThresholds, r.opts.Now()).Following(next.Health)
	if h.Since.Equal(next.Health.Since) && h.Status == next.Health.Status && h.Restarts == next.Health.Restarts && h.Backpressure == next.Health.Backpressure &&
		h.LastCheckpoint.Equal(next.Health.LastCheckpoint) && equalReasons(h.Reasons, next.Health.Reasons) {
		return // unchanged: no write for a new CheckedAt alone
	}
	next.Health = h
	r.opts.Metrics.healthChecked(h.Status)
}

func equalReasons(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// healthOnlyIfRunning drops the health of a job that no longer runs, and its bookkeeping, for an
// observation that does not check health (the refresher's): health is a running job's.
func (r *Reconciler) healthOnlyIfRunning(id string, next *observe.Status) {
	if next.State != "RUNNING" {
		next.Health = observe.Health{}
		r.forgetHealth(id)
	}
}

// sampleHealth asks a JobManager what the health of a job is assessed from. A call that fails leaves its
// figure out; the exception history failing means the JobManager did not answer.
func (r *Reconciler) sampleHealth(ctx context.Context, jm *jobmanager.Client, jobID string) observe.HealthSample {
	var s observe.HealthSample
	failures, err := jm.Failures(ctx, jobID)
	if err != nil {
		return s
	}
	s.Answered, s.Failures = true, failures
	if cp, err := jm.CheckpointStats(ctx, jobID); err == nil {
		s.Checkpointing, s.LastCheckpoint = cp.Enabled, cp.LastCompleted
	}
	if !r.opts.HealthThresholds.Backpressure {
		return s
	}
	d, err := jm.Job(ctx, jobID)
	if err != nil {
		return s
	}
	for i, v := range d.Vertices {
		if i == maxBackpressureVertices {
			break
		}
		level, err := jm.Backpressure(ctx, jobID, v.ID)
		if err != nil {
			continue
		}
		if levelRank(level) > levelRank(s.Backpressure) {
			s.Backpressure = level
		}
	}
	return s
}

func levelRank(l string) int {
	switch l {
	case "ok":
		return 1
	case "low":
		return 2
	case "high":
		return 3
	}
	return 0
}

// defaultHealthInterval is the period of health checks per running job.
const defaultHealthInterval = 30 * time.Second
