package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/yarnlogs"
)

// The log routes: the containers of the application that runs a job or session, and their log files, read
// from the NodeManagers while they hold them (running containers, and finished ones not yet aggregated) and
// from YARN's aggregated logs in HDFS after that (package yarnlogs). Nothing is buffered whole: a log streams
// from the NodeManager's answer or from HDFS through a bounded window, whatever its size.

// Errors of the log routes.
var (
	// ErrLogNotFound: the application has no such container, or the container no such log file (or none
	// the gateway can read now).
	ErrLogNotFound = errors.New("log not found")
	// ErrInvalidLogRange: an offset, length or Range the log routes cannot serve.
	ErrInvalidLogRange = errors.New("invalid log range")
)

// nodeLogs is what the log routes ask YARN; *yarnclient.Client implements it.
type nodeLogs interface {
	AppAttempts(ctx context.Context, id string) ([]yarnclient.AppAttempt, error)
	AttemptContainers(ctx context.Context, appID, attemptID string) ([]yarnclient.Container, error)
	NodeLogFiles(ctx context.Context, nodeHTTPAddress, containerID string) ([]yarnclient.NodeLogFile, error)
	NodeLogTail(ctx context.Context, nodeHTTPAddress, containerID, file string, tail int64) (*yarnclient.NodeLog, error)
	NodeContainerRunning(ctx context.Context, nodeHTTPAddress, containerID string) (bool, error)
}

// logFiles reads aggregated logs in HDFS; *hdfs.Store implements it.
type logFiles interface {
	ReadDir(ctx context.Context, name string) ([]hdfs.DirEntry, error)
	OpenFile(ctx context.Context, name string) (hdfs.File, error)
	CanActAs() bool
}

// LogSources is where the log routes read container logs.
type LogSources struct {
	// YARN lists an application's containers and serves the logs the NodeManagers hold; nil turns the log
	// routes off (503).
	YARN nodeLogs
	// Files reads YARN's aggregated logs in HDFS, as the application's user where the store can act as
	// others (their files are theirs, mode 0640); nil serves only what the NodeManagers hold.
	Files logFiles
	// Layout is the remote log directory (yarn.nodemanager.remote-app-log-dir and its suffix).
	Layout yarnlogs.Layout
	// FollowInterval is how often a follow asks the NodeManager for new bytes. Default 1s.
	FollowInterval time.Duration
}

// LogRange is the part of a log file a request asks for.
type LogRange struct {
	// Offset is the first byte; negative counts from the end (-100: the last 100 bytes).
	Offset int64
	// Length caps the bytes; 0 is everything from Offset on.
	Length int64
	// Follow keeps streaming the bytes appended to the file until its container ends or ctx ends.
	Follow bool
}

// Log is an open log file (OpenJobLog, OpenSessionLog): Copy streams it.
type Log struct {
	// Start is the offset of the first byte Copy writes; Size is the file's length when it was opened.
	Start, Size int64
	// Length is the number of bytes Copy writes, -1 when following (not known in advance).
	Length int64

	svc       *Service
	container logContainer
	file      string
	follow    bool
	body      io.ReadCloser // the bytes from Start (Length of them unless following)
	close     func() error  // releases what body reads from
}

// logContainer is a container as the listing found it, with what is needed to read its files.
type logContainer struct {
	api.LogContainer
	nodeHTTP string                       // its NodeManager's web address, for the nodemanager source
	agg      map[string]aggregatedLogFile // file name → where it is, for the aggregated source
}

// aggregatedLogFile is a log file in a node's aggregated file.
type aggregatedLogFile struct {
	path string
	file yarnlogs.LogFile
}

// logTarget is the application a log request reads and the user its logs belong to.
type logTarget struct {
	appID, user string
}

// JobLogs lists the containers and log files of a job's application (a session job's: its session's).
func (s *Service) JobLogs(ctx context.Context, id string) (api.LogList, error) {
	t, err := s.jobLogTarget(ctx, id)
	if err != nil {
		return api.LogList{}, err
	}
	return s.listLogs(ctx, t)
}

// SessionLogs lists the containers and log files of a session.
func (s *Service) SessionLogs(ctx context.Context, id string) (api.LogList, error) {
	t, err := s.sessionLogTarget(ctx, id)
	if err != nil {
		return api.LogList{}, err
	}
	return s.listLogs(ctx, t)
}

