package job

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"unicode"

	"github.com/yarngate/yarngate/api"
)

// Errors of sessions, rendered by classify.
var (
	// ErrSessionNotFound: no session with this id (or the application is not a yarngate session).
	ErrSessionNotFound = errors.New("session not found")
	// ErrSessionNotRunning: the session is starting, stopping or ended, so it takes no jobs.
	ErrSessionNotRunning = errors.New("session not running")
)

// normalizeSessionRequest fills defaults, checks what can be checked without the cluster and returns the Flink
// configuration as strings.
func normalizeSessionRequest(r *api.SessionRequest) (map[string]string, error) {
	var e api.SpecError
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		r.Name = "yarngate-session"
	}
	if len(r.Name) > maxJobNameLen || strings.IndexFunc(r.Name, unicode.IsControl) >= 0 {
		e.Add("name", "must be at most %d characters without control characters", maxJobNameLen)
	}
	if r.TaskManager != nil && r.TaskManager.Slots != nil && *r.TaskManager.Slots < 1 {
		e.Add("taskManager.slots", "must be at least 1")
	}
	checkKeytabID(r.KeytabID, &e)
	cfg := flinkConfigStrings(r.FlinkConfig, &e)
	return cfg, e.OrNil()
}

// sessionRequestFingerprint is a short hash of the request (see jobRequestFingerprint).
func sessionRequestFingerprint(r *api.SessionRequest) string {
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
