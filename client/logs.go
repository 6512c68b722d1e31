package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/yarngate/yarngate/api"
)

// JobLogs lists a job's containers and their log files (GET /v1/jobs/{id}/logs).
func (c *Client) JobLogs(ctx context.Context, id string) (api.LogList, error) {
	var l api.LogList
	_, err := c.call(ctx, &request{method: http.MethodGet, path: "/v1/jobs/" + escape(id) + "/logs"}, &l)
	return l, err
}

// LogRange selects the bytes of a log file to read.
type LogRange struct {
	// Offset is where to start; negative counts from the end (-65536: the last 64 KiB). Zero: the start.
	Offset int64
	// Length bounds the bytes read; 0: to the end.
	Length int64
	// Follow keeps the answer open and streams bytes appended to the file until the container ends or ctx
	// ends.
	Follow bool
}

// ReadJobLog opens a log file of one of a job's containers (GET /v1/jobs/{id}/logs/{containerId}/{file}).
// The caller reads and closes the returned text.
func (c *Client) ReadJobLog(ctx context.Context, id, containerID, file string, rng LogRange) (io.ReadCloser, error) {
	q := url.Values{}
	if rng.Offset != 0 {
		q.Set("offset", strconv.FormatInt(rng.Offset, 10))
	}
	if rng.Length > 0 {
		q.Set("length", strconv.FormatInt(rng.Length, 10))
	}
	if rng.Follow {
		q.Set("follow", "true")
	}
	req := &request{method: http.MethodGet, path: "/v1/jobs/" + escape(id) + "/logs/" + escape(containerID) + "/" + escape(file),
		query: q, header: http.Header{"Accept": {"text/plain"}}}
	resp, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
