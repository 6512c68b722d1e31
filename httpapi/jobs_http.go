package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/job"
)

// jobAPI is what the job handlers need; *job.Service implements it.
type jobAPI interface {
	Submit(ctx context.Context, req api.JobRequest, idempotencyKey string) (api.Job, bool, error)
	Job(ctx context.Context, id string) (api.Job, error)
	Wait(ctx context.Context, id string, target api.JobState, timeout time.Duration) (api.Job, error)
	List(ctx context.Context, state api.JobState, page job.Page) (api.JobList, error)
	Cancel(ctx context.Context, id string, kill bool) (api.Job, error)
	TriggerSavepoint(ctx context.Context, id string, req api.SavepointRequest) (api.Savepoint, bool, error)
	Stop(ctx context.Context, id string, req api.StopRequest) (api.Savepoint, bool, error)
	Savepoints(ctx context.Context, id string) ([]api.Savepoint, error)
	Upgrade(ctx context.Context, id string, req api.UpgradeRequest) (api.Job, bool, error)
}

// Request limits of the job API.
const (
	maxSpecSize          = 1 << 20 // a JSON job request
	maxIdempotencyKeyLen = 255
	defaultWaitTimeout   = 30 * time.Second
	idempotencyKeyHeader = "Idempotency-Key"
	specField            = "spec"
)

// jobs returns the job service, or an error when the gateway runs without one.
func (s *server) jobs() (jobAPI, error) {
	if s.opts.Jobs == nil {
		return nil, newAPIError(http.StatusServiceUnavailable, api.CodeUnavailable,
			"job launching is not configured on this gateway (no ResourceManager or Flink distribution)", nil)
	}
	return s.opts.Jobs, nil
}

// submitJob handles POST /v1/jobs: a JSON job request, or multipart/form-data with the jar in a "jar"
// file field and the request in a "spec" field (staged and launched in one call).
func (s *server) submitJob(c *gin.Context) error {
	jobs, err := s.jobs()
	if err != nil {
		return err
	}
	key := c.GetHeader(idempotencyKeyHeader)
	if len(key) > maxIdempotencyKeyLen || !printableASCII(key) {
		return newAPIError(http.StatusBadRequest, api.CodeInvalidRequest,
			fmt.Sprintf("%s must be at most %d printable ASCII characters", idempotencyKeyHeader, maxIdempotencyKeyLen), nil)
	}
	mediaType, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil {
		return newAPIError(http.StatusUnsupportedMediaType, api.CodeUnsupportedMediaType,
			"Content-Type must be application/json or multipart/form-data", err)
	}
	var req api.JobRequest
	switch mediaType {
	case "application/json":
		b, err := readSmallBody(c, maxSpecSize, "the job request is larger than 1 MiB")
		if err != nil {
			return err
		}
		if req, err = decodeJobRequest(b); err != nil {
			return err
		}
	case "multipart/form-data":
		if req, err = s.decodeJobMultipart(c, params["boundary"]); err != nil {
			return err
		}
	default:
		return newAPIError(http.StatusUnsupportedMediaType, api.CodeUnsupportedMediaType,
			"Content-Type must be application/json or multipart/form-data", nil)
	}
	if req.ProxyUser != "" {
		c.Set(ctxKeyAuditUser, req.ProxyUser) // the effective user asked for, granted or refused
	}
	job, created, err := jobs.Submit(c.Request.Context(), req, key)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
	}
	c.Header("Location", "/v1/jobs/"+job.ID)
	c.JSON(status, job)
	return nil
}

// decodeJobMultipart reads a multipart job submission part by part: the "jar" part is streamed into
// the staging store as it arrives, the "spec" part is the JSON request. The parts may come in either
// order; the staged jar becomes the request's jarId.
func (s *server) decodeJobMultipart(c *gin.Context, boundary string) (api.JobRequest, error) {
	if boundary == "" {
		return api.JobRequest{}, newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, "multipart/form-data without a boundary", nil)
	}
	pace := s.newPace()
	body := &idleReader{r: http.MaxBytesReader(c.Writer, c.Request.Body, s.opts.MaxJarSize+multipartSlack),
		rc: http.NewResponseController(c.Writer), idle: s.opts.UploadIdleTimeout, pace: pace}
	mr := multipart.NewReader(body, boundary)
	var (
		req         api.JobRequest
		haveSpec    bool
		stagedJarID string
	)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return api.JobRequest{}, &bodyError{err: err}
		}
		switch part.FormName() {
		case specField:
			b, err := io.ReadAll(io.LimitReader(part, maxSpecSize+1))
			if err != nil {
				return api.JobRequest{}, &bodyError{err: err}
			}
			if len(b) > maxSpecSize {
				return api.JobRequest{}, newAPIError(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "the spec field is larger than 1 MiB", nil)
			}
			if req, err = decodeJobRequest(b); err != nil {
				return api.JobRequest{}, err
			}
			haveSpec = true
		case jarField:
			res, err := s.opts.Jars.Upload(c.Request.Context(), job.UploadRequest{Body: startPace(&bodyReader{r: part}, pace), Name: part.FileName(), DeclaredSize: -1})
			if err != nil {
				return api.JobRequest{}, err
			}
			stagedJarID = res.Jar.ID
		}
		part.Close()
	}
	if !haveSpec || stagedJarID == "" {
		return api.JobRequest{}, newAPIError(http.StatusBadRequest, api.CodeInvalidRequest,
			`a multipart job submission needs a file field "jar" and a field "spec"`, nil)
	}
	if req.JarID != "" || req.JarPath != "" {
		return api.JobRequest{}, &api.SpecError{Problems: []api.FieldProblem{{Field: "jarId", Reason: "must be empty when the jar is uploaded with the request"}}}
	}
	req.JarID = stagedJarID
	return req, nil
}