// OpenJobLog opens a log file of a container of a job's application for r; Copy streams it, Close ends it.
func (s *Service) OpenJobLog(ctx context.Context, id, containerID, file string, r LogRange) (*Log, error) {
	t, err := s.jobLogTarget(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.openLog(ctx, t, containerID, file, r)
}

// OpenSessionLog opens a log file of a container of a session.
func (s *Service) OpenSessionLog(ctx context.Context, id, containerID, file string, r LogRange) (*Log, error) {
	t, err := s.sessionLogTarget(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.openLog(ctx, t, containerID, file, r)
}

// jobLogTarget authorizes like Job (another user's job is not found) and names the application.
func (s *Service) jobLogTarget(ctx context.Context, id string) (logTarget, error) {
	rec, err := s.jobRecord(ctx, id)
	if err != nil {
		return logTarget{}, err
	}
	t := logTarget{appID: rec.ApplicationID, user: cmp.Or(rec.Status.YARN.User, rec.Owner, s.opts.User)}
	if rec.Kind == registry.KindSessionJob {
		if sess, ok := s.opts.Registry.Cached(rec.ApplicationID); ok {
			t.user = cmp.Or(sess.Status.YARN.User, sess.Owner, s.opts.User)
		}
	}
	return t, s.logsEnabled()
}

// sessionLogTarget authorizes like Session.
func (s *Service) sessionLogTarget(ctx context.Context, id string) (logTarget, error) {
	rec, err := s.sessionRecord(ctx, id)
	if err != nil {
		return logTarget{}, err
	}
	return logTarget{appID: rec.ApplicationID, user: cmp.Or(rec.Status.YARN.User, rec.Owner, s.opts.User)}, s.logsEnabled()
}

func (s *Service) logsEnabled() error {
	if s.opts.Logs.YARN == nil {
		return fmt.Errorf("container logs: %w: no ResourceManager configured", ErrYARNUnavailable)
	}
	return nil
}

// listLogs renders the containers the listing found.
func (s *Service) listLogs(ctx context.Context, t logTarget) (api.LogList, error) {
	cs, err := s.findLogs(ctx, t)
	if err != nil {
		return api.LogList{}, err
	}
	out := api.LogList{Containers: make([]api.LogContainer, 0, len(cs))}
	for _, c := range cs {
		out.Containers = append(out.Containers, c.LogContainer)
	}
	return out, nil
}

// findLogs lists an application's containers with logs: the live containers of its current attempt and the
// ApplicationMaster containers of every attempt from the NodeManagers, then the aggregated logs in HDFS for
// the containers the NodeManagers no longer serve. JobManager containers first, then by id.
func (s *Service) findLogs(ctx context.Context, t logTarget) ([]logContainer, error) {
	y := s.opts.Logs.YARN
	attempts, err := y.AppAttempts(ctx, t.appID)
	if err != nil && !errors.Is(err, yarnclient.ErrNotFound) {
		return nil, fmt.Errorf("container logs of %s: %w", t.appID, err)
	}
	found := map[string]*logContainer{}
	add := func(id, nodeID, nodeHTTP, state string) *logContainer {
		c, ok := found[id]
		if !ok {
			c = &logContainer{LogContainer: api.LogContainer{ContainerID: id, Role: containerRole(id, attempts),
				NodeID: nodeID, State: state, Files: []api.LogFile{}}, nodeHTTP: nodeHTTP}
			found[id] = c
		}
		return c
	}
	if n := len(attempts); n > 0 && attempts[n-1].FinishedTime == 0 {
		// A failure here leaves the TaskManagers out of this answer, not the JobManager (its container is
		// the attempt's): the attempt may have ended since it was listed.
		live, err := y.AttemptContainers(ctx, t.appID, attempts[n-1].AppAttemptID)
		if err != nil {
			s.opts.Logger.Debug("live containers not listed", "application", t.appID, "err", err)
		}
		for _, c := range live {
			add(c.ContainerID, c.NodeID, c.NodeHTTPAddress, c.ContainerState)
		}
	}
	for _, a := range attempts {
		if a.ContainerID != "" && found[a.ContainerID] == nil {
			state := "COMPLETE"
			if a.FinishedTime == 0 {
				state = "RUNNING"
			}
			add(a.ContainerID, a.NodeID, a.NodeHTTPAddress, state)
		}
	}
	for _, c := range found {
		files, err := y.NodeLogFiles(ctx, c.nodeHTTP, c.ContainerID)
		if err != nil {
			s.opts.Logger.Debug("NodeManager logs not read", "container", c.ContainerID, "err", err)
			continue
		}
		for _, f := range files {
			c.Files = append(c.Files, api.LogFile{Name: f.Name, Size: f.Size})
		}
		if len(c.Files) > 0 {
			c.Source = api.LogSourceNodeManager
		}
	}
	if err := s.findAggregated(ctx, t, attempts, found, add); err != nil {
		return nil, err
	}
	out := make([]logContainer, 0, len(found))
	for _, c := range found {
		if c.Source != "" {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b logContainer) int {
		if a.Role != b.Role {
			return cmp.Compare(roleRank(a.Role), roleRank(b.Role))
		}
		return cmp.Compare(a.ContainerID, b.ContainerID)
	})
	return out, nil
}

// findAggregated adds the aggregated logs of the containers the NodeManagers did not serve.
func (s *Service) findAggregated(ctx context.Context, t logTarget, attempts []yarnclient.AppAttempt,
	found map[string]*logContainer, add func(id, nodeID, nodeHTTP, state string) *logContainer) error {
	files := s.opts.Logs.Files
	if files == nil {
		return nil
	}
	dirs, err := s.opts.Logs.Layout.AppDirs(t.user, t.appID)
	if err != nil {
		return fmt.Errorf("aggregated logs of %s: %w", t.appID, err)
	}
	fctx := s.logFilesContext(ctx, t)
	for _, dir := range dirs {
		entries, err := files.ReadDir(fctx, dir)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			continue
		}
		if err != nil {
			return fmt.Errorf("aggregated logs of %s: %w", t.appID, err)
		}
		for _, e := range entries {
			if e.Mode.IsDir() || !yarnlogs.NodeFile(e.Name) {
				continue
			}
			name := path.Join(dir, e.Name)
			cs, err := s.aggregatedContainers(fctx, name, e.Size, e.ModTime)
			if err != nil {
				s.opts.Logger.Warn("aggregated log file not read", "path", name, "err", err)
				continue
			}
			for _, ac := range cs {
				c := found[ac.ID]
				if c != nil && c.Source == api.LogSourceNodeManager {
					continue // the NodeManager still serves it, and it may still grow
				}
				if c == nil {
					c = add(ac.ID, nodeIDOf(e.Name), "", "COMPLETE")
				}
				c.Source, c.State = api.LogSourceAggregated, "COMPLETE"
				if c.agg == nil {
					c.agg = map[string]aggregatedLogFile{}
				}
				for _, lf := range ac.Files {
					if _, dup := c.agg[lf.Name]; !dup {
						c.Files = append(c.Files, api.LogFile{Name: lf.Name, Size: lf.Size})
					}
					c.agg[lf.Name] = aggregatedLogFile{path: name, file: lf}
				}
			}
		}
		return nil // the newest layout that exists is the one the NodeManagers write
	}
	return nil
}

// logFilesContext is the context HDFS is read under: as the application's user where the store can act as
// others (aggregated logs are theirs, mode 0640 in 0770 directories), else as the gateway.
func (s *Service) logFilesContext(ctx context.Context, t logTarget) context.Context {
	if t.user != "" && s.opts.Logs.Files.CanActAs() {
		return hdfs.AsUser(ctx, t.user)
	}
	return ctx
}

// aggregatedContainers lists the containers in one node's aggregated file, from the index when it was
// listed before with the same size and modification time.
func (s *Service) aggregatedContainers(ctx context.Context, name string, size int64, mod time.Time) ([]yarnlogs.Container, error) {
	key := aggregatedKey{path: name, size: size, mod: mod}
	if cs, ok := s.logIndex.get(key); ok {
		return cs, nil
	}
	f, err := s.opts.Logs.Files.OpenFile(ctx, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	af, err := yarnlogs.Open(f, f.Size())
	if err != nil {
		return nil, err
	}
	cs, err := af.Containers()
	if err != nil {
		return nil, err
	}
	s.logIndex.put(key, cs)
	return cs, nil
}

// maxIndexedFiles bounds the aggregated files whose listings the service keeps.
const maxIndexedFiles = 256

// aggregatedKey names one version of an aggregated file.
type aggregatedKey struct {
	path string
	size int64
	mod  time.Time
}

// aggregatedIndex keeps the listings of aggregated files, which YARN does not change once it moved them
// into place: listing a large file walks all of it, and a client reading a log in parts would pay that on
// every request. The oldest listing goes first beyond maxIndexedFiles.
type aggregatedIndex struct {
	mu      sync.Mutex
	entries map[aggregatedKey][]yarnlogs.Container
	order   []aggregatedKey
}

func (x *aggregatedIndex) get(k aggregatedKey) ([]yarnlogs.Container, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	cs, ok := x.entries[k]
	return cs, ok
}

func (x *aggregatedIndex) put(k aggregatedKey, cs []yarnlogs.Container) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.entries == nil {
		x.entries = map[aggregatedKey][]yarnlogs.Container{}
	}
	if _, ok := x.entries[k]; ok {
		return
	}
	if len(x.order) >= maxIndexedFiles {
		delete(x.entries, x.order[0])
		x.order = x.order[1:]
	}
	x.entries[k] = cs
	x.order = append(x.order, k)
}

// containerRole tells the JobManager's container (an attempt's ApplicationMaster: YARN's first container of
// the attempt) from the TaskManagers'.
func containerRole(id string, attempts []yarnclient.AppAttempt) string {
	for _, a := range attempts {
		if a.ContainerID == id {
			return api.LogRoleJobManager
		}
	}
	if strings.HasSuffix(id, "_000001") {
		return api.LogRoleJobManager
	}
	return api.LogRoleTaskManager
}

func roleRank(role string) int {
	if role == api.LogRoleJobManager {
		return 0
	}
	return 1
}

// nodeIDOf turns an aggregated file's name (<host>_<port>, with _<timestamp> for a rolling upload) into
// host:port.
func nodeIDOf(name string) string {
	parts := strings.Split(name, "_")
	if len(parts) >= 3 && len(parts[len(parts)-1]) >= 12 {
		parts = parts[:len(parts)-1] // the upload's timestamp
	}
	if len(parts) < 2 {
		return name
	}
	return strings.Join(parts[:len(parts)-1], "_") + ":" + parts[len(parts)-1]
}

var (
	containerIDPattern = regexp.MustCompile(`^container_[A-Za-z0-9_]{1,100}$`)
	logFilePattern     = regexp.MustCompile(`^[A-Za-z0-9._-]{1,255}$`)
)

// openLog finds a container's log file and opens it for r.
func (s *Service) openLog(ctx context.Context, t logTarget, containerID, file string, r LogRange) (*Log, error) {
	if !containerIDPattern.MatchString(containerID) || !logFilePattern.MatchString(file) || file == "." || file == ".." {
		return nil, fmt.Errorf("%w: %s/%s", ErrLogNotFound, containerID, file)
	}
	if r.Length < 0 {
		return nil, fmt.Errorf("%w: negative length %d", ErrInvalidLogRange, r.Length)
	}
	cs, err := s.findLogs(ctx, t)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(cs, func(c logContainer) bool { return c.ContainerID == containerID })
	if i < 0 {
		return nil, fmt.Errorf("%w: no container %s with logs in %s", ErrLogNotFound, containerID, t.appID)
	}
	c := cs[i]
	j := slices.IndexFunc(c.Files, func(f api.LogFile) bool { return f.Name == file })
	if j < 0 {
		return nil, fmt.Errorf("%w: container %s has no log %s", ErrLogNotFound, containerID, file)
	}
	size := c.Files[j].Size
	start := r.Offset
	if start < 0 {
		start = max(0, size+start)
	}
	l := &Log{svc: s, container: c, file: file, Size: size, Start: start}
	if c.Source == api.LogSourceAggregated {
		return s.openAggregated(ctx, t, l, c.agg[file], r)
	}
	if start > size {
		start = size // past the end: nothing, or what a follow sees appended
		l.Start = start
	}
	// Whether the container still runs is the NodeManager's to say (Copy asks it before every poll); the
	// state in the listing is the ResourceManager's, which may lag.
	l.follow = r.Follow
	want := int64(-1) // to the current end
	if r.Length > 0 {
		want = r.Length
	}
	body, end, err := s.nodeLogFrom(ctx, c, file, start, want)
	if err != nil {
		return nil, err
	}
	l.body, l.close = body, body.Close
	l.Length = end - start
	if l.follow && r.Length == 0 {
		l.Length = -1
	}
	return l, nil
}

// openAggregated opens a log file of an aggregated container.
func (s *Service) openAggregated(ctx context.Context, t logTarget, l *Log, at aggregatedLogFile, r LogRange) (*Log, error) {
	l.Start = min(l.Start, l.Size)
	l.Length = l.Size - l.Start
	if r.Length > 0 {
		l.Length = min(l.Length, r.Length)
	}
	f, err := s.opts.Logs.Files.OpenFile(s.logFilesContext(ctx, t), at.path)
	if err != nil {
		return nil, fmt.Errorf("aggregated log %s: %w", l.file, err)
	}
	af, err := yarnlogs.Open(f, f.Size())
	if err == nil {
		var rd io.Reader
		if rd, err = af.Content(at.file, l.Start, l.Length); err == nil {
			l.body, l.close = io.NopCloser(rd), f.Close
			return l, nil
		}
	}
	f.Close()
	return nil, fmt.Errorf("aggregated log %s of %s: %w", l.file, l.container.ContainerID, err)
}

// nodeMargin is how much more than needed a read from the NodeManager asks for, so that a log that grows
// between two calls still covers the offset wanted.
const nodeMargin = 64 << 10

// nodeLogFrom streams a NodeManager's log file from offset start: n bytes, or (n < 0) to the file's end
// now. The NodeManager serves only a head or a tail of a file, so this asks for a tail that reaches back to
// start (a little more, for what the file grew meanwhile), skips what comes before start, and asks again
// with the length it learnt, and a larger margin, when the file grew by more than the margin. It returns the body and the offset
// where it ends.
func (s *Service) nodeLogFrom(ctx context.Context, c logContainer, file string, start, n int64) (io.ReadCloser, int64, error) {
	y := s.opts.Logs.YARN
	known, margin := start, int64(nodeMargin)
	for range 5 {
		nl, err := y.NodeLogTail(ctx, c.nodeHTTP, c.ContainerID, file, known-start+margin)
		if errors.Is(err, yarnclient.ErrNotFound) {
			return nil, 0, fmt.Errorf("%w: %s of %s: %v", ErrLogNotFound, file, c.ContainerID, err)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("log %s of %s: %w", file, c.ContainerID, err)
		}
		if nl.Start > start {
			nl.Body.Close()
			known, margin = nl.FileLength, margin*4 // it grew by more than the margin: ask for more
			continue
		}
		if _, err := io.CopyN(io.Discard, nl.Body, start-nl.Start); err != nil {
			nl.Body.Close()
			return nil, 0, fmt.Errorf("log %s of %s: %w", file, c.ContainerID, err)
		}
		end := max(start, nl.FileLength)
		if n >= 0 {
			end = min(end, start+n)
		}
		return struct {
			io.Reader
			io.Closer
		}{io.LimitReader(nl.Body, end-start), nl.Body}, end, nil
	}
	return nil, 0, fmt.Errorf("log %s of %s: %w: it grows faster than it can be read", file, c.ContainerID, ErrYARNUnavailable)
}

// Close releases what the log reads from.
func (l *Log) Close() error {
	if l.close == nil {
		return nil
	}
	err := l.close()
	l.close = nil
	return err
}

// Copy writes the log's bytes to w, calling flush after each part. Following, it then polls the
// NodeManager every FollowInterval for the bytes appended since, until the container ended (and its last
// bytes are written) or ctx ends; it returns nil then.
func (l *Log) Copy(ctx context.Context, w io.Writer, flush func()) error {
	defer l.Close()
	n, err := io.Copy(w, l.body)
	flush()
	if err != nil {
		return fmt.Errorf("stream log %s of %s: %w", l.file, l.container.ContainerID, err)
	}
	if !l.follow {
		return nil
	}
	s := l.svc
	interval := cmp.Or(s.opts.Logs.FollowInterval, time.Second)
	pos := l.Start + n
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		running, err := s.opts.Logs.YARN.NodeContainerRunning(ctx, l.container.nodeHTTP, l.container.ContainerID)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.opts.Logger.Debug("follow: container state not read", "container", l.container.ContainerID, "err", err)
			continue
		}
		body, end, err := s.nodeLogFrom(ctx, l.container, l.file, pos, -1)
		if errors.Is(err, ErrLogNotFound) {
			return nil // the NodeManager let go of the container: it ended
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		m, err := io.Copy(w, body)
		body.Close()
		flush()
		pos += m
		if err != nil {
			return fmt.Errorf("stream log %s of %s: %w", l.file, l.container.ContainerID, err)
		}
		if !running && pos >= end {
			return nil // the last bytes of an ended container are out
		}
	}
}
