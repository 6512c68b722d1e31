package registry

import (
	"slices"
	"testing"
	"time"

	"github.com/yarngate/yarngate/observe"
)

// TestPublishOnTransitions: every state change publishes a state event, a health change a health event after
// it, an unchanged status nothing; the outbox is bounded.
func TestPublishOnTransitions(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var r Record
	r.Kind = KindJob
	r.SetStatus(observe.Status{Schema: 1, State: "SUBMITTED", Since: at}, "")
	r.SetStatus(observe.Status{Schema: 1, State: "RUNNING", Since: at, Health: observe.Health{Status: "healthy", CheckedAt: at}}, "")
	r.SetStatus(observe.Status{Schema: 1, State: "RUNNING", Since: at, Health: observe.Health{Status: "healthy", CheckedAt: at}}, "")
	var got []string
	for _, e := range r.Outbox {
		got = append(got, e.Type+":"+e.Previous+e.PreviousHealth+">"+e.State+e.Health)
	}
	want := []string{"state:>SUBMITTED", "state:SUBMITTED>RUNNING", "health:>RUNNINGhealthy"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	ids := map[string]bool{}
	for _, e := range r.Outbox {
		if e.ID == "" || ids[e.ID] {
			t.Fatalf("event id %q empty or repeated", e.ID)
		}
		ids[e.ID] = true
	}
	for range MaxOutbox {
		r.Publish(Event{Type: EventSavepoint})
	}
	if len(r.Outbox) != MaxOutbox || r.OutboxDropped != 3 || r.Outbox[0].Type != EventSavepoint {
		t.Errorf("outbox %d events, %d dropped; want %d and 3, the oldest dropped", len(r.Outbox), r.OutboxDropped, MaxOutbox)
	}
}
