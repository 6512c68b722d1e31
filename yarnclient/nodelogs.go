package yarnclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file reads the containers of a running application and their log files while the NodeManagers
// still hold them: the ResourceManager lists an attempt's live containers
// (/ws/v1/cluster/apps/<app>/appattempts/<attempt>/containers), and a container's NodeManager lists its
// log files (/ws/v1/node/containers/<container>/logs) and streams one
// (/ws/v1/node/containerlogs/<container>/<file>?size=N: the first N bytes, or the last -N).

// Container is a live container of an application attempt (Hadoop's ContainerInfo).
type Container struct {
	// ContainerID is container_….
	ContainerID string `json:"containerId"`
	// NodeID is host:port of its NodeManager (RPC).
	NodeID string `json:"nodeId"`
	// AssignedNodeID is the same, as some versions name it.
	AssignedNodeID string `json:"assignedNodeId"`
	// NodeHTTPAddress is host:port of its NodeManager's web server.
	NodeHTTPAddress string `json:"nodeHttpAddress"`
	// ContainerState is RUNNING, COMPLETE, ….
	ContainerState string `json:"containerState"`
}

// AttemptContainers lists the live containers of an application attempt; a finished attempt has none.
func (c *Client) AttemptContainers(ctx context.Context, appID, attemptID string) ([]Container, error) {
	if !ValidApplicationID(appID) || !strings.HasPrefix(attemptID, "appattempt_") || strings.ContainsAny(attemptID, "/?#") {
		return nil, fmt.Errorf("list containers of %s/%s: %w: malformed id", appID, attemptID, ErrBadRequest)
	}
	// The ResourceManager answers {"container": {...}} for one container and {"container": [...]} for
	// several (Jersey's JSON of a list); some versions wrap it in "containers".
	var env struct {
		Containers *struct {
			Container oneOrMany[Container] `json:"container"`
		} `json:"containers"`
		Container oneOrMany[Container] `json:"container"`
	}
	if err := c.getJSON(ctx, "/ws/v1/cluster/apps/"+appID+"/appattempts/"+attemptID+"/containers", nil, &env); err != nil {
		return nil, fmt.Errorf("list containers of %s: %w", attemptID, err)
	}
	list := env.Container
	if env.Containers != nil {
		list = append(list, env.Containers.Container...)
	}
	for i := range list {
		if list[i].NodeID == "" {
			list[i].NodeID = list[i].AssignedNodeID
		}
	}
	return list, nil
}

// NodeLogFile is a log file a NodeManager holds for a container.
type NodeLogFile struct {
	// Name is the file name, such as jobmanager.log.
	Name string
	// Size is its length when listed.
	Size int64
}

// nodeLogFileJSON is Hadoop's ContainerLogFileInfo (its numbers are strings).
type nodeLogFileJSON struct {
	FileName string `json:"fileName"`
	FileSize string `json:"fileSize"`
}

// nodeLogsJSON is Hadoop's ContainerLogsInfo.
type nodeLogsJSON struct {
	ContainerLogInfo   oneOrMany[nodeLogFileJSON] `json:"containerLogInfo"`
	LogAggregationType string                     `json:"logAggregationType"`
}

// oneOrMany decodes a JSON list that Jersey renders as a bare object when it has one element.
type oneOrMany[T any] []T

// UnmarshalJSON reads an array, an object (one element) or null.
func (o *oneOrMany[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var one T
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*o = oneOrMany[T]{one}
		return nil
	}
	var many []T
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*o = many
	return nil
}

