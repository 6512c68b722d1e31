package observe

import (
	"slices"
	"strings"
	"time"
)

// Savepoint states as records store them (the api.SavepointState words).
const (
	SavepointInProgress = "IN_PROGRESS"
	SavepointCompleted  = "COMPLETED"
	SavepointFailed     = "FAILED"
	SavepointDisposed   = "DISPOSED"
)

// Savepoint is what a record keeps of one savepoint of its job: typed, versioned with the record's status.
// It names the application and Flink job that took it, so that a job identity that outlives its applications
// (upgrades) keeps one history of savepoints across them.
type Savepoint struct {
	// TriggerID is the caller's trigger id, or the gateway's; unique within the record.
	TriggerID string `json:"triggerId"`
	// FlinkTriggerID is the trigger id given to the JobManager (32 hex digits, derived from TriggerID and
	// the Flink job id, so that the JobManager itself deduplicates a repeated trigger).
	FlinkTriggerID string `json:"flinkTriggerId"`
	// ApplicationID and FlinkJobID are the YARN application and Flink job that take it.
	ApplicationID string `json:"applicationId"`
	FlinkJobID    string `json:"flinkJobId"`
	// State is IN_PROGRESS, COMPLETED, FAILED or DISPOSED.
	State string `json:"state"`
	// Format is CANONICAL or NATIVE.
	Format string `json:"format"`
	// Stop and Drain: taken by a stop-with-savepoint (draining).
	Stop  bool `json:"stop,omitempty"`
	Drain bool `json:"drain,omitempty"`
	// TargetDirectory is where it was asked to be written; Path where it was (COMPLETED).
	TargetDirectory string `json:"targetDirectory"`
	Path            string `json:"path,omitempty"`
	// Failure is why it failed, or why its disposal did.
	Failure string `json:"failure,omitempty"`
	// RequestedBy is the principal that triggered it.
	RequestedBy string    `json:"requestedBy,omitempty"`
	RequestedAt time.Time `json:"requestedAt"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
	DisposedAt  time.Time `json:"disposedAt,omitzero"`
}

// SavepointAnswer is what the JobManager answered about a savepoint trigger in one observation.
type SavepointAnswer struct {
	// Answered says the JobManager answered; Known says it knows the trigger.
	Answered, Known bool
	// Completed says the operation ended; Location is the savepoint's path, Failure the cause when it failed.
	Completed bool
	Location  string
	Failure   string
	// Archived lists the savepoints the job's archive names (read once the job has ended without an answer):
	// the cluster of a job stopped with a savepoint may be gone before its outcome was read.
	Archived []ArchivedSavepoint
}

// ArchivedSavepoint is a completed savepoint a job archive names.
type ArchivedSavepoint struct {
	Path        string
	TriggeredAt time.Time
}

// unknownTriggerGrace is how long a trigger the JobManager does not know stays IN_PROGRESS (the trigger
// call may still be on its way) before it is FAILED.
const unknownTriggerGrace = 2 * time.Minute

// ObserveSavepoint derives a savepoint from its previous record and the JobManager's answer. Only an
// IN_PROGRESS savepoint changes: COMPLETED with a location, FAILED with the failure, or FAILED when the
// JobManager has not known the trigger for longer than a grace (a JobManager that restarted forgot it).
// jobEnded says the job (or its cluster) ended without the answer: a savepoint still in progress then can
// never complete.
func ObserveSavepoint(prev Savepoint, a SavepointAnswer, jobEnded bool, now time.Time) Savepoint {
	if prev.State != SavepointInProgress {
		return prev
	}
	next := prev
	switch {
	case a.Answered && a.Known && a.Completed && a.Failure == "" && a.Location != "":
		next.State, next.Path, next.CompletedAt = SavepointCompleted, a.Location, now.UTC()
	case a.Answered && a.Known && a.Completed:
		next.State, next.Failure, next.CompletedAt = SavepointFailed, or(a.Failure, "the JobManager reported no savepoint path"), now.UTC()
	case a.Answered && !a.Known && now.Sub(prev.RequestedAt) > unknownTriggerGrace:
		next.State, next.Failure, next.CompletedAt = SavepointFailed, "the JobManager does not know the savepoint's trigger (it may have restarted)", now.UTC()
	case !a.Answered && jobEnded:
		if path := archivedPath(prev, a.Archived); path != "" {
			next.State, next.Path, next.CompletedAt = SavepointCompleted, path, now.UTC()
			break
		}
		next.State, next.Failure, next.CompletedAt = SavepointFailed, "the job ended before the savepoint's outcome was known", now.UTC()
	}
	return next
}

// archivedPath finds a savepoint in what a job's archive lists: one below its target directory, triggered no
// earlier than it was requested (with a minute's leeway for clocks), the latest such; "" when none.
func archivedPath(sp Savepoint, archived []ArchivedSavepoint) string {
	best := ArchivedSavepoint{}
	dir := strings.TrimRight(sp.TargetDirectory, "/") + "/"
	for _, a := range archived {
		if !sameDir(a.Path, dir) || a.TriggeredAt.Before(sp.RequestedAt.Add(-time.Minute)) {
			continue
		}
		if best.Path == "" || a.TriggeredAt.After(best.TriggeredAt) {
			best = a
		}
	}
	return best.Path
}

// sameDir reports whether path lies directly below dir, comparing their paths only when one of them names
// no file system (hdfs:///x and hdfs://nn:8020/x and /x are the same directory on the default file system).
func sameDir(path, dir string) bool {
	strip := func(s string) string {
		if i := strings.Index(s, "://"); i >= 0 {
			s = s[i+3:]
			if j := strings.IndexByte(s, '/'); j >= 0 {
				return s[j:]
			}
			return "/"
		}
		return s
	}
	p, d := strip(path), strip(dir)
	return strings.HasPrefix(p, d) && !strings.Contains(strings.TrimPrefix(p, d), "/")
}

// Retention bounds the completed savepoints a record keeps: at most MaxCount (0: no limit), none older than
// MaxAge (0: no limit). The newest completed savepoint is always kept: it is the one to restore from.
type Retention struct {
	MaxCount int
	MaxAge   time.Duration
}

// SavepointsToDispose returns the trigger ids of completed savepoints retention drops at now, oldest first.
func SavepointsToDispose(sps []Savepoint, r Retention, now time.Time) []string {
	var done []Savepoint
	for _, sp := range sps {
		if sp.State == SavepointCompleted {
			done = append(done, sp)
		}
	}
	slices.SortStableFunc(done, func(a, b Savepoint) int { return b.CompletedAt.Compare(a.CompletedAt) }) // newest first
	var drop []string
	for i := len(done) - 1; i >= 1; i-- {
		sp := done[i]
		if (r.MaxCount > 0 && i >= r.MaxCount) || (r.MaxAge > 0 && now.Sub(sp.CompletedAt) > r.MaxAge) {
			drop = append(drop, sp.TriggerID)
		}
	}
	return drop
}

// maxSavepointHistory bounds the savepoints a record lists; the oldest final ones not COMPLETED go first.
const maxSavepointHistory = 100

// TrimSavepoints drops the oldest disposed or failed savepoints beyond the history a record keeps.
func TrimSavepoints(sps []Savepoint) []Savepoint {
	for len(sps) > maxSavepointHistory {
		i := slices.IndexFunc(sps, func(sp Savepoint) bool {
			return sp.State == SavepointDisposed || sp.State == SavepointFailed
		})
		if i < 0 {
			break
		}
		sps = slices.Delete(sps, i, i+1)
	}
	return sps
}

// or returns a, or b when a is empty.
func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
