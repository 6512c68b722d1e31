package observe

import (
	"fmt"
	"slices"
	"time"
)

// Health statuses of a running job.
const (
	HealthHealthy   = "healthy"
	HealthDegraded  = "degraded"
	HealthUnhealthy = "unhealthy"
	HealthUnknown   = "unknown"
)

// Health is what the gateway last concluded of a running job's health from its JobManager: restarts in a
// window, the age of its last completed checkpoint and backpressure. The zero Health means "not assessed"
// (the job does not run, or it was never checked).
type Health struct {
	// Status is HealthHealthy, HealthDegraded, HealthUnhealthy or HealthUnknown.
	Status string `json:"status,omitempty"`
	// Reasons say why the status is not healthy, one sentence each.
	Reasons []string `json:"reasons,omitempty"`
	// Restarts is the number of failures (restarts) the JobManager recorded within the window.
	Restarts int `json:"restarts,omitempty"`
	// Checkpointing says the job checkpoints; LastCheckpoint is when its last checkpoint completed (zero:
	// none yet).
	Checkpointing  bool      `json:"checkpointing,omitempty"`
	LastCheckpoint time.Time `json:"lastCheckpoint,omitzero"`
	// Backpressure is the worst level of the job's operators: ok, low or high ("" when not sampled yet).
	Backpressure string `json:"backpressure,omitempty"`
	// CheckedAt is when the figures were gathered.
	CheckedAt time.Time `json:"checkedAt,omitzero"`
	// Since is when the job's health first had this Status without a break (see Following).
	Since time.Time `json:"since,omitzero"`
}

// Following returns h, a new assessment, with Since carried over from prev, the assessment before it,
// when the status did not change, and set to h's CheckedAt when it did.
func (h Health) Following(prev Health) Health {
	switch {
	case h.Status == "":
		h.Since = time.Time{}
	case prev.Status == h.Status && !prev.Since.IsZero():
		h.Since = prev.Since
	default:
		h.Since = h.CheckedAt
	}
	return h
}

// Equal reports whether two health assessments are the same.
func (h Health) Equal(o Health) bool {
	return h.Status == o.Status && slices.Equal(h.Reasons, o.Reasons) && h.Restarts == o.Restarts &&
		h.Checkpointing == o.Checkpointing && h.LastCheckpoint.Equal(o.LastCheckpoint) &&
		h.Backpressure == o.Backpressure && h.CheckedAt.Equal(o.CheckedAt) && h.Since.Equal(o.Since)
}

// HealthSample is what a JobManager answered about one job's health in one check.
type HealthSample struct {
	// Answered says the JobManager answered (else the status is unknown).
	Answered bool
	// Failures are the times of the failures in the job's exception history (each one a restart, or the
	// final failure).
	Failures []time.Time
	// Checkpointing says checkpointing is enabled; LastCheckpoint is the completion of the latest completed
	// checkpoint (zero: none).
	Checkpointing  bool
	LastCheckpoint time.Time
	// RunningSince is when the job (its current attempt) started running, to allow a first checkpoint.
	RunningSince time.Time
	// Backpressure is the worst operator's level: ok, low, high, or "" when not sampled yet.
	Backpressure string
}

// HealthThresholds say when a job is degraded or unhealthy.
type HealthThresholds struct {
	// RestartWindow is the window restarts are counted in.
	RestartWindow time.Duration
	// MaxRestarts: at least this many restarts in the window make a job unhealthy; any restart in the window
	// makes it degraded. 0 disables the check.
	MaxRestarts int
	// CheckpointAge: a checkpointing job whose last completed checkpoint (or start, with none) is older is
	// unhealthy; 0 disables the check.
	CheckpointAge time.Duration
	// Backpressure: high backpressure makes a job degraded when true.
	Backpressure bool
}

// AssessHealth derives a running job's health from one sample at time now. A job that does not run (state
// other than RUNNING) is not assessed: the zero Health.
func AssessHealth(state string, s HealthSample, t HealthThresholds, now time.Time) Health {
	if state != "RUNNING" {
		return Health{}
	}
	h := Health{Status: HealthUnknown, CheckedAt: now.UTC()}
	if !s.Answered {
		h.Reasons = []string{"the JobManager did not answer"}
		return h
	}
	h.Checkpointing, h.Backpressure = s.Checkpointing, s.Backpressure
	if !s.LastCheckpoint.IsZero() {
		h.LastCheckpoint = s.LastCheckpoint.UTC()
	}
	for _, f := range s.Failures {
		if t.RestartWindow <= 0 || now.Sub(f) <= t.RestartWindow {
			h.Restarts++
		}
	}
	h.Status = HealthHealthy
	worse := func(status, reason string) {
		if rank(status) > rank(h.Status) {
			h.Status = status
		}
		h.Reasons = append(h.Reasons, reason)
	}
	if t.MaxRestarts > 0 && h.Restarts > 0 {
		msg := fmt.Sprintf("%d restarts within %s", h.Restarts, t.RestartWindow)
		if h.Restarts >= t.MaxRestarts {
			worse(HealthUnhealthy, msg+fmt.Sprintf(" (limit %d)", t.MaxRestarts))
		} else {
			worse(HealthDegraded, msg)
		}
	}
	if t.CheckpointAge > 0 && s.Checkpointing {
		last := s.LastCheckpoint
		if last.IsZero() {
			last = s.RunningSince
		}
		if !last.IsZero() && now.Sub(last) > t.CheckpointAge {
			if s.LastCheckpoint.IsZero() {
				worse(HealthUnhealthy, fmt.Sprintf("no checkpoint completed within %s of the start", t.CheckpointAge))
			} else {
				worse(HealthUnhealthy, fmt.Sprintf("the last completed checkpoint is older than %s", t.CheckpointAge))
			}
		}
	}
	if t.Backpressure && s.Backpressure == "high" {
		worse(HealthDegraded, "high backpressure")
	}
	return h
}

func rank(status string) int {
	switch status {
	case HealthHealthy:
		return 1
	case HealthDegraded:
		return 2
	case HealthUnhealthy:
		return 3
	}
	return 0
}
