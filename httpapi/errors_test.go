package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/jarfile"
	"github.com/yarngate/yarngate/job"
	"github.com/yarngate/yarngate/throttle"
)

func TestClassify(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"own api error", newAPIError(415, api.CodeUnsupportedMediaType, "m", nil), 415, api.CodeUnsupportedMediaType, "m"},
		{"empty jar", fmt.Errorf("x: %w: %w", hdfs.ErrInvalidJar, jarfile.ErrEmpty), 400, api.CodeInvalidJar, "the request body is empty"},
		{"truncated jar", fmt.Errorf("%w: %w: zip: not a valid zip file", hdfs.ErrInvalidJar, jarfile.ErrNotZip), 400, api.CodeInvalidJar, "the body is not a jar (zip) archive, or it is truncated"},
		{"bad manifest", fmt.Errorf("%w: %w", hdfs.ErrInvalidJar, jarfile.ErrBadManifest), 400, api.CodeInvalidJar, "META-INF/MANIFEST.MF is malformed or its Main-Class is not a class name"},
		{"too large", fmt.Errorf("x: %w", hdfs.ErrTooLarge), 413, api.CodeTooLarge, "the jar is larger than the limit of 1048576 bytes"},
		{"body cap", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 5}), 413, api.CodeTooLarge, ""},
		{"stalled body", fmt.Errorf("stage: %w", &bodyError{err: timeout}), 408, api.CodeRequestTimeout, "the request body stalled"},
		{"upload too slow", fmt.Errorf("stage: %w", &bodyError{err: fmt.Errorf("%w: %w", throttle.ErrTooSlow, timeout)}), 408, api.CodeUploadTooSlow, ""},
		{"upload too long", fmt.Errorf("stage: %w", &bodyError{err: throttle.ErrTooLong}), 408, api.CodeUploadTooSlow, ""},
		{"no upload slot", fmt.Errorf("stage: %w: all 4 taken", hdfs.ErrNoUploadSlot), 503, api.CodeUploadSlotsFull, ""},
		{"broken body", fmt.Errorf("stage: %w", &bodyError{err: io.ErrUnexpectedEOF}), 400, api.CodeInvalidRequest, ""},
		{"client went away", fmt.Errorf("stage: %w", context.Canceled), 499, api.CodeRequestCanceled, ""},
		{"not found", hdfs.ErrNotFound, 404, api.CodeNotFound, ""},
		{"forbidden", fmt.Errorf("%w: bob may not cancel application_1_0001 (owner alice)", job.ErrForbidden), 403, api.CodeForbidden,
			"bob may not cancel application_1_0001 (owner alice)"},
		{"bad id", hdfs.ErrInvalidID, 400, api.CodeInvalidRequest, ""},
		{"busy", hdfs.ErrBusy, 503, api.CodeBusy, ""},
		{"unavailable", fmt.Errorf("%w: dial nn:8020", hdfs.ErrUnavailable), 503, api.CodeUnavailable, "jar storage is unavailable; retry later"},
		{"closed", hdfs.ErrClosed, 503, api.CodeUnavailable, ""},
		{"waited too long", fmt.Errorf("wait: %w", context.DeadlineExceeded), 503, api.CodeUnavailable, ""},
		{"anything else", errors.New("java.lang.IllegalStateException"), 500, api.CodeInternal, "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err, testMaxJarSize)
			if got.status != tc.wantStatus || got.code != tc.wantCode {
				t.Errorf("classify() = %d %s, want %d %s", got.status, got.code, tc.wantStatus, tc.wantCode)
			}
			if tc.wantMsg != "" && got.message != tc.wantMsg {
				t.Errorf("message = %q, want %q", got.message, tc.wantMsg)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("classified error lost its cause")
			}
		})
	}
}

// TestClientFaultAgreesWithClassify checks job.ClientFault, which splits the submission metric into
// rejected and failed, against classify's 4xx and 5xx for every error a service returns.
func TestClientFaultAgreesWithClassify(t *testing.T) {
	for _, err := range []error{
		&api.SpecError{Problems: []api.FieldProblem{{Field: "name", Reason: "x"}}},
		job.ErrForbidden, job.ErrJarInUse, job.ErrJobNotFound, job.ErrSessionNotFound, job.ErrSessionNotRunning, job.ErrJarNotFound,
		job.ErrIdempotencyKeyReused, fmt.Errorf("%w: root.nope", job.ErrUnknownQueue), job.ErrYARNRejected,
		job.ErrYARNUnavailable, job.ErrNoActiveRM, job.ErrYARNUnexpectedResponse,
		fmt.Errorf("upload: %w", &jobmanager.Error{Status: http.StatusRequestEntityTooLarge}),
		&jobmanager.Error{Status: http.StatusInternalServerError},
		job.ErrJobManagerUnavailable, job.ErrJobManagerBadRequest, job.ErrJobManagerNotFound,
		job.ErrJarTooLarge, &http.MaxBytesError{Limit: 1}, job.ErrInvalidJar, job.ErrStagedJarNotFound,
		job.ErrInvalidJarID, job.ErrStagingBusy, job.ErrStorageUnavailable, job.ErrStorageClosed, job.ErrNoUploadSlot,

		job.ErrKeytabsDisabled, job.ErrKeytabNotFound, job.ErrKeytabUserMismatch, job.ErrInvalidKeytab, job.ErrKeytabTooLarge,
		job.ErrKeytabRejected, job.ErrKDCUnavailable, job.ErrStoredKeytabNotFound, job.ErrInvalidKeytabID,
		context.Canceled, context.DeadlineExceeded, errors.New("anything else"),
	} {
		want := classify(err, 0).status < 500
		if got := job.ClientFault(err); got != want {
			t.Errorf("ClientFault(%v) = %v, classify says %d", err, got, classify(err, 0).status)
		}
	}
}

// TestRetryAfterRendered: an error a client should retry later carries Retry-After and retryAfter.
func TestRetryAfterRendered(t *testing.T) {
	s := newTestServer(t)
	s.store.list = func(context.Context) ([]hdfs.Jar, error) { return nil, fmt.Errorf("x: %w", hdfs.ErrNoUploadSlot) }
	rec := s.do(t, http.MethodGet, "/v1/jars", nil, nil)
	e := decodeError(t, rec)
	if rec.Code != 503 || e.Code != api.CodeUploadSlotsFull || rec.Header().Get("Retry-After") != "5" || e.RetryAfter != 5 {
		t.Errorf("answer = %d %q %+v", rec.Code, rec.Header().Get("Retry-After"), e)
	}
}
