package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook call.
const (
	// HeaderEventID carries the event's id (the same on every redelivery).
	HeaderEventID = "X-Yarngate-Event-Id"
	// HeaderEvent carries the event's type.
	HeaderEvent = "X-Yarngate-Event"
	// HeaderTimestamp carries the time of the call in Unix seconds, covered by the signature.
	HeaderTimestamp = "X-Yarngate-Timestamp"
	// HeaderSignature carries "v1=" and the hex HMAC-SHA256 of "<timestamp>.<body>" under the webhook's secret.
	HeaderSignature = "X-Yarngate-Signature"
)

// Sign returns the signature header value of body sent at timestamp (Unix seconds) under secret.
func Sign(secret []byte, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a call's signature and that its timestamp is within tolerance of now: what a receiver
// does (docs/NOTIFICATIONS.md). A comma-separated signature header may carry several values (secret rotation).
func Verify(secret []byte, timestampHeader, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) bool {
	ts, err := strconv.ParseInt(timestampHeader, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	want := Sign(secret, ts, body)
	for _, got := range strings.Split(signatureHeader, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(got)), []byte(want)) {
			return true
		}
	}
	return false
}
