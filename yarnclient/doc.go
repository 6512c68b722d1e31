// Package yarnclient is a client for the Hadoop YARN ResourceManager REST API (/ws/v1/cluster): cluster
// info, new-application, submit, application reports and lists, attempts and kill.
//
// It speaks only HTTP to the ResourceManager. It knows nothing of yarngate's HTTP handlers, of HDFS or
// of ZooKeeper: callers stage files elsewhere and pass their coordinates in a SubmissionContext, and a
// ZooKeeper leader watcher may report the active ResourceManager through Client.SetActive.
//
// # Errors
//
// Every method wraps its failures with an operation phrase. A ResourceManager answer with an error
// status is an *RMError, which unwraps to a sentinel for its class (ErrNotFound, ErrBadRequest,
// ErrUnauthorized, ErrForbidden, ErrUnavailable). ErrNoActiveRM means no ResourceManager admitted to
// being active within Options.FailoverTimeout. Java stack traces are never carried in errors.
//
// # Retries
//
// Calls are retried at most Options.Retry.MaxAttempts times with exponential backoff, and only for
// transient failures: connection errors and timeouts, 5xx, 429, and a standby answer (307 without
// Location, or a non-JSON 200 from a standby). Other 4xx answers are never retried.
// Submit is not idempotent at the HTTP level, but it is safe to repeat for one application id: the
// ResourceManager's ClientRMService.submitApplication returns success when the id is already known
// (Hadoop 3.4 "Check whether app has already been put into rmContext"). Before each retry of an
// ambiguous Submit failure the client also asks for the application report, and a present application
// counts as success. A new-application that is retried may leave an unused application id behind;
// that costs nothing on the ResourceManager.
//
// # ResourceManager HA
//
// With several ResourceManagers (yarn.resourcemanager.ha.rm-ids) the client keeps the active one
// cached. A standby answers most calls with 307 and a Location pointing at the active one; the client
// follows it itself, re-sending method and body, and moves its cache there. A 307 without Location, a
// connection error or a standby's plain-text answer makes it probe every ResourceManager's
// /ws/v1/cluster/info (which a standby never redirects) and pick the one whose haState is ACTIVE.
package yarnclient
