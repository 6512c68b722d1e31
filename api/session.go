package api

import (
	"strings"
	"time"
)

// SessionState is the state of a session cluster.
type SessionState string

// Session states. STOPPED, FAILED and LOST are terminal.
const (
	// SessionStarting: YARN has not started the JobManager yet, or its REST API does not answer yet.
	SessionStarting SessionState = "STARTING"
	// SessionRunning: the JobManager's REST API answers; the session takes jobs.
	SessionRunning SessionState = "RUNNING"
	// SessionStopping: the gateway is shutting the session down.
	SessionStopping SessionState = "STOPPING"
	// SessionStopped: the application ended (shut down or killed).
	SessionStopped SessionState = "STOPPED"
	// SessionFailed: the application failed.
	SessionFailed SessionState = "FAILED"
	// SessionLost: YARN no longer knows the application although it had not ended (the ResourceManager
	// lost it, for example a restart without recovery); the record's history says why.
	SessionLost SessionState = "LOST"
)

// SessionStates lists every session state in lifecycle order.
func SessionStates() []SessionState {
	return []SessionState{SessionStarting, SessionRunning, SessionStopping, SessionStopped, SessionFailed, SessionLost}
}

// ParseSessionState parses a session state name, case-insensitively.
func ParseSessionState(s string) (SessionState, bool) {
	for _, st := range SessionStates() {
		if strings.EqualFold(s, string(st)) {
			return st, true
		}
	}
	return "", false
}

// Terminal reports whether the session has ended.
func (s SessionState) Terminal() bool {
	return s == SessionStopped || s == SessionFailed || s == SessionLost
}

// Reached reports whether a session in state s satisfies a wait for target: it is in target, past it, or
// ended.
func (s SessionState) Reached(target SessionState) bool {
	rank := map[SessionState]int{SessionStarting: 0, SessionRunning: 1, SessionStopping: 2}
	return s == target || s.Terminal() || (!target.Terminal() && rank[s] >= rank[target])
}

// Session is the session object of the API.
type Session struct {
	// ID is the session cluster's YARN application id.
	ID string `json:"id"`
	// Name is the session's name from its request.
	Name string `json:"name"`
	// State is the session state.
	State SessionState `json:"state"`
	// YARN is the YARN side of the session.
	YARN JobYARN `json:"yarn"`
	// Links are the session's web addresses.
	Links JobLinks `json:"links"`
	// FlinkVersion is the Flink version the session runs.
	FlinkVersion string `json:"flinkVersion"`
	// Owner is the user the session belongs to (see Job.Owner).
	Owner string `json:"owner"`
	// SubmittedBy is the principal that created the session (see Job.SubmittedBy).
	SubmittedBy string `json:"submittedBy,omitempty"`
	// ACL is who else may see the session, and stop it or submit jobs into it; absent when nobody else may.
	ACL *ACL `json:"acl,omitempty"`
	// Credentials, on a Kerberized cluster, say what the session was launched with (see Job.Credentials).
	Credentials *Credentials `json:"credentials,omitempty"`
	// CreatedAt is when the gateway first saw the session.
	CreatedAt time.Time `json:"createdAt"`
	// UpdatedAt is when the object last changed.
	UpdatedAt time.Time `json:"updatedAt"`
	// History lists the states the session went through, oldest first, never null.
	History []StateChange `json:"history"`
}

// SessionList is the body of GET /v1/sessions.
type SessionList struct {
	// Sessions are the sessions, never null.
	Sessions []Session `json:"sessions"`
}
