// Package flinkcluster finds the leading JobManager of Flink clusters that run without the gateway and were
// registered with it (POST /v1/clusters): a standalone cluster by its JobManagers' REST URLs, a standalone-HA
// cluster by its leader in ZooKeeper (decoded by package zk, as for the gateway's own HA clusters), or a
// session on YARN started by another client by its application id. It also asks a JobManager what the
// cluster looks like (Flink version, TaskManagers, slots) and tells a Flink JobManager from anything else.
//
// The addresses the gateway calls are those the registration names: the registered URLs, the leader the
// registered ZooKeeper path holds, or, for YARN, the host of the application's AM container as the
// ResourceManager reports it (amHostHttpAddress) with the port the AM registered (amRPCAddress), so a YARN
// session can only point the gateway at its own container's host.
//
// Dependency rule: flinkcluster uses registry (types), zk (types), yarnclient (types) and flink/jobmanager; it
// starts no goroutine (the ZooKeeper trackers it asks for are made, and owned, by its caller's NewLeaders).
package flinkcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/yarngate/yarngate/flink/jobmanager"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
)

// Errors of locating and probing a cluster.
var (
	// ErrUnreachable: no registered JobManager accepts connections.
	ErrUnreachable = errors.New("no JobManager answers")
	// ErrNotFlink: the endpoint answers, but not as a Flink JobManager does.
	ErrNotFlink = errors.New("the endpoint is not a Flink JobManager")
	// ErrNoLeader: ZooKeeper names no leader for the cluster id under the path root (a wrong cluster id or
	// root, or a cluster without a leader now).
	ErrNoLeader = errors.New("ZooKeeper names no JobManager leader")
	// ErrNotRunning: the YARN application does not run (or YARN does not know it).
	ErrNotRunning = errors.New("the YARN application does not run")
	// ErrUnsupported: the gateway cannot follow this kind of registration (no ZooKeeper or no YARN, or
	// another quorum than the gateway's).
	ErrUnsupported = errors.New("registration not supported by this gateway")
)

// appReader reads one YARN application; *yarnclient.Client implements it.
type appReader interface {
	App(ctx context.Context, id string) (*yarnclient.App, error)
}

// LeaderSource follows the REST leaders of Flink clusters under one ZooKeeper path root; *zk.FlinkLeaders
// implements it.
type LeaderSource interface {
	Watch(clusterID string) error
	Unwatch(clusterID string)
	Leader(clusterID string) (zk.JobManagerLeader, bool)
}

