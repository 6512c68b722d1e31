package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/jarfile"
	"github.com/yarngate/yarngate/job"
	"github.com/yarngate/yarngate/throttle"
)

// statusClientClosedRequest is the (nginx) status logged when the client went away before the answer.
const statusClientClosedRequest = 499

// apiError is an error with its HTTP rendering: a status, a stable code and a message that is safe to show
// to clients. The cause, if any, is only logged.
type apiError struct {
	status  int
	code    string
	message string
	details []api.FieldProblem
	// retryAfter, when positive, is sent as Retry-After (whole seconds) and as the body's retryAfter.
	retryAfter time.Duration
	cause      error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.message + ": " + e.cause.Error()
	}
	return e.message
}

func (e *apiError) Unwrap() error { return e.cause }

// newAPIError returns an apiError; handlers use it for request problems they detect themselves.
func newAPIError(status int, code, message string, cause error) *apiError {
	return &apiError{status: status, code: code, message: message, cause: cause}
}

// uploadSlotRetryAfter is the wait suggested to an upload refused for want of a free slot.
const uploadSlotRetryAfter = 5 * time.Second

// bodyError marks a failure to read the request body: the client's doing, not the server's.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "read request body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// invalidJarMessages gives the client-safe explanation of each jarfile reason.
var invalidJarMessages = []struct {
	err error
	msg string
}{
	{jarfile.ErrEmpty, "the request body is empty"},
	{jarfile.ErrNotZip, "the body is not a jar (zip) archive, or it is truncated"},
	{jarfile.ErrNoEntries, "the jar has no entries"},
	{jarfile.ErrTooManyEntries, fmt.Sprintf("the jar has more than %d entries", jarfile.MaxEntries)},
	{jarfile.ErrManifestTooLarge, fmt.Sprintf("META-INF/MANIFEST.MF is larger than %d bytes", jarfile.MaxManifestSize)},
	{jarfile.ErrBadManifest, "META-INF/MANIFEST.MF is malformed or its Main-Class is not a class name"},
}

