// Package ident holds the names yarngate gives to what it launches: job and session ids, the Flink job ids
// it fixes, and the YARN application tags that mark its applications and say what they are, so that the
// gateway finds and describes them again from YARN alone (after a restart, or without a record).
//
// Dependency rule: ident imports the standard library only.
package ident

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Application tags. The ResourceManager lower-cases tags; every value here is lower-case already.
const (
	// TagGateway marks every application yarngate launched.
	TagGateway = "yarngate"
	// TagKindSession marks session clusters; application jobs do not carry it.
	TagKindSession = "yarngate-kind:session"
	// TagHA marks an application launched with the gateway's ZooKeeper HA: its JobManager leader is followed
	// in ZooKeeper.
	TagHA = "yarngate-ha"
	// TagMultipleJobs marks an application whose main() may run several Flink jobs (no fixed job id).
	TagMultipleJobs = "yarngate-jobs:multiple"
	// TagTargetPrefix, followed by the job's target.
	TagTargetPrefix = "yarngate-target:"
	// TagFlinkPrefix, followed by the Flink version.
	TagFlinkPrefix = "yarngate-flink:"
	// TagIdemPrefix, followed by an HMAC of the idempotency key (see IdempotencyTags).
	TagIdemPrefix = "yarngate-idem:"
	// TagSpecPrefix, followed by the fingerprint of the request.
	TagSpecPrefix = "yarngate-spec:"
	// TagHomePrefix, followed by a hash of the installation's staging root (see HomeTag).
	TagHomePrefix = "yarngate-home:"
)

// HomeTag marks the applications of one gateway installation (its staging root, as a URI), so that
// installations sharing a YARN cluster reconcile only their own.
func HomeTag(stagingRootURI string) string {
	sum := sha256.Sum256([]byte(stagingRootURI))
	return TagHomePrefix + hex.EncodeToString(sum[:8])
}

// IdempotencyTags returns the tags that record an idempotency key and the request it came with; kind keeps
// the keys of jobs and sessions apart ("" for jobs). The key's tag is an HMAC-SHA256 of the key under the
// gateway's secret (shared by the instances of one installation), so that nobody who can guess a key, or
// read the tags in YARN, can make or name the tag of another caller's key.
func IdempotencyTags(secret []byte, kind, key, fingerprint string) (idem, spec string) {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(kind + "\x00" + key))
	return TagIdemPrefix + hex.EncodeToString(mac.Sum(nil)[:20]), TagSpecPrefix + fingerprint
}

// TagValue returns the value of the first tag with prefix among tags, or "".
func TagValue(tags []string, prefix string) string {
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t, prefix); ok {
			return v
		}
	}
	return ""
}

// FlinkJobID derives the Flink job id the gateway fixes for an application-mode job from its YARN
// application id: the cluster timestamp and the sequence number as two 16-digit hex halves, unique per
// ResourceManager cluster and known before the cluster starts.
func FlinkJobID(appID string) (string, error) {
	parts := strings.Split(appID, "_")
	if len(parts) != 3 || parts[0] != "application" {
		return "", fmt.Errorf("%q is not an application id", appID)
	}
	ts, err1 := strconv.ParseUint(parts[1], 10, 64)
	seq, err2 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("%q is not an application id", appID)
	}
	return fmt.Sprintf("%016x%016x", ts, seq), nil
}

// ValidApplicationID reports whether s has the form application_<cluster timestamp>_<sequence>.
func ValidApplicationID(s string) bool {
	_, err := FlinkJobID(s)
	return err == nil
}

// A session job's id is "<session application id>.<Flink job id>", such as
// application_1763700000000_0042.0123456789abcdef0123456789abcdef: it names the session and the job, so the
// gateway finds both from the id alone, and it never parses as an application id.

// SessionJobID joins a session id and a Flink job id.
func SessionJobID(sessionID, flinkJobID string) string { return sessionID + "." + flinkJobID }

// ParseSessionJobID splits a session job id; ok is false for anything else (application job ids too).
func ParseSessionJobID(id string) (sessionID, flinkJobID string, ok bool) {
	sessionID, flinkJobID, found := strings.Cut(id, ".")
	if !found || !ValidApplicationID(sessionID) || !ValidFlinkJobID(flinkJobID) {
		return "", "", false
	}
	return sessionID, flinkJobID, true
}

// ValidFlinkJobID reports whether s is 32 lower-case hex digits.
func ValidFlinkJobID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ValidJobID reports whether id has the form of a job id: an application id (application jobs), a
// session job id or a cluster job id.
func ValidJobID(id string) bool {
	_, _, ok := ParseSessionJobID(id)
	_, _, cok := ParseClusterJobID(id)
	return ok || cok || ValidApplicationID(id)
}

// A registered cluster's id is 1 to 63 lower-case letters, digits and hyphens, starting with a letter or a
// digit (never an application id, which has underscores). A job in it has the id "<cluster id>.<Flink job id>".

// ValidClusterID reports whether s has the form of a registered cluster's id.
func ValidClusterID(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// ClusterJobID joins a registered cluster's id and a Flink job id.
func ClusterJobID(clusterID, flinkJobID string) string { return clusterID + "." + flinkJobID }

// ParseClusterJobID splits a cluster job id; ok is false for anything else.
func ParseClusterJobID(id string) (clusterID, flinkJobID string, ok bool) {
	clusterID, flinkJobID, found := strings.Cut(id, ".")
	if !found || !ValidClusterID(clusterID) || !ValidFlinkJobID(flinkJobID) {
		return "", "", false
	}
	return clusterID, flinkJobID, true
}
