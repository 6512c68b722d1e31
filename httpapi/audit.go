package httpapi

import (
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/job"
)

// ctxKeyAuditUser is the gin context key under which a handler names the effective user of a request when
// it is not the caller's own (a service principal acting for another user).
const ctxKeyAuditUser = "yarngate.auditUser"

// auditActions name the mutating routes in the audit log.
var auditActions = map[string]string{
	"POST /v1/jars":                "jar.upload",
	"DELETE /v1/jars/:id":          "jar.delete",
	"POST /v1/jobs":                "job.submit",
	"POST /v1/jobs/:id/cancel":     "job.cancel",
	"POST /v1/sessions":            "session.create",
	"DELETE /v1/sessions/:id":      "session.stop",
	"POST /v1/clusters":            "cluster.register",
	"DELETE /v1/clusters/:id":      "cluster.deregister",
	"POST /v1/keytabs":             "keytab.upload",
	"DELETE /v1/keytabs/:id":       "keytab.delete",
	"POST /v1/jobs/:id/savepoints": "job.savepoint",
	"POST /v1/jobs/:id/stop":       "job.stop",
	"POST /v1/jobs/:id/upgrade":    "job.upgrade",
	"POST /ui/login":               "ui.login",
	"POST /ui/logout":              "ui.logout",
}

// audit writes one line to the audit log for every mutating request under /v1 (and the dashboard's sign-in
// and sign-out), whatever its outcome
// (refused credentials, limits and errors included), after the rest of the chain ran: who (the principal as
// authenticated and the effective user), what (action and object) and how it ended (status and error code).
// Reads are not audited: the access log has them.
func (s *server) audit() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if m := c.Request.Method; m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions {
			return
		}
		route := routeOf(c)
		action, ok := auditActions[c.Request.Method+" "+route]
		if !ok {
			action = c.Request.Method + " " + route
		}
		object := c.Param("id")
		if loc := c.Writer.Header().Get("Location"); object == "" && loc != "" && strings.HasPrefix(route, "/v1/") {
			object = path.Base(loc) // what a creation made
		}
		principal, user := "", ""
		if p, ok := authn.FromContext(c.Request.Context()); ok {
			principal, user = p.Name, p.User
		}
		if u := c.GetString(ctxKeyAuditUser); u != "" {
			user = u
		}
		outcome := "ok"
		if c.Writer.Status() >= 400 {
			outcome = "refused"
			if c.Writer.Status() >= 500 {
				outcome = "failed"
			}
		}
		s.auditLog.LogAttrs(c.Request.Context(), slog.LevelInfo, "audit",
			slog.String("requestId", job.RequestID(c.Request.Context())),
			slog.String("principal", principal),
			slog.String("user", user),
			slog.String("action", action),
			slog.String("object", object),
			slog.String("outcome", outcome),
			slog.Int("status", c.Writer.Status()),
			slog.String("errorCode", c.GetString(ctxKeyErrorCode)),
			slog.String("remote", c.ClientIP()),
		)
	}
}
