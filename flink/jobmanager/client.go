// Package jobmanager is a client for the REST API of a Flink JobManager (the Dispatcher's web endpoint): job
// status, cancellation, root exceptions, cluster shutdown, and jar upload and run for session clusters.
//
// It speaks to one base URL, usually the address YARN reports for a Flink application master (the AM registers its
// REST port as its RPC port, so the report's amRPCAddress is the REST endpoint) or the leader address from
// ZooKeeper. It knows nothing of YARN, HDFS or the gateway's HTTP layer. Every call takes a context; callers bound
// it. Errors from the JobManager are *Error values that unwrap to ErrNotFound, ErrBadRequest or ErrUnavailable.
package jobmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// Sentinel errors that an *Error unwraps to.
var (
	// ErrNotFound is a 404: unknown job or jar.
	ErrNotFound = errors.New("jobmanager: not found")
	// ErrBadRequest is a 400: the JobManager rejected the request (for a jar run: main() failed or the
	// program is invalid; the message says why).
	ErrBadRequest = errors.New("jobmanager: bad request")
	// ErrUnavailable is a 5xx, a redirect (never followed), or no answer at all.
	ErrUnavailable = errors.New("jobmanager: unavailable")
)

// Error is an error answer from the JobManager. Flink answers {"errors": ["...", ...]}; Messages holds them with
// Java stack traces cut off.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Messages are Flink's error strings, first line of each only.
	Messages []string
}

// Error joins the status and Flink's messages.
func (e *Error) Error() string {
	return fmt.Sprintf("jobmanager answered %d: %s", e.Status, strings.Join(e.Messages, "; "))
}

// Unwrap returns the sentinel for the status class.
func (e *Error) Unwrap() error {
	switch {
	case e.Status == http.StatusNotFound:
		return ErrNotFound
	case e.Status >= 400 && e.Status < 500:
		return ErrBadRequest
	case e.Status >= 500, e.Status >= 300 && e.Status < 400: // a redirect: not followed, no answer
		return ErrUnavailable
	}
	return nil
}

// Client talks to one JobManager REST endpoint. It is safe for concurrent use.
type Client struct {
	base string
	http *http.Client
}

// New returns a client for the JobManager at base (such as http://host:port). httpClient may be nil for
// http.DefaultClient; it should carry a timeout for non-streaming calls as a safety net.
//
// The client never follows redirects (whatever httpClient's CheckRedirect says): the JobManager runs code of
// the job, and the caller checked base, not where an answer might send it. A 3xx answer is an *Error that
// unwraps to ErrUnavailable.
func New(base string, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("jobmanager: bad base URL %q", base)
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	hc := *httpClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: strings.TrimRight(base, "/"), http: &hc}, nil
}

// BaseURL returns the REST base URL the client talks to.
func (c *Client) BaseURL() string { return c.base }

// JobStatus is a Flink job status as the REST API spells it: INITIALIZING, CREATED, RUNNING, FAILING, FAILED,
// CANCELLING, CANCELED, FINISHED, RESTARTING, SUSPENDED, RECONCILING.
type JobStatus string

// Terminal reports whether the status is globally terminal for the job.
func (s JobStatus) Terminal() bool {
	return s == "FINISHED" || s == "FAILED" || s == "CANCELED"
}

// JobOverview is one row of GET /jobs/overview.
type JobOverview struct {
	ID        string    `json:"jid"`
	Name      string    `json:"name"`
	State     JobStatus `json:"state"`
	StartTime int64     `json:"start-time"`
	EndTime   int64     `json:"end-time"`
}

// Jobs lists the jobs the JobManager knows (running and archived).
func (c *Client) Jobs(ctx context.Context) ([]JobOverview, error) {
	var body struct {
		Jobs []JobOverview `json:"jobs"`
	}
	if err := c.getJSON(ctx, "/jobs/overview", &body); err != nil {
		return nil, err
	}
	return body.Jobs, nil
}

