package api

import (
	"fmt"
	"strings"
)

// Error codes of the API, the code of an error body. They are part of the contract (openapi.yaml): never
// rename one.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidJar           = "invalid_jar"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeRequestTimeout       = "request_timeout"
	CodeTooLarge             = "too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeRequestCanceled      = "request_canceled"
	CodeInternal             = "internal"
	CodeUnavailable          = "unavailable"
	CodeBusy                 = "busy"
	CodeNotReady             = "not_ready"
	CodeUnauthenticated      = "unauthenticated"
	CodeInvalidSpec          = "invalid_spec"
	CodeJarNotFound          = "jar_not_found"
	CodeIdempotencyReused    = "idempotency_key_reused"
	CodeUnknownQueue         = "unknown_queue"
	CodeYARNRejected         = "yarn_rejected"
	CodeSessionNotFound      = "session_not_found"
	CodeSessionNotRunning    = "session_not_running"
	CodeForbidden            = "forbidden"
	CodeJarInUse             = "jar_in_use"
	CodeUploadTooSlow        = "upload_too_slow"
	CodeRateLimited          = "rate_limited"
	CodeUploadSlotsFull      = "upload_slots_full"
	CodeInvalidKeytab        = "invalid_keytab"
	CodeKeytabRejected       = "keytab_rejected"
	CodeKeytabNotFound       = "keytab_not_found"
	CodeKeytabUserMismatch   = "keytab_user_mismatch"
	CodeJobNotRunning        = "job_not_running"
	CodeTriggerIDReused      = "trigger_id_reused"
	CodeUpgradeInProgress    = "upgrade_in_progress"
	CodeClusterNotFound      = "cluster_not_found"
	CodeClusterExists        = "cluster_exists"
	CodeClusterUnreachable   = "cluster_unreachable"
	CodeClusterNotFlink      = "cluster_not_flink"
	CodeClusterNoLeader      = "cluster_no_leader"
	CodeClusterInUse         = "cluster_in_use"
)

// ErrorBody is the JSON body of every error response: {"error": {"code", "message", "requestId", "details"}}.
type ErrorBody struct {
	// Error describes the error.
	Error Error `json:"error"`
}

// Error is the error object of an ErrorBody.
type Error struct {
	// Code is one of the Code constants.
	Code string `json:"code"`
	// Message explains the error to a person; it never carries internals.
	Message string `json:"message"`
	// RequestID is the request's X-Request-Id.
	RequestID string `json:"requestId"`
	// Details lists the problems of an invalid request field by field (invalid_spec), or the reasons of failed
	// readiness checks by check name where they can be told (not_ready).
	Details []FieldProblem `json:"details,omitempty"`
	// RetryAfter is, on an answer a client should retry (rate_limited, upload_slots_full), the seconds to
	// wait first; the Retry-After header says the same.
	RetryAfter int `json:"retryAfter,omitempty"`
}

// FieldProblem is one problem with one request field.
type FieldProblem struct {
	// Field names the field, such as "taskManager.slots" or "body".
	Field string `json:"field"`
	// Reason says what is wrong with it.
	Reason string `json:"reason"`
}

// SpecError lists what is wrong with a request, field by field; the gateway answers it 400 invalid_spec with
// the problems as details, and a client can return it for such an answer.
type SpecError struct {
	// Problems are the problems found, in the order found.
	Problems []FieldProblem
}

func (e *SpecError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Reason
	}
	return strings.Join(parts, "; ")
}

// Add records a problem with field.
func (e *SpecError) Add(field, format string, args ...any) {
	e.Problems = append(e.Problems, FieldProblem{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// OrNil returns e when it holds problems, else nil.
func (e *SpecError) OrNil() error {
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}