// classify maps any error to its HTTP rendering. It is the only place that knows which error means which
// status; everything else returns errors.
func classify(err error, maxJarSize int64) *apiError {
	var (
		ae       *apiError
		tooLarge *http.MaxBytesError
		body     *bodyError
		netErr   net.Error
	)
	var spec *api.SpecError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, authn.ErrUnauthenticated):
		return newAPIError(http.StatusUnauthorized, api.CodeUnauthenticated,
			"authentication required: valid credentials for one of the methods in WWW-Authenticate (Negotiate: Kerberos SPNEGO; Bearer: a token)", err)
	case errors.Is(err, authn.ErrUnavailable):
		return newAPIError(http.StatusServiceUnavailable, api.CodeUnavailable, "credentials cannot be checked now; retry later", err)
	case errors.As(err, &spec):
		e := newAPIError(http.StatusBadRequest, api.CodeInvalidSpec, "the job request is invalid: "+spec.Error(), err)
		e.details = spec.Problems
		return e
	case errors.Is(err, job.ErrJarInUse):
		return newAPIError(http.StatusConflict, api.CodeJarInUse, "the jar is in use: "+unwrapMessage(err, job.ErrJarInUse), err)
	case errors.Is(err, job.ErrForbidden):
		return newAPIError(http.StatusForbidden, api.CodeForbidden, unwrapMessage(err, job.ErrForbidden), err)
	case errors.Is(err, job.ErrInvalidCursor):
		return newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "cursor is not a nextCursor of this list; start again without it", err)
	case errors.Is(err, job.ErrJobNotFound):
		return newAPIError(http.StatusNotFound, api.CodeNotFound, "no job with this id", err)
	case errors.Is(err, job.ErrLogNotFound):
		return newAPIError(http.StatusNotFound, api.CodeNotFound, "no such container or log file", err)
	case errors.Is(err, job.ErrInvalidLogRange):
		return newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, unwrapMessage(err, job.ErrInvalidLogRange), err)
	case errors.Is(err, job.ErrClustersDisabled):
		return newAPIError(http.StatusServiceUnavailable, api.CodeUnavailable, "registered clusters are not configured on this gateway", err)
	case errors.Is(err, job.ErrClusterNotFound):
		return newAPIError(http.StatusNotFound, api.CodeClusterNotFound, "no registered cluster with this id (POST /v1/clusters)", err)
	case errors.Is(err, job.ErrClusterExists):
		return newAPIError(http.StatusConflict, api.CodeClusterExists, "another cluster is registered under this id", err)
	case errors.Is(err, job.ErrClusterInUse):
		return newAPIError(http.StatusConflict, api.CodeClusterInUse, "the cluster runs jobs submitted through the gateway: "+unwrapMessage(err, job.ErrClusterInUse), err)
	case errors.Is(err, job.ErrClusterUnsupported):
		return newAPIError(http.StatusBadRequest, api.CodeInvalidSpec, "the gateway cannot follow this cluster: "+unwrapMessage(err, job.ErrClusterUnsupported), err)
	case errors.Is(err, job.ErrClusterNotFlink):
		return newAPIError(http.StatusUnprocessableEntity, api.CodeClusterNotFlink, "the endpoint does not answer as a Flink JobManager (GET /config with a flink-version)", err)
	case errors.Is(err, job.ErrClusterNoLeader):
		return newAPIError(http.StatusUnprocessableEntity, api.CodeClusterNoLeader, "ZooKeeper names no JobManager leader for this cluster id under this path root (check zookeeper.clusterId and zookeeper.root)", err)
	case errors.Is(err, job.ErrClusterNotRunning):
		return newAPIError(http.StatusUnprocessableEntity, api.CodeClusterUnreachable, "the YARN application does not run: "+unwrapMessage(err, job.ErrClusterNotRunning), err)
	case errors.Is(err, job.ErrClusterUnreachable):
		return newAPIError(http.StatusUnprocessableEntity, api.CodeClusterUnreachable, "no JobManager of the cluster answers", err)
	case errors.Is(err, job.ErrSessionNotFound):
		return newAPIError(http.StatusNotFound, api.CodeSessionNotFound, "no session with this id", err)
	case errors.Is(err, job.ErrSessionNotRunning):
		return newAPIError(http.StatusConflict, api.CodeSessionNotRunning,
			"the session is not running (starting, stopping or ended); it takes no jobs now", err)
	case errors.Is(err, job.ErrJobNotRunning):
		return newAPIError(http.StatusConflict, api.CodeJobNotRunning,
			"the job has no running Flink job to take a savepoint of (not running yet, ended, or several jobs)", err)
	case errors.Is(err, job.ErrUpgradeInProgress):
		return newAPIError(http.StatusConflict, api.CodeUpgradeInProgress,
			"the job is being upgraded; wait until its upgrade has ended (GET the job: upgrade.step)", err)
	case errors.Is(err, job.ErrTriggerIDReused):
		return newAPIError(http.StatusUnprocessableEntity, api.CodeTriggerIDReused,
			"this savepoint trigger id was used with different parameters", err)
	case errors.Is(err, job.ErrJarNotFound):
		return newAPIError(http.StatusNotFound, api.CodeJarNotFound, "the job's jar is not staged (upload it with POST /v1/jars)", err)
	case errors.Is(err, job.ErrIdempotencyKeyReused):
		return newAPIError(http.StatusUnprocessableEntity, api.CodeIdempotencyReused,
			"this Idempotency-Key was used for a different request", err)
	case errors.Is(err, job.ErrUnknownQueue):
		return newAPIError(http.StatusUnprocessableEntity, api.CodeUnknownQueue, unwrapMessage(err, job.ErrUnknownQueue), err)
	case errors.Is(err, job.ErrYARNRejected):
		msg := "YARN rejected the application"
		if m := job.RMMessage(err); m != "" {
			msg += ": " + m
		}
		return newAPIError(http.StatusUnprocessableEntity, api.CodeYARNRejected, msg, err)
	case errors.Is(err, job.ErrYARNUnavailable), errors.Is(err, job.ErrNoActiveRM),
		errors.Is(err, job.ErrYARNUnexpectedResponse):
		return newAPIError(http.StatusServiceUnavailable, api.CodeUnavailable, "YARN is unavailable; retry later", err)
	case job.JobManagerStatus(err) == http.StatusRequestEntityTooLarge:
		return newAPIError(http.StatusRequestEntityTooLarge, api.CodeTooLarge,
			"the jar is larger than the session's JobManager accepts (its rest.server.max-content-length)", err)
	case errors.Is(err, job.ErrJobManagerUnavailable), errors.Is(err, job.ErrJobManagerBadRequest), errors.Is(err, job.ErrJobManagerNotFound):
		return newAPIError(http.StatusServiceUnavailable, api.CodeUnavailable, "the session's JobManager did not answer as expected; retry later", err)
	case errors.Is(err, job.ErrKeytabsDisabled):
		return newAPIError(http.StatusNotFound, api.CodeNotFound, "the cluster does not use Kerberos: the gateway keeps no keytabs", err)
	case errors.Is(err, job.ErrKeytabNotFound):
		return newAPIError(http.StatusNotFound, api.CodeKeytabNotFound, "the keytab named by keytabId is not stored, or not yours (upload it with POST /v1/keytabs)", err)
	case errors.Is(err, job.ErrKeytabUserMismatch):
		return newAPIError(http.StatusUnprocessableEntity, api.CodeKeytabUserMismatch,
			"the keytab's principal is not the user the cluster runs as (the gateway's user, by its auth_to_local rules): use a keytab of that user", err)
	case errors.Is(err, job.ErrKeytabTooLarge):
		return newAPIError(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "the keytab is larger than the limit of 64 KiB", err)
	case errors.Is(err, job.ErrInvalidKeytab):
		return newAPIError(http.StatusBadRequest, api.CodeInvalidKeytab, "the keytab is unusable: "+unwrapMessage(err, job.ErrInvalidKeytab), err)
	case errors.Is(err, job.ErrKeytabRejected):
		msg := "the KDC refused a login with the keytab's keys"
		var pr publicReason
		if errors.As(err, &pr) {
			msg += ": " + pr.PublicReason()
		}
		return newAPIError(http.StatusUnprocessableEntity, api.CodeKeytabRejected, msg, err)
	case errors.Is(err, job.ErrKDCUnavailable):
		return newAPIError(http.StatusServiceUnavailable, api.CodeUnavailable, "no KDC answered to try the keytab; retry later", err)
	case errors.Is(err, job.ErrStoredKeytabNotFound):
		return newAPIError(http.StatusNotFound, api.CodeNotFound, "no keytab with this id", err)
	case errors.Is(err, job.ErrInvalidKeytabID):
		return newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "a keytab id is 32 lower-case hex digits", err)
	case errors.Is(err, job.ErrJarTooLarge), errors.As(err, &tooLarge):
		return newAPIError(http.StatusRequestEntityTooLarge, api.CodeTooLarge,
			fmt.Sprintf("the jar is larger than the limit of %d bytes", maxJarSize), err)
	case errors.Is(err, job.ErrInvalidJar):
		msg := "the body is not a valid jar"
		for _, m := range invalidJarMessages {
			if errors.Is(err, m.err) {
				msg = m.msg
				break
			}
		}
		return newAPIError(http.StatusBadRequest, api.CodeInvalidJar, msg, err)
	case errors.Is(err, job.ErrStagedJarNotFound):
		return newAPIError(http.StatusNotFound, api.CodeNotFound, "no jar with this id", err)
	case errors.Is(err, job.ErrInvalidJarID):
		return newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "a jar id is 64 lower-case hex digits", err)
	case errors.As(err, &body) && errors.Is(err, throttle.ErrTooSlow):
		return newAPIError(http.StatusRequestTimeout, api.CodeUploadTooSlow, "the upload arrived more slowly than the gateway's minimum rate", err)
	case errors.As(err, &body) && errors.Is(err, throttle.ErrTooLong):
		return newAPIError(http.StatusRequestTimeout, api.CodeUploadTooSlow, "the upload took longer than the gateway allows", err)
	case errors.As(err, &body) && errors.As(err, &netErr) && netErr.Timeout():
		return newAPIError(http.StatusRequestTimeout, api.CodeRequestTimeout, "the request body stalled", err)
	case errors.Is(err, context.Canceled):
		return newAPIError(statusClientClosedRequest, api.CodeRequestCanceled, "the request was canceled", err)
	case errors.As(err, &body):
		return newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "the request body could not be read completely", err)
	case errors.Is(err, job.ErrNoUploadSlot):
		e := newAPIError(http.StatusServiceUnavailable, api.CodeUploadSlotsFull, "every upload slot is taken; retry after the time given", err)
		e.retryAfter = uploadSlotRetryAfter
		return e
	case errors.Is(err, job.ErrStagingBusy):
		return newAPIError(http.StatusServiceUnavailable, api.CodeBusy, "the same jar is being staged by another request; retry", err)
	case errors.Is(err, job.ErrStorageUnavailable), errors.Is(err, job.ErrStorageClosed), errors.Is(err, context.DeadlineExceeded):
		return newAPIError(http.StatusServiceUnavailable, api.CodeUnavailable, "jar storage is unavailable; retry later", err)
	default:
		return newAPIError(http.StatusInternalServerError, api.CodeInternal, "internal error", err)
	}
}