// Vertex is one operator chain of a job, with its parallelism and status.
type Vertex struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Parallelism int    `json:"parallelism"`
	Status      string `json:"status"`
}

// JobDetail is GET /jobs/{id}.
type JobDetail struct {
	ID       string    `json:"jid"`
	Name     string    `json:"name"`
	State    JobStatus `json:"state"`
	Vertices []Vertex  `json:"vertices"`
	// StartTime is when the job was submitted, in milliseconds since the epoch.
	StartTime int64 `json:"start-time"`
}

// Job returns one job's details.
func (c *Client) Job(ctx context.Context, jobID string) (*JobDetail, error) {
	var d JobDetail
	if err := c.getJSON(ctx, "/jobs/"+url.PathEscape(jobID), &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// RootException returns the first line of the job's root exception, or "" when it has none.
func (c *Client) RootException(ctx context.Context, jobID string) (string, error) {
	var body struct {
		RootException string `json:"root-exception"`
		History       struct {
			Entries []struct {
				Exception string `json:"stacktrace"`
			} `json:"entries"`
		} `json:"exceptionHistory"`
	}
	if err := c.getJSON(ctx, "/jobs/"+url.PathEscape(jobID)+"/exceptions", &body); err != nil {
		return "", err
	}
	msg := body.RootException
	if msg == "" && len(body.History.Entries) > 0 {
		msg = body.History.Entries[0].Exception
	}
	return summarize(msg), nil
}

// Cancel asks the JobManager to cancel the job. It returns once the request is accepted, not when the job is
// CANCELED.
func (c *Client) Cancel(ctx context.Context, jobID string) error {
	_, err := c.do(ctx, http.MethodPatch, "/jobs/"+url.PathEscape(jobID)+"?mode=cancel", "", nil)
	return err
}

// Config is GET /config: the cluster's Flink version and features.
type Config struct {
	FlinkVersion  string `json:"flink-version"`
	FlinkRevision string `json:"flink-revision"`
}

// Config returns the JobManager's version information; a cheap liveness check.
func (c *Client) Config(ctx context.Context) (*Config, error) {
	var cfg Config
	if err := c.getJSON(ctx, "/config", &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Overview is GET /overview: the cluster's TaskManagers, slots and jobs.
type Overview struct {
	TaskManagers   int    `json:"taskmanagers"`
	SlotsTotal     int    `json:"slots-total"`
	SlotsAvailable int    `json:"slots-available"`
	JobsRunning    int    `json:"jobs-running"`
	FlinkVersion   string `json:"flink-version"`
}

// Overview returns the cluster's overview.
func (c *Client) Overview(ctx context.Context) (*Overview, error) {
	var o Overview
	if err := c.getJSON(ctx, "/overview", &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// ShutdownCluster asks the cluster to shut down (DELETE /cluster): it cancels its jobs, deregisters from YARN
// and exits.
func (c *Client) ShutdownCluster(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodDelete, "/cluster", "", nil)
	return err
}

// UploadJar streams a jar to POST /jars/upload as multipart form data without holding it in memory, and returns
// the id the JobManager gave it (the stored file name, such as "<uuid>_name.jar").
func (c *Client) UploadJar(ctx context.Context, fileName string, jar io.Reader) (string, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("jarfile", fileName)
		if err == nil {
			_, err = io.Copy(part, jar)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	body, err := c.do(ctx, http.MethodPost, "/jars/upload", mw.FormDataContentType(), pr)
	// Unblock the writer goroutine if the request ended before reading the whole body.
	pr.CloseWithError(errors.New("jobmanager: upload ended"))
	if err != nil {
		return "", err
	}
	var resp struct {
		Filename string `json:"filename"`
		Status   string `json:"status"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Filename == "" {
		return "", fmt.Errorf("jobmanager: upload answer %q: %w", truncate(string(body), 200), ErrUnavailable)
	}
	// The answer carries the stored path; the jar id is its last element.
	return resp.Filename[strings.LastIndex(resp.Filename, "/")+1:], nil
}

// RunRequest is the body of POST /jars/{id}/run.
type RunRequest struct {
	EntryClass            string   `json:"entryClass,omitempty"`
	ProgramArgsList       []string `json:"programArgsList,omitempty"`
	Parallelism           int      `json:"parallelism,omitempty"`
	SavepointPath         string   `json:"savepointPath,omitempty"`
	AllowNonRestoredState bool     `json:"allowNonRestoredState,omitempty"`
	// ClaimMode is CLAIM, NO_CLAIM or LEGACY (1.20 only): the claimMode field of Flink 1.20 and 2.x.
	ClaimMode string `json:"claimMode,omitempty"`
	JobID     string `json:"jobId,omitempty"`
}

// RunJar runs an uploaded jar's main() in the JobManager and returns the job ID it submitted.
func (c *Client) RunJar(ctx context.Context, jarID string, req RunRequest) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("jobmanager: encode run request: %w", err)
	}
	body, err := c.do(ctx, http.MethodPost, "/jars/"+url.PathEscape(jarID)+"/run", "application/json", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	var resp struct {
		JobID string `json:"jobid"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.JobID == "" {
		return "", fmt.Errorf("jobmanager: run answer %q: %w", truncate(string(body), 200), ErrUnavailable)
	}
	return resp.JobID, nil
}

// JarFile is one row of GET /jars: a jar uploaded to the JobManager.
type JarFile struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Uploaded int64  `json:"uploaded"`
}

// Jars lists the jars uploaded to the JobManager.
func (c *Client) Jars(ctx context.Context) ([]JarFile, error) {
	var body struct {
		Files []JarFile `json:"files"`
	}
	if err := c.getJSON(ctx, "/jars", &body); err != nil {
		return nil, err
	}
	return body.Files, nil
}

// DeleteJar removes an uploaded jar.
func (c *Client) DeleteJar(ctx context.Context, jarID string) error {
	_, err := c.do(ctx, http.MethodDelete, "/jars/"+url.PathEscape(jarID), "", nil)
	return err
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	body, err := c.do(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("jobmanager: decode %s: %w", path, errors.Join(ErrUnavailable, err))
	}
	return nil
}

// maxBody caps what the client reads of any answer.
const maxBody = 8 << 20

func (c *Client) do(ctx context.Context, method, path, contentType string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("jobmanager: %s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jobmanager: %s %s: %w", method, path, errors.Join(ErrUnavailable, err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("jobmanager: read %s %s: %w", method, path, errors.Join(ErrUnavailable, err))
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("jobmanager: %s %s: %w: the answer is larger than %d bytes", method, path, ErrUnavailable, maxBody)
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("jobmanager: %s %s: %w", method, path, parseError(resp.StatusCode, b))
	}
	return b, nil
}

func parseError(status int, body []byte) *Error {
	e := &Error{Status: status}
	var fe struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(body, &fe) == nil && len(fe.Errors) > 0 {
		for _, m := range fe.Errors {
			if m = summarize(m); m != "" {
				e.Messages = append(e.Messages, truncate(m, 1024))
			}
		}
	}
	if len(e.Messages) == 0 {
		e.Messages = []string{http.StatusText(status)}
	}
	return e
}

// summarize shortens a Java exception text to its first line and, when there is one, its deepest cause
// ("Caused by: ..."), which is where a user's main() exception shows up.
func summarize(s string) string {
	first := firstLine(s)
	cause := ""
	for _, line := range strings.Split(s, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "Caused by: "); ok {
			cause = c
		}
	}
	if cause == "" || strings.Contains(first, cause) {
		return first
	}
	return first + " (caused by " + cause + ")"
}

// firstLine keeps the first line of a message (Flink's errors often carry a whole stack trace).
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
