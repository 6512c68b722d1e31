package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/job"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds a caller-supplied request id.
const maxRequestIDLen = 128

// validRequestID accepts caller ids made of a safe character set, so they can be logged and echoed as is.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// withRequestID takes the caller's X-Request-Id when valid, generates one otherwise, echoes it and puts
// it into the request context.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Header(RequestIDHeader, id)
		c.Request = c.Request.WithContext(job.WithRequestID(c.Request.Context(), id))
		c.Next()
	}
}

// authenticate lets only authenticated callers through and hands their principal down in the request's
// context; a failure is rendered like every error (401 unauthenticated, with the challenges authn set). A
// read may authenticate with the dashboard's token cookie (TokenCookie).
func (s *server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := s.opts.Auth.Authenticate(c.Writer, withTokenCookie(c.Request, false))
		if err != nil {
			s.renderError(c, err)
			return
		}
		c.Request = c.Request.WithContext(authn.WithPrincipal(c.Request.Context(), p))
		c.Next()
	}
}

// routeOf returns the route template of the request, such as /v1/jars/:id, or "unmatched".
func routeOf(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// quietRoutes are logged at debug level: probes and scrapes would drown the access log.
var quietRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// accessLog records every request in the log and in the request metrics, after the rest of the chain ran.
func (s *server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		c.Next()
		elapsed := time.Since(start)
		route, status := routeOf(c), c.Writer.Status()
		s.metrics.observeRequest(c.Request.Method, route, status, elapsed)
		level := slog.LevelInfo
		if quietRoutes[route] {
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("requestId", job.RequestID(c.Request.Context())),
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Float64("durationMs", float64(elapsed.Microseconds())/1000),
			slog.Int64("bytesIn", c.Request.ContentLength),
			slog.Int("bytesOut", max(c.Writer.Size(), 0)),
			slog.String("remote", c.ClientIP()),
		}
		if p, ok := authn.FromContext(c.Request.Context()); ok {
			attrs = append(attrs, slog.String("user", p.User), slog.String("authMethod", string(p.Method)))
		}
		if code := c.GetString(ctxKeyErrorCode); code != "" {
			attrs = append(attrs, slog.String("errorCode", code))
		}
		s.opts.Logger.LogAttrs(c.Request.Context(), level, "http request", attrs...)
	}
}

// recoverPanics turns a panic in a handler into a logged 500 with the usual error body; the stack trace
// goes to the log only.
func (s *server) recoverPanics() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(r) // the server's own way to abort a response
			}
			s.opts.Logger.ErrorContext(c.Request.Context(), "panic in handler",
				"requestId", job.RequestID(c.Request.Context()), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			s.renderError(c, fmt.Errorf("panic: %v", r))
		}()
		c.Next()
	}
}

// statusLabel renders an HTTP status for metric labels.
func statusLabel(status int) string { return strconv.Itoa(status) }