// Classify returns the HTTP status and the error (code and client-safe message) the API answers err with:
// the one mapping of errors, for the dashboard's pages.
func Classify(err error) (int, api.Error) {
	ae := classify(err, 0)
	return ae.status, api.Error{Code: ae.code, Message: ae.message, Details: ae.details}
}

// ctxKeyErrorCode is the gin context key under which renderError leaves the code for the access log.
const ctxKeyErrorCode = "yarngate.errorCode"

// renderError logs err with its cause (debug for 4xx, error for 5xx) and writes the error response.
func (s *server) renderError(c *gin.Context, err error) {
	ae := classify(err, s.opts.MaxJarSize)
	rid := job.RequestID(c.Request.Context())
	level := slog.LevelDebug
	if ae.status >= 500 {
		level = slog.LevelError
	}
	s.opts.Logger.Log(c.Request.Context(), level, "request failed",
		"requestId", rid, "method", c.Request.Method, "route", routeOf(c),
		"status", ae.status, "code", ae.code, "error", err.Error())
	c.Set(ctxKeyErrorCode, ae.code)
	if c.Writer.Written() {
		c.Abort() // too late for a body; the access log still tells
		return
	}
	body := api.Error{Code: ae.code, Message: ae.message, RequestID: rid, Details: ae.details}
	if ae.retryAfter > 0 {
		body.RetryAfter = int(math.Ceil(ae.retryAfter.Seconds()))
		c.Header("Retry-After", strconv.Itoa(body.RetryAfter))
	}
	c.AbortWithStatusJSON(ae.status, api.ErrorBody{Error: body})
}

// handlerFunc is a gin handler that returns its error instead of rendering it.
type handlerFunc func(c *gin.Context) error

// handle adapts a handlerFunc to gin, sending its error to renderError.
func (s *server) handle(h handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.renderError(c, err)
		}
	}
}

// unwrapMessage returns err's message without the sentinel's own text, for errors built as
// fmt.Errorf("%w: detail", sentinel) whose detail is client-safe.
func unwrapMessage(err, sentinel error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, sentinel.Error()+": "); i >= 0 {
		return msg[i+len(sentinel.Error())+2:]
	}
	return sentinel.Error()
}
