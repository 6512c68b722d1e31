package registry

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Event types a record publishes for notifications (package notify delivers them).
const (
	// EventState: the record changed state (every transition, its first state included).
	EventState = "state"
	// EventHealth: a running job's health status changed.
	EventHealth = "health"
	// EventSavepoint: a savepoint of the job completed or failed. Published by whoever records the
	// savepoint, with Publish, in the same Update that records it (Data: "status", "path", "triggerId").
	EventSavepoint = "savepoint"
	// EventUpgrade: an upgrade reached a step (Data "step", "upgradeId", "mode", "restore"; "reason":
	// "auto-restart" for an automatic restart, whose cause is the event's Reason), published by
	// Record.SetUpgrade.
	EventUpgrade = "upgrade"
)

// EventTypes lists every event type.
func EventTypes() []string { return []string{EventState, EventHealth, EventSavepoint, EventUpgrade} }

// MaxOutbox bounds the undelivered events a record keeps; publishing more drops the oldest (counted in
// Record.OutboxDropped).
const MaxOutbox = 64

// Event is one notification a record published, kept in the record's outbox until every webhook it goes to
// has acknowledged it (or delivery was given up). Writing it in the same record update as the change it
// tells of makes it as durable as the change.
type Event struct {
	// ID identifies the event across redeliveries (receivers de-duplicate on it).
	ID string `json:"id"`
	// Type is one of the Event* constants.
	Type string `json:"type"`
	// At is when the change happened.
	At time.Time `json:"at"`
	// State is the record's state after the change; Previous before it (state events).
	State    string `json:"state,omitempty"`
	Previous string `json:"previous,omitempty"`
	// Reason says why, when known.
	Reason string `json:"reason,omitempty"`
	// Health and PreviousHealth are the health statuses after and before the change (health events).
	Health         string   `json:"health,omitempty"`
	PreviousHealth string   `json:"previousHealth,omitempty"`
	HealthReasons  []string `json:"healthReasons,omitempty"`
	// Data carries type-specific fields (savepoint, upgrade).
	Data map[string]string `json:"data,omitempty"`

	// Attempts counts failed delivery rounds; NextAttempt is when the next one is due (zero: now).
	Attempts    int       `json:"attempts,omitempty"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	// Delivered lists the webhooks (by URL) that acknowledged the event.
	Delivered []string `json:"delivered,omitempty"`
}

// Webhook is a job's own notification target. The secret it is signed with is named, never stored: Secret
// is the name of a secret in the gateway's configuration (notify.secrets).
type Webhook struct {
	URL    string   `json:"url"`
	Events []string `json:"events,omitempty"`
	Secret string   `json:"secret,omitempty"`
}

// Publish appends an event to the record's outbox, giving it an id when it has none and its time when it
// has none; beyond MaxOutbox the oldest events are dropped. Call it inside Registry.Update (or before
// Create), so that the event is stored with the change it tells of.
func (r *Record) Publish(e Event) {
	if e.ID == "" {
		e.ID = newEventID()
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC()
	r.Outbox = append(r.Outbox, e)
	if n := len(r.Outbox) - MaxOutbox; n > 0 {
		r.Outbox = append([]Event(nil), r.Outbox[n:]...)
		r.OutboxDropped += n
	}
}

// newEventID returns 128 random bits in hex.
func newEventID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