// Options configure a Locator.
type Options struct {
	// RM reads YARN applications; nil: registrations by application id are unsupported.
	RM appReader
	// Quorum is the gateway's ZooKeeper quorum; NewLeaders makes a leader source for a path root on it. Nil
	// NewLeaders: registrations by ZooKeeper are unsupported.
	Quorum     string
	NewLeaders func(root string) (LeaderSource, error)
	// HTTP carries the calls to JobManagers (with a timeout). Default: a client with a 5 s timeout.
	HTTP *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Locator finds the leading JobManagers of registered clusters. It is safe for concurrent use.
type Locator struct {
	opts Options

	mu      sync.Mutex
	sources map[string]LeaderSource // by ZooKeeper path root
	current map[string]Leader       // by cluster id: the last leader found, to tell when it changed
}

// New builds a Locator.
func New(opts Options) *Locator {
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Locator{opts: opts, sources: map[string]LeaderSource{}, current: map[string]Leader{}}
}

// Leader is a cluster's leading JobManager.
type Leader struct {
	// URL is its REST base URL.
	URL string
	// Since is when it became the leader, as far as the gateway knows (the leader znode's time, or when this
	// locator first found it).
	Since time.Time
}

// SameQuorum reports whether two ZooKeeper connect strings name the same servers (order and a chroot aside).
func SameQuorum(a, b string) bool {
	norm := func(s string) []string {
		if i := strings.Index(s, "/"); i >= 0 {
			s = s[:i]
		}
		var out []string
		for _, h := range strings.Split(s, ",") {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
				out = append(out, strings.Replace(h, "127.0.0.1:", "localhost:", 1))
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

// Check tells whether the gateway can follow a registration at all (before any cluster call).
func (l *Locator) Check(reg registry.ClusterRegistration) error {
	switch reg.Kind() {
	case "zookeeper":
		if l.opts.NewLeaders == nil {
			return fmt.Errorf("%w: the gateway has no ZooKeeper quorum (zookeeper.quorum)", ErrUnsupported)
		}
		if reg.ZKQuorum != "" && !SameQuorum(reg.ZKQuorum, l.opts.Quorum) {
			return fmt.Errorf("%w: the cluster's quorum %s is not the gateway's (%s)", ErrUnsupported, reg.ZKQuorum, l.opts.Quorum)
		}
	case "yarn":
		if l.opts.RM == nil {
			return fmt.Errorf("%w: the gateway has no ResourceManager", ErrUnsupported)
		}
	}
	return nil
}

// Leader finds the leading JobManager of the registered cluster id.
func (l *Locator) Leader(ctx context.Context, id string, reg registry.ClusterRegistration) (Leader, error) {
	if err := l.Check(reg); err != nil {
		return Leader{}, err
	}
	var (
		u     string
		since time.Time
		err   error
	)
	switch reg.Kind() {
	case "zookeeper":
		u, since, err = l.zkLeader(ctx, reg)
	case "yarn":
		u, err = l.yarnJobManager(ctx, reg.YARNApplicationID)
	default:
		u, err = l.restLeader(ctx, id, reg.REST)
	}
	if err != nil {
		return Leader{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	prev, ok := l.current[id]
	if ok && prev.URL == u && since.IsZero() {
		return prev, nil
	}
	if since.IsZero() {
		since = l.opts.Now()
	}
	cur := Leader{URL: u, Since: since}
	l.current[id] = cur
	return cur, nil
}

// Forget stops following a cluster that was deregistered.
func (l *Locator) Forget(id string, reg registry.ClusterRegistration) {
	l.mu.Lock()
	delete(l.current, id)
	src := l.sources[zkRoot(reg.ZKRoot)]
	l.mu.Unlock()
	if reg.Kind() == "zookeeper" && src != nil {
		src.Unwatch(reg.ZKClusterID)
	}
}

func zkRoot(root string) string {
	if root == "" {
		return zk.DefaultFlinkRoot
	}
	return root
}

// source returns the leader source of a path root, made on first use.
func (l *Locator) source(root string) (LeaderSource, error) {
	root = zkRoot(root)
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.sources[root]; s != nil {
		return s, nil
	}
	s, err := l.opts.NewLeaders(root)
	if err != nil {
		return nil, fmt.Errorf("follow Flink leaders under %s: %w", root, err)
	}
	l.sources[root] = s
	return s, nil
}

// firstReadWait bounds the wait for the first read of a leader znode just watched.
const firstReadWait = 3 * time.Second

// zkLeader reads the cluster's REST leader from ZooKeeper.
func (l *Locator) zkLeader(ctx context.Context, reg registry.ClusterRegistration) (string, time.Time, error) {
	src, err := l.source(reg.ZKRoot)
	if err != nil {
		return "", time.Time{}, err
	}
	ld, watched := src.Leader(reg.ZKClusterID)
	if !watched {
		if err := src.Watch(reg.ZKClusterID); err != nil {
			return "", time.Time{}, fmt.Errorf("watch the leader of %s: %w", reg.ZKClusterID, err)
		}
		deadline := time.Now().Add(firstReadWait)
		for {
			ld, _ = src.Leader(reg.ZKClusterID)
			if ld.Certain || ld.Err != nil || time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				return "", time.Time{}, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	if !ld.Known || ld.Address == "" {
		reason := "no leader znode " + zk.RESTLeaderPath(zkRoot(reg.ZKRoot), reg.ZKClusterID)
		if ld.Err != nil {
			reason = ld.Err.Error()
		}
		return "", time.Time{}, fmt.Errorf("%w: %s", ErrNoLeader, reason)
	}
	return ld.Address, ld.Since, nil
}

// yarnJobManager is the JobManager of a running YARN application: the AM container's host (as the
// ResourceManager placed it) and the REST port the AM registered.
func (l *Locator) yarnJobManager(ctx context.Context, appID string) (string, error) {
	app, err := l.opts.RM.App(ctx, appID)
	if errors.Is(err, yarnclient.ErrNotFound) {
		return "", fmt.Errorf("%w: YARN does not know %s", ErrNotRunning, appID)
	}
	if err != nil {
		return "", fmt.Errorf("read application %s: %w", appID, err)
	}
	if app.State != yarnclient.StateRunning {
		return "", fmt.Errorf("%w: %s is %s", ErrNotRunning, appID, app.State)
	}
	host := hostOf(app.AMHostHTTPAddress)
	_, port, err := net.SplitHostPort(app.AMRPCAddress)
	if host == "" || err != nil || port == "" || port == "-1" || port == "0" {
		return "", fmt.Errorf("%w: %s reports no JobManager address (amRPCAddress %q)", ErrNotRunning, appID, app.AMRPCAddress)
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// hostOf is the host of a host:port (or URL) address, "" without one.
func hostOf(a string) string {
	if a == "" || a == "N/A" {
		return ""
	}
	if i := strings.Index(a, "://"); i >= 0 {
		a = a[i+3:]
	}
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}

// restLeader is the first registered URL whose JobManager answers, trying the one that answered last first.
func (l *Locator) restLeader(ctx context.Context, id string, urls []string) (string, error) {
	l.mu.Lock()
	last := l.current[id].URL
	l.mu.Unlock()
	order := slices.Clone(urls)
	if i := slices.Index(order, last); i > 0 {
		order[0], order[i] = order[i], order[0]
	}
	var errs []error
	for _, u := range order {
		if _, err := l.config(ctx, u); err != nil {
			errs = append(errs, err)
			continue
		}
		return u, nil
	}
	for _, err := range errs {
		if errors.Is(err, ErrNotFlink) {
			return "", err
		}
	}
	return "", errors.Join(errs...)
}

// config asks a JobManager for /config; the error is ErrUnreachable (no connection or no answer) or
// ErrNotFlink (an answer that is not a Flink JobManager's).
func (l *Locator) config(ctx context.Context, base string) (*jobmanager.Config, error) {
	jm, err := jobmanager.New(base, l.opts.HTTP)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFlink, err)
	}
	cfg, err := jm.Config(ctx)
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, base, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFlink, base, err)
	case cfg.FlinkVersion == "":
		return nil, fmt.Errorf("%w: %s: /config names no flink-version", ErrNotFlink, base)
	}
	return cfg, nil
}

// Info is what a cluster's JobManager says of the cluster.
type Info struct {
	FlinkVersion                                          string
	TaskManagers, SlotsTotal, SlotsAvailable, JobsRunning int
}

// Probe asks the JobManager at base for the cluster's version, TaskManagers and slots (/config, /overview).
// The error is ErrUnreachable or ErrNotFlink.
func (l *Locator) Probe(ctx context.Context, base string) (Info, error) {
	cfg, err := l.config(ctx, base)
	if err != nil {
		return Info{}, err
	}
	jm, _ := jobmanager.New(base, l.opts.HTTP)
	o, err := jm.Overview(ctx)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %s /overview: %w", ErrNotFlink, base, err)
	}
	return Info{FlinkVersion: cfg.FlinkVersion, TaskManagers: o.TaskManagers, SlotsTotal: o.SlotsTotal,
		SlotsAvailable: o.SlotsAvailable, JobsRunning: o.JobsRunning}, nil
}
