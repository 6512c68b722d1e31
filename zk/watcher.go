package zk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Errors of this package. Errors returned by Watcher methods wrap one of them, or ErrDecode.
var (
	// ErrClosed is returned once the Watcher or tracker was closed.
	ErrClosed = errors.New("zk: closed")
	// ErrUnavailable means that ZooKeeper cannot answer now: no session yet, connection lost, session expired.
	ErrUnavailable = errors.New("zk: ZooKeeper unavailable")
	// ErrNoAuth means that the znode's ACL refuses this client. go-zookeeper has no SASL, so znodes with
	// sasl:-only ACLs end here.
	ErrNoAuth = errors.New("zk: not authorised to read the znode")
)

// Watcher keeps a set of znodes fresh over one ZooKeeper connection and caches them. See the package doc for
// the concurrency contract. Create it with New; Close stops every goroutine it started.
type Watcher struct {
	conn     *zk.Conn
	ownsConn bool
	log      *slog.Logger
	metrics  *metrics
	resync   time.Duration
	retryMax time.Duration
	// sessionTimeout is the session timeout asked of the server (which may raise it to 2 ticks).
	sessionTimeout time.Duration
	chroot         string // prefix of every server path, "" for none
	digest         []byte // digest credentials ("user:password"), owned by the monitor goroutine
	authDone       bool   // owned by the monitor goroutine: digest added; go-zookeeper re-sends it on reconnect
	// acl is the ACL of every znode the Store and the Election create: all permissions for the digest identity
	// only, or world-open without Digest.
	acl []zk.ACL
	// authed is closed once the server accepted the digest credentials (at once without Digest); until then no
	// Store call is sent, so that none runs unauthenticated.
	authed chan struct{}
	ctx    context.Context // cancelled by Close; parent of every goroutine's context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the Watcher or its trackers started

	mu      sync.Mutex
	closed  bool
	session SessionInfo
	gen     uint64 // incremented whenever a session becomes usable; reads of older generations are uncertain
	paths   map[string]*pathWatch
	// sessionSubs are kicked (capacity-1 channels, never blocking) on every session state change.
	sessionSubs map[chan struct{}]struct{}
}

// New starts a Watcher. It does not wait for a session: until one is established every snapshot is uncertain.
func New(opts Options) (*Watcher, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	w := &Watcher{
		log:            opts.Logger,
		metrics:        newMetrics(opts.Registerer),
		resync:         opts.ResyncInterval,
		retryMax:       opts.RetryMax,
		sessionTimeout: opts.SessionTimeout,
		chroot:         strings.TrimSuffix(opts.Chroot, "/"),
		paths:          map[string]*pathWatch{},
		sessionSubs:    map[chan struct{}]struct{}{},
		session:        SessionInfo{State: StateConnecting, Since: time.Now()},
	}
	events := opts.Events
	if opts.Conn != nil {
		w.conn = opts.Conn
	} else {
		conn, ev, err := zk.Connect(opts.Servers, opts.SessionTimeout,
			zk.WithLogger(zkLogger{opts.Logger}), zk.WithMaxBufferSize(opts.MaxBufferSize),
			zk.WithDialer(cappedDialer(max(opts.SessionTimeout, 2*time.Second))))
		if err != nil {
			return nil, fmt.Errorf("zk: connect to %v: %w", opts.Servers, err)
		}
		w.conn, w.ownsConn, events = conn, true, ev
	}
	w.acl, w.authed = zk.WorldACL(zk.PermAll), make(chan struct{})
	if opts.Digest != "" {
		w.digest = []byte(opts.Digest)
		user, password, _ := strings.Cut(opts.Digest, ":")
		w.acl = zk.DigestACL(zk.PermAll, user, password)
	} else {
		close(w.authed)
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.metrics.setState(StateConnecting)
	w.wg.Add(1)
	go w.monitor(events)
	return w, nil
}

// Close stops every goroutine of the Watcher and of the trackers built on it, closes the connection if the
// Watcher dialed it, and waits for all of them. Snapshots read afterwards are uncertain. Close is idempotent.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.session.State, w.session.Since = StateClosed, time.Now()
	n := len(w.paths)
	w.mu.Unlock()
	w.cancel()
	if w.ownsConn {
		w.conn.Close() // fails in-flight requests, so read goroutines return
	}
	w.wg.Wait()
	w.metrics.watchedPaths.Sub(float64(n))
	w.metrics.setState(StateClosed)
	return nil
}

// Protected reports whether the Watcher authenticates with Digest, and so whether the znodes the Store and
// the Election create are closed to every other identity (all permissions for the digest identity, nothing
// for anyone else); without Digest they are world-open.
func (w *Watcher) Protected() bool { return w.digest != nil }

// awaitAuth waits until the digest credentials were accepted (at once without Digest), ctx ends, or expired
// fires.
func (w *Watcher) awaitAuth(ctx context.Context, expired <-chan time.Time) error {
	select {
	case <-w.authed:
		return nil
	default:
	}
	select {
	case <-w.authed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w (not authenticated yet)", ErrUnavailable, ctx.Err())
	case <-expired:
		return fmt.Errorf("%w: not authenticated yet (session %s)", ErrUnavailable, w.Session().State)
	case <-w.ctx.Done():
		return ErrClosed
	}
}