// NodeLogFiles lists the log files the NodeManager at nodeHTTPAddress (host:port) holds for a container
// (the local ones: those of a running container, or of a finished one not yet aggregated away).
// ErrNotFound means the NodeManager no longer knows the container.
func (c *Client) NodeLogFiles(ctx context.Context, nodeHTTPAddress, containerID string) ([]NodeLogFile, error) {
	target, err := c.nodeURL(ctx, nodeHTTPAddress, "/ws/v1/node/containers/"+containerID+"/logs", nil)
	if err != nil {
		return nil, err
	}
	status, hdr, body, err := c.send(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("list logs of %s: %w", containerID, err)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("list logs of %s: %w", containerID, nodeError(status, hdr, body))
	}
	// {"containerLogsInfo": {...}}, or a list of them when aggregated copies exist beside the local files.
	var env struct {
		ContainerLogsInfo oneOrMany[nodeLogsJSON] `json:"containerLogsInfo"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		var list []nodeLogsJSON
		if err2 := json.Unmarshal(body, &list); err2 != nil {
			return nil, fmt.Errorf("list logs of %s: %w: %v", containerID, ErrUnexpectedResponse, err)
		}
		env.ContainerLogsInfo = list
	}
	out := []NodeLogFile{}
	for _, info := range env.ContainerLogsInfo {
		if info.LogAggregationType != "" && !strings.EqualFold(info.LogAggregationType, "LOCAL") {
			continue // aggregated copies are read from HDFS
		}
		for _, f := range info.ContainerLogInfo {
			size, err := strconv.ParseInt(f.FileSize, 10, 64)
			if err != nil || f.FileName == "" {
				continue
			}
			out = append(out, NodeLogFile{Name: f.FileName, Size: size})
		}
	}
	return out, nil
}

// NodeContainerRunning reports whether the NodeManager at nodeHTTPAddress runs the container now.
func (c *Client) NodeContainerRunning(ctx context.Context, nodeHTTPAddress, containerID string) (bool, error) {
	target, err := c.nodeURL(ctx, nodeHTTPAddress, "/ws/v1/node/containers/"+containerID, nil)
	if err != nil {
		return false, err
	}
	status, hdr, body, err := c.send(ctx, http.MethodGet, target, nil)
	if err != nil {
		return false, fmt.Errorf("container %s: %w", containerID, err)
	}
	if status == http.StatusNotFound {
		return false, nil
	}
	if status != http.StatusOK {
		return false, fmt.Errorf("container %s: %w", containerID, nodeError(status, hdr, body))
	}
	var env struct {
		Container struct {
			State string `json:"state"`
		} `json:"container"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return false, fmt.Errorf("container %s: %w: %v", containerID, ErrUnexpectedResponse, err)
	}
	return env.Container.State == "RUNNING" || env.Container.State == "NEW" || env.Container.State == "LOCALIZING", nil
}

// NodeLog is a part of a log file streamed from a NodeManager.
type NodeLog struct {
	// FileLength is the file's length when the NodeManager answered.
	FileLength int64
	// Start is the offset in the file of the first byte Body reads.
	Start int64
	// Body reads the bytes from Start to FileLength (no more: the NodeManager's header and trailer are cut
	// off). Close it.
	Body io.ReadCloser
}

// maxNodeLogHeader bounds the header lines the NodeManager puts before a log's bytes.
const maxNodeLogHeader = 16 << 10

// NodeLogTail streams the last tail bytes of a container's log file (the whole file when it is shorter)
// from the NodeManager at nodeHTTPAddress, as it is now; memory does not depend on tail. ErrNotFound: the
// NodeManager no longer has the container or the file.
func (c *Client) NodeLogTail(ctx context.Context, nodeHTTPAddress, containerID, file string, tail int64) (*NodeLog, error) {
	if file == "" || strings.ContainsAny(file, "/?#\\") || file == "." || file == ".." || tail < 0 {
		return nil, fmt.Errorf("container log: %w: bad file %q or tail %d", ErrBadRequest, file, tail)
	}
	q := url.Values{}
	q.Set("size", strconv.FormatInt(-tail, 10))
	target, err := c.nodeURL(ctx, nodeHTTPAddress, "/ws/v1/node/containerlogs/"+containerID+"/"+url.PathEscape(file), q)
	if err != nil {
		return nil, err
	}
	resp, cancel, err := c.stream(ctx, target, "text/plain")
	if err != nil {
		return nil, fmt.Errorf("container log %s of %s: %w", file, containerID, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("container log %s of %s: %w", file, containerID, nodeError(resp.StatusCode, resp.Header, body))
	}
	br := bufio.NewReaderSize(resp.Body, 32<<10)
	length, err := nodeLogHeader(br)
	if err != nil {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("container log %s of %s: %w", file, containerID, err)
	}
	n := min(tail, length)
	return &NodeLog{FileLength: length, Start: length - n, Body: &streamBody{r: io.LimitReader(br, n), c: resp.Body, cancel: cancel}}, nil
}

// nodeLogHeader reads the NodeManager's header up to "LogContents:" and returns the LogLength it gives.
func nodeLogHeader(br *bufio.Reader) (int64, error) {
	length := int64(-1)
	read := 0
	for {
		line, err := br.ReadString('\n')
		read += len(line)
		if err != nil || read > maxNodeLogHeader {
			return 0, fmt.Errorf("%w: no log header (%v)", ErrUnexpectedResponse, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if v, ok := strings.CutPrefix(line, "LogLength:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%w: log length %q", ErrUnexpectedResponse, v)
			}
			length = n
		}
		if line == "LogContents:" {
			if length < 0 {
				return 0, fmt.Errorf("%w: no LogLength in the log header", ErrUnexpectedResponse)
			}
			return length, nil
		}
	}
}

// streamBody is a response body read in part; Close ends the exchange.
type streamBody struct {
	r      io.Reader
	c      io.Closer
	cancel context.CancelFunc
}

func (s *streamBody) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *streamBody) Close() error {
	err := s.c.Close()
	s.cancel()
	return err
}

