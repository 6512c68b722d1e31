package observe

import (
	"testing"
	"time"
)

func TestAssessHealth(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	th := HealthThresholds{RestartWindow: 10 * time.Minute, MaxRestarts: 3, CheckpointAge: 5 * time.Minute, Backpressure: true}
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tc := range []struct {
		name     string
		state    string
		s        HealthSample
		status   string
		restarts int
	}{
		{"not running", "STARTING", HealthSample{Answered: true}, "", 0},
		{"no answer", "RUNNING", HealthSample{}, HealthUnknown, 0},
		{"healthy", "RUNNING", HealthSample{Answered: true, Checkpointing: true, LastCheckpoint: ago(time.Minute)}, HealthHealthy, 0},
		{"old restarts do not count", "RUNNING", HealthSample{Answered: true, Failures: []time.Time{ago(time.Hour), ago(2 * time.Hour)}}, HealthHealthy, 0},
		{"one restart degrades", "RUNNING", HealthSample{Answered: true, Failures: []time.Time{ago(time.Minute)}}, HealthDegraded, 1},
		{"restart loop", "RUNNING", HealthSample{Answered: true, Failures: []time.Time{ago(time.Minute), ago(2 * time.Minute), ago(3 * time.Minute)}}, HealthUnhealthy, 3},
		{"stale checkpoint", "RUNNING", HealthSample{Answered: true, Checkpointing: true, LastCheckpoint: ago(6 * time.Minute)}, HealthUnhealthy, 0},
		{"no checkpoint yet, young", "RUNNING", HealthSample{Answered: true, Checkpointing: true, RunningSince: ago(time.Minute)}, HealthHealthy, 0},
		{"no checkpoint, old", "RUNNING", HealthSample{Answered: true, Checkpointing: true, RunningSince: ago(time.Hour)}, HealthUnhealthy, 0},
		{"checkpointing off", "RUNNING", HealthSample{Answered: true, RunningSince: ago(time.Hour)}, HealthHealthy, 0},
		{"backpressure", "RUNNING", HealthSample{Answered: true, Backpressure: "high"}, HealthDegraded, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := AssessHealth(tc.state, tc.s, th, now)
			if h.Status != tc.status || h.Restarts != tc.restarts {
				t.Errorf("got %s with %d restarts (%v), want %s with %d", h.Status, h.Restarts, h.Reasons, tc.status, tc.restarts)
			}
			if (h.Status == HealthDegraded || h.Status == HealthUnhealthy) && len(h.Reasons) == 0 {
				t.Error("no reason given")
			}
		})
	}
}