// jobID binds and validates the :id path parameter: a YARN application id (application jobs) or
// "<session id>.<Flink job id>" (session jobs).
func jobID(c *gin.Context) (string, error) {
	id := c.Param("id")
	if !job.ValidJobID(id) {
		return "", newAPIError(http.StatusBadRequest, api.CodeInvalidRequest,
			"a job id is a YARN application id (application_<ts>_<n>) or a session job id (application_<ts>_<n>.<32 hex digits>)", nil)
	}
	return id, nil
}

// getJob handles GET /v1/jobs/:id, with an optional long poll: ?wait=<STATE>&timeout=<duration>.
func (s *server) getJob(c *gin.Context) error {
	jobs, err := s.jobs()
	if err != nil {
		return err
	}
	id, err := jobID(c)
	if err != nil {
		return err
	}
	target, timeout, wait, err := longPoll(c, api.ParseJobState, "job")
	if err != nil {
		return err
	}
	var job api.Job
	if wait {
		release, refused := s.admitLongPoll(c)
		if refused != nil {
			return refused
		}
		defer release()
		job, err = jobs.Wait(c.Request.Context(), id, target, timeout)
	} else {
		job, err = jobs.Job(c.Request.Context(), id)
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, job)
	return nil
}

// longPoll binds ?wait=<STATE>&timeout=<duration> (default 30s); wait is false without ?wait=.
func longPoll[S any](c *gin.Context, parse func(string) (S, bool), kind string) (target S, timeout time.Duration, wait bool, err error) {
	w := c.Query("wait")
	if w == "" {
		return target, 0, false, nil
	}
	target, ok := parse(w)
	if !ok {
		return target, 0, false, newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, fmt.Sprintf("wait=%q is not a %s state", w, kind), nil)
	}
	timeout = defaultWaitTimeout
	if t := c.Query("timeout"); t != "" {
		if timeout, err = time.ParseDuration(t); err != nil || timeout <= 0 {
			return target, 0, false, newAPIError(http.StatusBadRequest, api.CodeInvalidRequest,
				fmt.Sprintf("timeout=%q is not a positive duration such as 60s", t), nil)
		}
	}
	return target, timeout, true, nil
}

// listJobs handles GET /v1/jobs, optionally filtered with ?state=<STATE>, one page at a time
// (?limit=&cursor=).
func (s *server) listJobs(c *gin.Context) error {
	jobs, err := s.jobs()
	if err != nil {
		return err
	}
	var state api.JobState
	if st := c.Query("state"); st != "" {
		var ok bool
		if state, ok = api.ParseJobState(st); !ok {
			return newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, fmt.Sprintf("state=%q is not a job state", st), nil)
		}
	}
	page, err := pageQuery(c)
	if err != nil {
		return err
	}
	list, err := jobs.List(c.Request.Context(), state, page)
	if err != nil {
		return err
	}
	if list.Jobs == nil {
		list.Jobs = []api.Job{}
	}
	c.JSON(http.StatusOK, list)
	return nil
}

// pageQuery binds ?limit=<n>&cursor=<opaque> of a list: limit a positive integer (job.DefaultPageLimit
// without, at most job.MaxPageLimit: larger ones are reduced), cursor the nextCursor of the page before.
func pageQuery(c *gin.Context) (job.Page, error) {
	var p job.Page
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return p, newAPIError(http.StatusBadRequest, api.CodeInvalidRequest, fmt.Sprintf("limit=%q is not a positive integer", l), nil)
		}
		p.Limit = min(n, job.MaxPageLimit)
	}
	p.Cursor = c.Query("cursor")
	return p, nil
}

// cancelJob handles POST /v1/jobs/:id/cancel.
func (s *server) cancelJob(c *gin.Context) error {
	jobs, err := s.jobs()
	if err != nil {
		return err
	}
	id, err := jobID(c)
	if err != nil {
		return err
	}
	var req api.CancelRequest
	b, err := readSmallBody(c, 4096, "the cancel request is larger than 4 KiB")
	if err != nil {
		return err
	}
	if len(b) > 0 {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return &api.SpecError{Problems: []api.FieldProblem{{Field: "body", Reason: jsonProblem(err)}}}
		}
	}
	job, err := jobs.Cancel(c.Request.Context(), id, req.Kill)
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if job.Terminal {
		status = http.StatusOK
	}
	c.JSON(status, job)
	return nil
}

// readSmallBody reads a JSON body of at most limit bytes; tooLarge is the client message when it is
// larger (the generic 413 message speaks of jars).
func readSmallBody(c *gin.Context, limit int64, tooLarge string) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, newAPIError(http.StatusRequestEntityTooLarge, api.CodeTooLarge, tooLarge, err)
	}
	if err != nil {
		return nil, &bodyError{err: err}
	}
	return b, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