// stream sends a GET whose answer is read as it comes: RequestTimeout bounds the wait for the answer's
// header only; ctx bounds the rest. The caller closes the body and then calls cancel.
func (c *Client) stream(ctx context.Context, target, accept string) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithCancel(ctx)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	hreq.Header.Set("Accept", accept)
	if c.opts.Authenticate != nil {
		if err := c.opts.Authenticate(hreq); err != nil {
			cancel()
			return nil, nil, fmt.Errorf("authenticate request: %w", err)
		}
	}
	timer := time.AfterFunc(c.opts.RequestTimeout, cancel)
	resp, err := c.http.Do(hreq)
	if !timer.Stop() && err == nil {
		resp.Body.Close()
		err = context.DeadlineExceeded
	}
	if err != nil {
		cancel()
		return nil, nil, &transportError{err: fmt.Errorf("GET %s: %w", redact(target), err)}
	}
	return resp, cancel, nil
}

// nodeURL builds a NodeManager REST URL: the scheme of the ResourceManagers, the node's web address.
func (c *Client) nodeURL(ctx context.Context, nodeHTTPAddress, path string, q url.Values) (string, error) {
	scheme := "http"
	if len(c.opts.RMs) > 0 {
		if u, err := url.Parse(c.opts.RMs[0].URL); err == nil && u.Scheme == "https" {
			scheme = "https"
		}
	}
	// The ResourceManager gives a container's node as host:port or as a URL.
	if rest, ok := strings.CutPrefix(nodeHTTPAddress, "https://"); ok {
		scheme, nodeHTTPAddress = "https", rest
	} else if rest, ok := strings.CutPrefix(nodeHTTPAddress, "http://"); ok {
		scheme, nodeHTTPAddress = "http", rest
	}
	if nodeHTTPAddress == "" || strings.ContainsAny(nodeHTTPAddress, "/?#@") {
		return "", fmt.Errorf("%w: bad NodeManager address %q", ErrBadRequest, nodeHTTPAddress)
	}
	for _, part := range strings.Split(strings.TrimPrefix(path, "/ws/v1/node/"), "/")[1:2] {
		if !strings.HasPrefix(part, "container_") || strings.ContainsAny(part, "?#%") {
			return "", fmt.Errorf("%w: bad container id %q", ErrBadRequest, part)
		}
	}
	if q == nil {
		q = url.Values{}
	}
	c.setUser(AsUser(ctx, ""), q)
	return (&url.URL{Scheme: scheme, Host: nodeHTTPAddress, Path: path, RawQuery: q.Encode()}).String(), nil
}

// nodeError classifies a NodeManager's error answer; a redirect (to the log server, for a container whose
// logs were aggregated) counts as not found here.
func nodeError(status int, hdr http.Header, body []byte) error {
	if status >= 300 && status < 400 {
		return fmt.Errorf("%w: the NodeManager redirects (%d): the logs left the node", ErrNotFound, status)
	}
	return parseRMError(status, hdr.Get("Content-Type"), body)
}