// Session returns the current session state.
func (w *Watcher) Session() SessionInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.session
}

// goTracked runs fn in a goroutine that Close waits for. It fails with ErrClosed after Close.
func (w *Watcher) goTracked(fn func()) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		fn()
	}()
	return nil
}

// subscribeSession makes observe kick ch (which must have capacity 1) on every session state change, until
// the returned function is called.
func (w *Watcher) subscribeSession(ch chan struct{}) (unsubscribe func(), err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	w.sessionSubs[ch] = struct{}{}
	return func() {
		w.mu.Lock()
		delete(w.sessionSubs, ch)
		w.mu.Unlock()
	}, nil
}

// monitor drains the session event channel (go-zookeeper drops events once its six slots are full) and samples
// the connection state; either way it acts on the sampled state, so a dropped event costs at most one poll.
func (w *Watcher) monitor(events <-chan zk.Event) {
	defer w.wg.Done()
	tick := time.NewTicker(statePollInterval)
	defer tick.Stop()
	w.observe()
	for {
		select {
		case <-w.ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				events = nil
			}
		case <-tick.C:
		}
		w.observe()
	}
}

// observe compares the connection's state with the recorded one and, on a change, records it and kicks every
// path: to publish "uncertain" when the session is lost, to re-read (and re-arm if needed) when one is usable.
func (w *Watcher) observe() {
	state, sid, server := sessionStateOf(w.conn.State()), w.conn.SessionID(), w.conn.Server()
	if state == StateConnected && w.digest != nil && !w.authDone {
		// go-zookeeper remembers credentials only once the server accepted them, and then re-sends them on
		// every reconnect; until then the session is not usable, since reads could be refused.
		if err := w.conn.AddAuth("digest", w.digest); err != nil {
			w.log.Warn("zookeeper digest authentication failed; will retry", "err", err)
			state = StateConnecting
		} else {
			w.authDone = true
			close(w.authed)
		}
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	prev := w.session
	newSession := state == StateConnected && sid != prev.ID
	if state == prev.State && !newSession {
		w.mu.Unlock()
		return
	}
	w.session.State, w.session.Since, w.session.Server = state, time.Now(), server
	if state == StateConnected {
		w.gen++
		if newSession {
			w.session.ID = sid
			w.session.Sessions++
		}
	}
	kicks := make([]chan struct{}, 0, len(w.paths)+len(w.sessionSubs))
	for _, p := range w.paths {
		kicks = append(kicks, p.kick)
	}
	for k := range w.sessionSubs {
		kicks = append(kicks, k)
	}
	info := w.session
	w.mu.Unlock()

	w.metrics.setState(state)
	switch {
	case newSession && info.Sessions > 1:
		w.metrics.newSessions.Inc()
		w.log.Warn("zookeeper session expired; new session established, re-reading every watched path",
			"session", fmt.Sprintf("0x%x", sid), "old_session", fmt.Sprintf("0x%x", prev.ID), "server", server)
	case newSession:
		w.metrics.newSessions.Inc()
		w.log.Info("zookeeper session established", "session", fmt.Sprintf("0x%x", sid), "server", server)
	case state == StateConnected:
		w.log.Info("zookeeper reconnected within the session", "session", fmt.Sprintf("0x%x", sid), "server", server)
	case prev.State == StateConnected:
		w.log.Warn("zookeeper session lost; watched data is uncertain", "state", state.String())
	default:
		w.log.Debug("zookeeper session state", "state", state.String())
	}
	for _, k := range kicks {
		select {
		case k <- struct{}{}:
		default:
		}
	}
}

// Get returns path's data. A watched path's snapshot is returned when it is certain; otherwise Get reads
// ZooKeeper directly. When ZooKeeper cannot answer, Get returns the last snapshot (uncertain, possibly empty)
// with an error wrapping ErrUnavailable, so the caller can fall back to probing.
func (w *Watcher) Get(ctx context.Context, path string) (Node, error) {
	cached := Node{Path: path}
	w.mu.Lock()
	closed, state := w.closed, w.session.State
	if p := w.paths[path]; p != nil {
		cached = w.snapshotLocked(p)
	}
	w.mu.Unlock()
	switch {
	case closed:
		return cached, ErrClosed
	case cached.Certain:
		return cached, nil
	case state != StateConnected:
		return cached, fmt.Errorf("zk: get %s: %w (session %s)", path, ErrUnavailable, state)
	}
	type result struct {
		n   Node
		err error
	}
	done := make(chan result, 1)
	if err := w.goTracked(func() {
		n, _, err := w.read(path, false)
		done <- result{n, err}
	}); err != nil {
		return cached, err
	}
	select {
	case r := <-done:
		if r.err != nil {
			return cached, fmt.Errorf("zk: get %s: %w", path, r.err)
		}
		r.n.Certain = true
		return r.n, nil
	case <-ctx.Done():
		return cached, fmt.Errorf("zk: get %s: %w", path, ctx.Err())
	}
}

// classify maps a go-zookeeper error to this package's vocabulary, keeping the original in the chain.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zk.ErrNoAuth):
		return fmt.Errorf("%w: %w", ErrNoAuth, err)
	case errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrNoServer), errors.Is(err, zk.ErrClosing),
		errors.Is(err, zk.ErrSessionExpired), errors.Is(err, zk.ErrSessionMoved):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
