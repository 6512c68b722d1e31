package yarnclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ContainerLog returns the last tailBytes of a log file of a container, read from its NodeManager's REST
// API (/ws/v1/node/containerlogs/<container>/<file>). amContainerLogs is the link an application report
// gives for the AM container's logs (http://<nm-web>/node/containerlogs/<container>/<user>). The answer is
// plain text with a short header from the NodeManager; ErrNotFound means the log is gone (deleted, or
// aggregated away from the node).
func (c *Client) ContainerLog(ctx context.Context, amContainerLogs, file string, tailBytes int64) (string, error) {
	u, err := url.Parse(amContainerLogs)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("container log: %w: bad log link %q", ErrBadRequest, amContainerLogs)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 3 || parts[0] != "node" || parts[1] != "containerlogs" || !strings.HasPrefix(parts[2], "container_") {
		return "", fmt.Errorf("container log: %w: %q is not a container log link", ErrBadRequest, amContainerLogs)
	}
	if strings.ContainsAny(file, "/?#") || file == "" {
		return "", fmt.Errorf("container log: %w: bad file name %q", ErrBadRequest, file)
	}
	q := url.Values{}
	q.Set("size", strconv.FormatInt(-tailBytes, 10))
	if c.opts.User != "" {
		q.Set("user.name", c.opts.User)
	}
	target := (&url.URL{Scheme: u.Scheme, Host: u.Host,
		Path: "/ws/v1/node/containerlogs/" + parts[2] + "/" + file, RawQuery: q.Encode()}).String()
	status, hdr, body, err := c.sendAccepting(ctx, http.MethodGet, target, "text/plain", nil)
	if err != nil {
		return "", fmt.Errorf("container log %s of %s: %w", file, parts[2], err)
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("container log %s of %s: %w", file, parts[2], parseRMError(status, hdr.Get("Content-Type"), body))
	}
	return string(body), nil
}
