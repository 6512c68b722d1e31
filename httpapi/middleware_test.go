package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/hdfs"
)

func TestRequestID(t *testing.T) {
	tests := []struct {
		name     string
		incoming string
		wantEcho bool
	}{
		{name: "valid id is echoed", incoming: "airflow-dag.run_42:task-7", wantEcho: true},
		{name: "absent id is generated", incoming: ""},
		{name: "id with spaces is replaced", incoming: "hello world"},
		{name: "id with newline is replaced", incoming: "a\r\nX-Evil: 1"},
		{name: "overlong id is replaced", incoming: strings.Repeat("a", maxRequestIDLen+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			h := http.Header{}
			if tc.incoming != "" {
				h[RequestIDHeader] = []string{tc.incoming}
			}
			rec := s.do(t, http.MethodGet, "/healthz", nil, h)
			got := rec.Header().Get(RequestIDHeader)
			if tc.wantEcho && got != tc.incoming {
				t.Errorf("X-Request-Id = %q, want %q echoed", got, tc.incoming)
			}
			if !tc.wantEcho && (got == tc.incoming || !validRequestID(got) || len(got) != 32) {
				t.Errorf("X-Request-Id = %q, want a fresh generated id", got)
			}
		})
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantCode   string
	}{
		{name: "unknown route", method: "GET", target: "/nope", wantStatus: 404, wantCode: api.CodeNotFound},
		{name: "wrong method", method: "PUT", target: "/v1/jars", wantStatus: 405, wantCode: api.CodeMethodNotAllowed},
		{name: "post on healthz", method: "POST", target: "/healthz", wantStatus: 405, wantCode: api.CodeMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			rec := s.do(t, tc.method, tc.target, nil, nil)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if e := decodeError(t, rec); e.Code != tc.wantCode {
				t.Errorf("code = %q, want %q", e.Code, tc.wantCode)
			}
		})
	}
}

func TestPanicBecomes500(t *testing.T) {
	s := newTestServer(t)
	s.store.list = func(context.Context) ([]hdfs.Jar, error) { panic("boom at nn1.internal:8020") }
	rec := s.do(t, http.MethodGet, "/v1/jars", nil, header(RequestIDHeader, "req-panic"))
	if rec.Code != 500 {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	e := decodeError(t, rec)
	if e.Code != api.CodeInternal || strings.Contains(rec.Body.String(), "boom") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("body = %s", rec.Body)
	}
	logs := s.log.String()
	if !strings.Contains(logs, `"msg":"panic in handler"`) || !strings.Contains(logs, "req-panic") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with request id and stack: %s", logs)
	}
	// The server keeps serving.
	if rec := s.do(t, http.MethodGet, "/healthz", nil, nil); rec.Code != 200 {
		t.Errorf("healthz after panic = %d", rec.Code)
	}
}

