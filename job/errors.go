package job

import (
	"context"
	"errors"
	"net/http"

	"github.com/yarngate/yarngate/api"

	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/keytab"
	"github.com/yarngate/yarngate/yarnclient"
)

// Errors of the clients the services call, exported under the service's names so that the HTTP layer
// (httpapi) classifies them without importing a cluster client. Each is the client's own sentinel value:
// errors.Is matches what the services return, wrapped or not.
var (
	// ErrYARNUnavailable: no ResourceManager answered (yarnclient.ErrUnavailable).
	ErrYARNUnavailable = yarnclient.ErrUnavailable
	// ErrNoActiveRM: no ResourceManager is active (yarnclient.ErrNoActiveRM).
	ErrNoActiveRM = yarnclient.ErrNoActiveRM
	// ErrYARNUnexpectedResponse: a ResourceManager answered something the client does not understand
	// (yarnclient.ErrUnexpectedResponse).
	ErrYARNUnexpectedResponse = yarnclient.ErrUnexpectedResponse
	// ErrJobManagerUnavailable: a session's JobManager did not answer (jobmanager.ErrUnavailable).
	ErrJobManagerUnavailable = jobmanager.ErrUnavailable
	// ErrJobManagerBadRequest: a session's JobManager refused a request (jobmanager.ErrBadRequest).
	ErrJobManagerBadRequest = jobmanager.ErrBadRequest
	// ErrJobManagerNotFound: a session's JobManager does not know what was asked for (jobmanager.ErrNotFound).
	ErrJobManagerNotFound = jobmanager.ErrNotFound
	// ErrStagedJarNotFound: no staged jar has this id (hdfs.ErrNotFound).
	ErrStagedJarNotFound = hdfs.ErrNotFound
	// ErrInvalidJarID: a jar id is not 64 lower-case hex digits (hdfs.ErrInvalidID).
	ErrInvalidJarID = hdfs.ErrInvalidID
	// ErrJarTooLarge: a jar is larger than the limit (hdfs.ErrTooLarge).
	ErrJarTooLarge = hdfs.ErrTooLarge
	// ErrInvalidJar: a jar is not a valid jar; the jarfile reason is wrapped (hdfs.ErrInvalidJar).
	ErrInvalidJar = hdfs.ErrInvalidJar
	// ErrStagingBusy: another upload is committing the same jar (hdfs.ErrBusy).
	ErrStagingBusy = hdfs.ErrBusy
	// ErrStorageUnavailable: HDFS did not answer (hdfs.ErrUnavailable).
	ErrStorageUnavailable = hdfs.ErrUnavailable
	// ErrStorageClosed: the jar store is closed (hdfs.ErrClosed).
	ErrStorageClosed = hdfs.ErrClosed
	// ErrNoUploadSlot: every upload slot stayed taken while the upload waited for one (hdfs.ErrNoUploadSlot).
	ErrNoUploadSlot = hdfs.ErrNoUploadSlot
	// ErrInvalidKeytab: an upload is not a keytab or holds no key of its principal; a client-safe detail
	// follows the sentinel's text (keytab.ErrInvalid).
	ErrInvalidKeytab = keytab.ErrInvalid
	// ErrKeytabTooLarge: an uploaded keytab is larger than keytab.MaxSize (keytab.ErrTooLarge).
	ErrKeytabTooLarge = keytab.ErrTooLarge
	// ErrKeytabRejected: the KDC refused a login with an uploaded keytab's keys (keytab.ErrRejected).
	ErrKeytabRejected = keytab.ErrRejected
	// ErrKDCUnavailable: no KDC answered to try an uploaded keytab (keytab.ErrVerifyUnavailable).
	ErrKDCUnavailable = keytab.ErrVerifyUnavailable
	// ErrStoredKeytabNotFound: no stored keytab has this id (keytab.ErrNotFound).
	ErrStoredKeytabNotFound = keytab.ErrNotFound
	// ErrInvalidKeytabID: a keytab id is not 32 lower-case hex digits (keytab.ErrInvalidID).
	ErrInvalidKeytabID = keytab.ErrInvalidID
)

// RMMessage returns the ResourceManager's own message when err carries its error answer
// (yarnclient.RMError), else "".
func RMMessage(err error) string {
	var rmErr *yarnclient.RMError
	if errors.As(err, &rmErr) {
		return rmErr.Message
	}
	return ""
}

// JobManagerStatus returns the HTTP status of a JobManager's error answer when err carries one
// (jobmanager.Error), else 0.
func JobManagerStatus(err error) int {
	var jmErr *jobmanager.Error
	if errors.As(err, &jmErr) {
		return jmErr.Status
	}
	return 0
}

// ClientFault reports whether err, returned by a service, is the client's doing (the HTTP layer answers
// it with a 4xx status) rather than the gateway's or the cluster's (5xx). It follows the order and the
// 4xx rows of httpapi's classify, which a test there checks.
func ClientFault(err error) bool {
	var (
		spec     *api.SpecError
		tooLarge *http.MaxBytesError
	)
	switch {
	case errors.As(err, &spec), errors.Is(err, ErrForbidden), errors.Is(err, ErrJarInUse), errors.Is(err, ErrJobNotFound), errors.Is(err, ErrSessionNotFound),
		errors.Is(err, ErrSessionNotRunning), errors.Is(err, ErrJarNotFound), errors.Is(err, ErrIdempotencyKeyReused),
		errors.Is(err, ErrUnknownQueue), errors.Is(err, ErrYARNRejected), errors.Is(err, ErrLogNotFound), errors.Is(err, ErrInvalidLogRange):
		return true
	case errors.Is(err, ErrKeytabsDisabled), errors.Is(err, ErrKeytabNotFound), errors.Is(err, ErrKeytabUserMismatch),
		errors.Is(err, ErrInvalidKeytab), errors.Is(err, ErrKeytabTooLarge), errors.Is(err, ErrKeytabRejected),
		errors.Is(err, ErrStoredKeytabNotFound), errors.Is(err, ErrInvalidKeytabID):
		return true
	case errors.Is(err, ErrKDCUnavailable):
		return false
	case errors.Is(err, ErrYARNUnavailable), errors.Is(err, ErrNoActiveRM), errors.Is(err, ErrYARNUnexpectedResponse):
		return false
	case JobManagerStatus(err) == http.StatusRequestEntityTooLarge:
		return true
	case errors.Is(err, ErrJobManagerUnavailable), errors.Is(err, ErrJobManagerBadRequest), errors.Is(err, ErrJobManagerNotFound):
		return false
	case errors.Is(err, ErrJarTooLarge), errors.As(err, &tooLarge), errors.Is(err, ErrInvalidJar),
		errors.Is(err, ErrStagedJarNotFound), errors.Is(err, ErrInvalidJarID), errors.Is(err, context.Canceled):
		return true
	}
	return false
}
