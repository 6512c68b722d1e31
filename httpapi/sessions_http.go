package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/job"
)

// sessionAPI is what the session handlers need; *job.Service implements it.
type sessionAPI interface {
	CreateSession(ctx context.Context, req api.SessionRequest, idempotencyKey string) (api.Session, bool, error)
	Session(ctx context.Context, id string) (api.Session, error)
	WaitSession(ctx context.Context, id string, target api.SessionState, timeout time.Duration) (api.Session, error)
	ListSessions(ctx context.Context, page job.Page) (api.SessionList, error)
	StopSession(ctx context.Context, id string) (api.Session, error)
}

// sessionsAPI returns the session service, or an error when the gateway runs without one.
func (s *server) sessionsAPI() (sessionAPI, error) {
	if s.opts.Sessions == nil {
		return nil, newAPIError(http.StatusServiceUnavailable, api.CodeUnavailable,
			"session clusters are not configured on this gateway (no ResourceManager or Flink distribution)", nil)
	}
	return s.opts.Sessions, nil
}

// sessionID binds and validates the :id path parameter: a YARN application id.
func sessionID(c *gin.Context) (string, error) {
	id := c.Param("id")
	if !job.ValidSessionID(id) {
		return "", newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "a session id is a YARN application id (application_<ts>_<n>)", nil)
	}
	return id, nil
}

// createSession handles POST /v1/sessions.
func (s *server) createSession(c *gin.Context) error {
	sessions, err := s.sessionsAPI()
	if err != nil {
		return err
	}
	key := c.GetHeader(idempotencyKeyHeader)
	if len(key) > maxIdempotencyKeyLen || !printableASCII(key) {
		return newAPIError(http.StatusBadRequest, api.CodeInvalidRequest,
			fmt.Sprintf("%s must be at most %d printable ASCII characters", idempotencyKeyHeader, maxIdempotencyKeyLen), nil)
	}
	b, err := readSmallBody(c, maxSpecSize, "the session request is larger than 1 MiB")
	if err != nil {
		return err
	}
	req, err := decodeSessionRequest(b)
	if err != nil {
		return err
	}
	if req.ProxyUser != "" {
		c.Set(ctxKeyAuditUser, req.ProxyUser) // the effective user asked for, granted or refused
	}
	sess, created, err := sessions.CreateSession(c.Request.Context(), req, key)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
	}
	c.Header("Location", "/v1/sessions/"+sess.ID)
	c.JSON(status, sess)
	return nil
}

// getSession handles GET /v1/sessions/:id, with an optional long poll: ?wait=<STATE>&timeout=<duration>.
func (s *server) getSession(c *gin.Context) error {
	sessions, err := s.sessionsAPI()
	if err != nil {
		return err
	}
	id, err := sessionID(c)
	if err != nil {
		return err
	}
	target, timeout, wait, err := longPoll(c, api.ParseSessionState, "session")
	if err != nil {
		return err
	}
	var sess api.Session
	if wait {
		release, refused := s.admitLongPoll(c)
		if refused != nil {
			return refused
		}
		defer release()
		sess, err = sessions.WaitSession(c.Request.Context(), id, target, timeout)
	} else {
		sess, err = sessions.Session(c.Request.Context(), id)
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, sess)
	return nil
}

// listSessions handles GET /v1/sessions, one page at a time (?limit=&cursor=).
func (s *server) listSessions(c *gin.Context) error {
	sessions, err := s.sessionsAPI()
	if err != nil {
		return err
	}
	page, err := pageQuery(c)
	if err != nil {
		return err
	}
	list, err := sessions.ListSessions(c.Request.Context(), page)
	if err != nil {
		return err
	}
	if list.Sessions == nil {
		list.Sessions = []api.Session{}
	}
	c.JSON(http.StatusOK, list)
	return nil
}

// deleteSession handles DELETE /v1/sessions/:id: 202 with the session STOPPING while it shuts down, 200 when
// it had ended already.
func (s *server) deleteSession(c *gin.Context) error {
	sessions, err := s.sessionsAPI()
	if err != nil {
		return err
	}
	id, err := sessionID(c)
	if err != nil {
		return err
	}
	sess, err := sessions.StopSession(c.Request.Context(), id)
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if sess.State.Terminal() {
		status = http.StatusOK
	}
	c.JSON(status, sess)
	return nil
}