// logLines decodes JSON log lines.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestErrorLogging(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantLevel string
		wantCode  string
	}{
		{name: "client error at debug", err: hdfs.ErrNotFound, wantLevel: "DEBUG", wantCode: api.CodeNotFound},
		{name: "server error at error with cause", err: fmt.Errorf("%w: dial nn1.internal:8020", hdfs.ErrUnavailable), wantLevel: "ERROR", wantCode: api.CodeUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			s.store.get = func(context.Context, string) (hdfs.Jar, error) { return hdfs.Jar{}, tc.err }
			s.do(t, http.MethodGet, "/v1/jars/"+goodID, nil, header(RequestIDHeader, "req-1"))
			var failed, access map[string]any
			for _, l := range logLines(t, s.log.String()) {
				switch l["msg"] {
				case "request failed":
					failed = l
				case "http request":
					access = l
				}
			}
			if failed == nil || failed["level"] != tc.wantLevel || failed["requestId"] != "req-1" || failed["code"] != tc.wantCode {
				t.Errorf("failure log = %v", failed)
			}
			if !strings.Contains(fmt.Sprint(failed["error"]), tc.err.Error()) {
				t.Errorf("failure log lacks the cause: %v", failed)
			}
			if access == nil || access["route"] != "/v1/jars/:id" || access["errorCode"] != tc.wantCode || access["requestId"] != "req-1" {
				t.Errorf("access log = %v", access)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	s := newTestServer(t)
	s.store.put = func(_ context.Context, body io.Reader, _ string) (hdfs.PutResult, error) {
		io.Copy(io.Discard, body)
		return hdfs.PutResult{Jar: staged, Created: true}, nil
	}
	s.do(t, http.MethodPost, "/v1/jars", strings.NewReader("x"), header("Content-Type", "application/java-archive"))
	s.store.put = func(context.Context, io.Reader, string) (hdfs.PutResult, error) {
		return hdfs.PutResult{}, fmt.Errorf("%w: %w", hdfs.ErrInvalidJar, errors.New("nope"))
	}
	s.do(t, http.MethodPost, "/v1/jars", strings.NewReader("x"), header("Content-Type", "application/java-archive"))
	s.store.get = func(context.Context, string) (hdfs.Jar, error) { return hdfs.Jar{}, hdfs.ErrNotFound }
	s.do(t, http.MethodGet, "/v1/jars/"+goodID, nil, nil)
	s.do(t, http.MethodGet, "/nope/"+goodID, nil, nil)

	rec := s.do(t, http.MethodGet, "/metrics", nil, nil)
	body := rec.Body.String()
	for _, want := range []string{
		`yarngate_http_requests_total{method="POST",route="/v1/jars",status="201"} 1`,
		`yarngate_http_requests_total{method="POST",route="/v1/jars",status="400"} 1`,
		`yarngate_http_requests_total{method="GET",route="/v1/jars/:id",status="404"} 1`,
		`yarngate_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`yarngate_http_request_duration_seconds_count{method="POST",route="/v1/jars",status="201"} 1`,
		`yarngate_jar_uploads_total{outcome="created"} 1`,
		`yarngate_jar_uploads_total{outcome="invalid"} 1`,
		`yarngate_jar_uploads_total{outcome="existed"} 0`,
		`yarngate_jar_staged_bytes_total 42`,
		`yarngate_http_requests_in_flight 1`, // the scrape itself
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// reasonError is a readiness failure with a public reason, as kerberos.LoginError is.
type reasonError struct{ reason, cause string }

func (e *reasonError) Error() string        { return e.cause }
func (e *reasonError) PublicReason() string { return e.reason }

func TestHealthAndReadiness(t *testing.T) {
	ok := ReadinessCheck{Name: "hdfs", Check: func(context.Context) error { return nil }}
	down := ReadinessCheck{Name: "yarn", Check: func(context.Context) error { return errors.New("dial rm1.internal:8088: refused") }}
	slow := ReadinessCheck{Name: "slow", Check: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	noTicket := ReadinessCheck{Name: "kerberos", Check: func(context.Context) error {
		return fmt.Errorf("wrapped: %w", &reasonError{reason: "kerberos: the keytab holds no key for the configured principal",
			cause: "yarngate@EXAMPLE.COM not in /internal/gw.keytab"})
	}}
	tests := []struct {
		name       string
		checks     []ReadinessCheck
		wantStatus int
		wantBody   string
	}{
		{name: "no checks", wantStatus: 200, wantBody: `"status":"ready"`},
		{name: "all ok", checks: []ReadinessCheck{ok}, wantStatus: 200, wantBody: `"checks":{"hdfs":"ok"}`},
		{name: "one down", checks: []ReadinessCheck{ok, down}, wantStatus: 503, wantBody: `"code":"not_ready"`},
		{name: "one hangs", checks: []ReadinessCheck{slow}, wantStatus: 503, wantBody: `no answer from slow`},
		{name: "a public reason is shown", checks: []ReadinessCheck{ok, noTicket}, wantStatus: 503,
			wantBody: `"details":[{"field":"kerberos","reason":"kerberos: the keytab holds no key for the configured principal"}]`},
		{name: "other causes are not", checks: []ReadinessCheck{down}, wantStatus: 503, wantBody: `"code":"not_ready","message":"not ready: no answer from yarn","requestId"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, tc.checks...)
			rec := s.do(t, http.MethodGet, "/readyz", nil, nil)
			if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("readyz = %d %s; want %d with %s", rec.Code, rec.Body, tc.wantStatus, tc.wantBody)
			}
			if strings.Contains(rec.Body.String(), "internal") {
				t.Errorf("readyz leaks a host: %s", rec.Body)
			}
		})
	}
	t.Run("healthz", func(t *testing.T) {
		s := newTestServer(t, down)
		if rec := s.do(t, http.MethodGet, "/healthz", nil, nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"status":"ok"`) {
			t.Errorf("healthz = %d %s", rec.Code, rec.Body)
		}
	})
}
