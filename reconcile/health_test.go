package reconcile

import (
	"testing"
	"time"

	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
)

// TestHealthAssessedAtItsInterval: a running job's health is checked at most once per HealthInterval, turns
// unhealthy on restarts in the window (publishing a health event), and is cleared once the job ends.
func TestHealthAssessedAtItsInterval(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, Options{Now: func() time.Time { return now }, HealthInterval: 30 * time.Second,
		HealthThresholds: observe.HealthThresholds{RestartWindow: 10 * time.Minute, MaxRestarts: 2}})
	flinkID, _ := ident.FlinkJobID(appA)
	h.jm.set(flinkID, "RUNNING")
	h.rm.set(h.app(appA, yarnclient.StateRunning, yarnclient.FinalUndefined))
	h.pass(t)
	h.pass(t) // RUNNING is seen on the second pass of an adopted application at the latest
	rec := h.record(t, appA)
	if rec.State != "RUNNING" || rec.Status.Health.Status != observe.HealthHealthy {
		t.Fatalf("state %s health %+v, want RUNNING and healthy", rec.State, rec.Status.Health)
	}
	h.jm.mu.Lock()
	calls := h.jm.exceptionCalls
	h.jm.failures = []int64{now.Add(-time.Minute).UnixMilli(), now.Add(-2 * time.Minute).UnixMilli()}
	h.jm.mu.Unlock()
	h.pass(t)
	h.pass(t)
	h.jm.mu.Lock()
	if h.jm.exceptionCalls != calls {
		t.Errorf("%d health calls within the interval", h.jm.exceptionCalls-calls)
	}
	h.jm.mu.Unlock()
	if rec := h.record(t, appA); rec.Status.Health.Status != observe.HealthHealthy {
		t.Fatalf("health changed before its interval: %+v", rec.Status.Health)
	}
	now = now.Add(31 * time.Second)
	h.pass(t)
	rec = h.record(t, appA)
	if rec.Status.Health.Status != observe.HealthUnhealthy || rec.Status.Health.Restarts != 2 {
		t.Fatalf("health %+v, want unhealthy with 2 restarts", rec.Status.Health)
	}
	var events []string
	for _, e := range rec.Outbox {
		if e.Type == registry.EventHealth {
			events = append(events, e.PreviousHealth+"→"+e.Health)
		}
	}
	if len(events) != 2 || events[1] != "healthy→unhealthy" {
		t.Errorf("health events %v, want →healthy then healthy→unhealthy", events)
	}
	h.rm.set(h.app(appA, yarnclient.StateFinished, yarnclient.FinalSucceeded))
	h.pass(t) // it left the list of applications not ended
	h.pass(t) // the list of those that ended since
	if rec := h.record(t, appA); rec.Status.Health.Status != "" {
		t.Errorf("an ended job keeps health %+v", rec.Status.Health)
	}
}
