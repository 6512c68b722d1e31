package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/job"
)

// logAPI is what the log handlers need; *job.Service implements it.
type logAPI interface {
	JobLogs(ctx context.Context, id string) (api.LogList, error)
	SessionLogs(ctx context.Context, id string) (api.LogList, error)
	OpenJobLog(ctx context.Context, id, containerID, file string, r job.LogRange) (*job.Log, error)
	OpenSessionLog(ctx context.Context, id, containerID, file string, r job.LogRange) (*job.Log, error)
}

// logs returns the log service, or an error when the gateway runs without one.
func (s *server) logs() (logAPI, error) {
	if s.opts.Logs == nil {
		return nil, newAPIError(http.StatusServiceUnavailable, api.CodeUnavailable,
			"container logs are not configured on this gateway (no ResourceManager)", nil)
	}
	return s.opts.Logs, nil
}

// listJobLogs handles GET /v1/jobs/:id/logs.
func (s *server) listJobLogs(c *gin.Context) error {
	return s.listLogs(c, jobID, logAPI.JobLogs)
}

// listSessionLogs handles GET /v1/sessions/:id/logs.
func (s *server) listSessionLogs(c *gin.Context) error {
	return s.listLogs(c, sessionID, logAPI.SessionLogs)
}

func (s *server) listLogs(c *gin.Context, bind func(*gin.Context) (string, error),
	list func(logAPI, context.Context, string) (api.LogList, error)) error {
	logs, err := s.logs()
	if err != nil {
		return err
	}
	id, err := bind(c)
	if err != nil {
		return err
	}
	out, err := list(logs, c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// getJobLog handles GET /v1/jobs/:id/logs/:container/:file.
func (s *server) getJobLog(c *gin.Context) error {
	return s.getLog(c, jobID, logAPI.OpenJobLog)
}

// getSessionLog handles GET /v1/sessions/:id/logs/:container/:file.
func (s *server) getSessionLog(c *gin.Context) error {
	return s.getLog(c, sessionID, logAPI.OpenSessionLog)
}

// getLog streams a log file: ?offset= (negative: from the end), ?length=, ?follow=true, or a Range header
// of one byte range (answered 206 with Content-Range). A follow counts as a long poll: beyond the cap it
// ends at the file's current end.
func (s *server) getLog(c *gin.Context, bind func(*gin.Context) (string, error),
	open func(logAPI, context.Context, string, string, string, job.LogRange) (*job.Log, error)) error {
	logs, err := s.logs()
	if err != nil {
		return err
	}
	id, err := bind(c)
	if err != nil {
		return err
	}
	r, ranged, err := logRange(c)
	if err != nil {
		return err
	}
	if r.Follow {
		release, admitted := s.admitLongPoll(c)
		defer release()
		r.Follow = admitted
	}
	ctx := c.Request.Context()
	l, err := open(logs, ctx, id, c.Param("containerId"), c.Param("file"), r)
	if err != nil {
		return err
	}
	defer l.Close()
	h := c.Writer.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set(LogSizeHeader, strconv.FormatInt(l.Size, 10))
	h.Set(LogStartHeader, strconv.FormatInt(l.Start, 10))
	status := http.StatusOK
	if l.Length >= 0 {
		h.Set("Content-Length", strconv.FormatInt(l.Length, 10))
		if ranged && l.Length > 0 {
			status = http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", l.Start, l.Start+l.Length-1, max(l.Size, l.Start+l.Length)))
		}
	}
	c.Status(status)
	c.Writer.WriteHeaderNow()
	if err := l.Copy(ctx, c.Writer, c.Writer.Flush); err != nil && ctx.Err() == nil {
		// The status is out: the client sees a short body.
		s.opts.Logger.Warn("log stream cut short", "path", c.Request.URL.Path, "err", err)
	}
	return nil
}

// Headers of a log file's answer.
const (
	// LogSizeHeader is the file's length when the request opened it.
	LogSizeHeader = "X-Log-Size"
	// LogStartHeader is the offset in the file of the first byte of the body.
	LogStartHeader = "X-Log-Start"
)

// logRange binds ?offset=, ?length=, ?follow= and a Range header (bytes=a-b, bytes=a-, bytes=-n).
func logRange(c *gin.Context) (r job.LogRange, ranged bool, err error) {
	bad := func(msg string) error { return newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, msg, nil) }
	if v := c.Query("offset"); v != "" {
		if r.Offset, err = strconv.ParseInt(v, 10, 64); err != nil {
			return r, false, bad("offset must be an integer (bytes; negative counts from the end)")
		}
	}
	if v := c.Query("length"); v != "" {
		if r.Length, err = strconv.ParseInt(v, 10, 64); err != nil || r.Length < 0 {
			return r, false, bad("length must be a non-negative integer (bytes; 0 or none: to the end)")
		}
	}
	if v := c.Query("follow"); v != "" {
		if r.Follow, err = strconv.ParseBool(v); err != nil {
			return r, false, bad("follow must be true or false")
		}
	}
	hr := c.GetHeader("Range")
	if hr == "" {
		return r, false, nil
	}
	spec, ok := strings.CutPrefix(hr, "bytes=")
	first, last, dash := strings.Cut(spec, "-")
	if !ok || !dash || strings.Contains(spec, ",") {
		return r, false, bad("Range must be one byte range: bytes=<first>-[<last>] or bytes=-<suffix length>")
	}
	switch {
	case first == "":
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return r, false, bad("Range: bad suffix length")
		}
		r.Offset, r.Length = -n, 0
	default:
		a, err := strconv.ParseInt(first, 10, 64)
		if err != nil || a < 0 {
			return r, false, bad("Range: bad first byte")
		}
		r.Offset, r.Length = a, 0
		if last != "" {
			b, err := strconv.ParseInt(last, 10, 64)
			if err != nil || b < a {
				return r, false, bad("Range: bad last byte")
			}
			r.Length = b - a + 1
		}
	}
	return r, true, nil
}
