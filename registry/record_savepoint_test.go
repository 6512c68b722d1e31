package registry

import (
	"testing"
	"time"

	"github.com/yarngate/yarngate/observe"
)

func TestSetSavepointPublishes(t *testing.T) {
	var r Record
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	sp := observe.Savepoint{TriggerID: "t1", State: observe.SavepointInProgress}
	if !r.SetSavepoint(sp) || len(r.Outbox) != 0 {
		t.Fatalf("a savepoint in progress: %d events", len(r.Outbox))
	}
	if r.SetSavepoint(sp) {
		t.Error("an unchanged savepoint was a change")
	}
	sp.State, sp.Path, sp.CompletedAt = observe.SavepointCompleted, "hdfs:///sp/savepoint-1", at
	if !r.SetSavepoint(sp) || len(r.Outbox) != 1 {
		t.Fatalf("completed: %d events", len(r.Outbox))
	}
	e := r.Outbox[0]
	if e.Type != EventSavepoint || !e.At.Equal(at) || e.Data["status"] != "COMPLETED" || e.Data["path"] != sp.Path || e.Data["triggerId"] != "t1" || e.ID == "" {
		t.Errorf("event %+v", e)
	}
	sp.State, sp.DisposedAt = observe.SavepointDisposed, at
	if !r.SetSavepoint(sp) || len(r.Outbox) != 1 {
		t.Errorf("disposal published an event: %d", len(r.Outbox))
	}
	if !r.SetSavepoint(observe.Savepoint{TriggerID: "t2", State: observe.SavepointFailed, Failure: "refused"}) || len(r.Outbox) != 2 ||
		r.Outbox[1].Data["status"] != "FAILED" || r.Outbox[1].Data["failure"] != "refused" {
		t.Errorf("a failed savepoint: %+v", r.Outbox)
	}
}
