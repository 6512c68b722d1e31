package yarnclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors. An *RMError unwraps to the one matching its status class.
var (
	// ErrNotFound is a 404: unknown or evicted application, or an IOException on the ResourceManager.
	ErrNotFound = errors.New("yarn: not found")
	// ErrBadRequest is a 400: the ResourceManager rejected the request (bad id, too many resources,
	// unknown target state, unparsable body).
	ErrBadRequest = errors.New("yarn: bad request")
	// ErrUnauthorized is a 401: the caller is not authenticated.
	ErrUnauthorized = errors.New("yarn: unauthorized")
	// ErrForbidden is a 403: the caller may not do this, or REST submission is disabled.
	ErrForbidden = errors.New("yarn: forbidden")
	// ErrUnavailable is a 5xx or 429 that outlasted the retries.
	ErrUnavailable = errors.New("yarn: resourcemanager unavailable")
	// ErrNoActiveRM means no ResourceManager reported itself active in time.
	ErrNoActiveRM = errors.New("yarn: no active resourcemanager")
	// ErrUnexpectedResponse is an answer the client cannot read: wrong content type or bad JSON.
	ErrUnexpectedResponse = errors.New("yarn: unexpected response")
	// ErrAnswerTooLarge is an answer larger than Options.MaxAnswer (a list that should be filtered more
	// narrowly); it wraps ErrUnexpectedResponse and is not retried.
	ErrAnswerTooLarge = fmt.Errorf("%w: answer too large", ErrUnexpectedResponse)
)

// RMError is a ResourceManager answer with an error status. Exception, Message and JavaClassName
// come from Hadoop's RemoteException JSON ({"RemoteException":{...}}) when the body carries one;
// a plain-text body becomes Message. Stack traces are cut off.
type RMError struct {
	// Status is the HTTP status code.
	Status int
	// Exception is the short Java exception name, such as "NotFoundException".
	Exception string
	// Message is the exception message, without any stack trace.
	Message string
	// JavaClassName is the fully qualified exception class.
	JavaClassName string
}

// Error describes the status and the ResourceManager's message.
func (e *RMError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "resourcemanager answered %d", e.Status)
	if e.Exception != "" {
		b.WriteString(" " + e.Exception)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap returns the sentinel for the status class, or nil.
func (e *RMError) Unwrap() error {
	switch {
	case e.Status == http.StatusNotFound:
		return ErrNotFound
	case e.Status == http.StatusBadRequest:
		return ErrBadRequest
	case e.Status == http.StatusUnauthorized:
		return ErrUnauthorized
	case e.Status == http.StatusForbidden:
		return ErrForbidden
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return ErrUnavailable
	}
	return nil
}

// maxMessageLen caps what an RMError keeps of a ResourceManager message.
const maxMessageLen = 1024

// parseRMError builds the RMError for an error answer.
func parseRMError(status int, contentType string, body []byte) *RMError {
	e := &RMError{Status: status}
	if isJSON(contentType) {
		var env struct {
			RemoteException struct {
				Exception     string `json:"exception"`
				Message       string `json:"message"`
				JavaClassName string `json:"javaClassName"`
			} `json:"RemoteException"`
		}
		if json.Unmarshal(body, &env) == nil && env.RemoteException.Exception+env.RemoteException.Message != "" {
			e.Exception = env.RemoteException.Exception
			e.Message = cleanMessage(env.RemoteException.Message)
			e.JavaClassName = env.RemoteException.JavaClassName
			return e
		}
	}
	if strings.HasPrefix(strings.ToLower(contentType), "text/plain") || contentType == "" {
		e.Message = cleanMessage(string(body))
	}
	return e
}

// cleanMessage drops Java stack frames ("\tat ..." lines and what follows), trims and caps the text.
func cleanMessage(s string) string {
	lines := strings.Split(s, "\n")
	kept := lines[:0]
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "at ") || strings.HasPrefix(t, "... ") || strings.HasPrefix(t, "Caused by:") {
			break
		}
		kept = append(kept, strings.TrimRight(l, "\r"))
	}
	out := strings.TrimSpace(strings.Join(kept, "\n"))
	if len(out) > maxMessageLen {
		out = out[:maxMessageLen] + "…"
	}
	return out
}

// isJSON reports whether a Content-Type header names JSON.
func isJSON(contentType string) bool {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}
