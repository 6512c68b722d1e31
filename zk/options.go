package zk

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Watcher. Give either Servers (the Watcher dials and owns the connection) or Conn (the
// caller owns it).
type Options struct {
	// Servers is the ZooKeeper quorum, host:port each (a missing port means 2181), as in hadoop.zk.address or
	// high-availability.zookeeper.quorum split at commas.
	Servers []string
	// SessionTimeout is the session timeout asked of the server, which clamps it to its
	// [minSessionTimeout, maxSessionTimeout] (by default 2 and 20 ticks). Default 15 s.
	SessionTimeout time.Duration
	// MaxBufferSize bounds a server reply, and so znode data, when the Watcher dials (go-zookeeper's default is
	// unbounded). Default 1 MiB, ZooKeeper's default jute.maxbuffer.
	MaxBufferSize int

	// Chroot is prefixed to every path, as a connect string's "/chroot" suffix is by ZooKeeper's own clients
	// (go-zookeeper does not do it). ParseConnectString splits it off a connect string. Default: none.
	Chroot string
	// Digest is "user:password" for ZooKeeper digest authentication, added to every session. The znodes the
	// Store and the Election create then admit this identity only (see Watcher.Protected). It is a secret:
	// never log Options. Default: none (SASL is not available in go-zookeeper).
	Digest string

	// Conn is an existing connection to use instead of dialing. The Watcher never closes it. The caller keeps
	// draining its session event channel, unless it passes that channel as Events.
	Conn *zk.Conn
	// Events is Conn's session event channel, optional. The Watcher then drains it until Close.
	Events <-chan zk.Event

	// Logger receives state transitions at info and warn level, and go-zookeeper's own log lines at debug.
	// Default: discard.
	Logger *slog.Logger
	// Registerer receives the metrics (session state, watch re-arms, reads, leader changes). Nil: not exported.
	Registerer prometheus.Registerer
	// ResyncInterval is how often every watched path is re-read even without an event, bounding staleness
	// while a partitioned client hears nothing (go-zookeeper/zk#83) or when a watch was lost. Default 60 s;
	// negative disables it.
	ResyncInterval time.Duration
	// RetryMax caps the backoff between failed reads of one path (from 100 ms, doubling, with jitter).
	// Default 10 s.
	RetryMax time.Duration
}

const (
	defaultSessionTimeout = 15 * time.Second
	defaultMaxBufferSize  = 1 << 20
	defaultResync         = time.Minute
	defaultRetryMax       = 10 * time.Second
	retryMin              = 100 * time.Millisecond
	// statePollInterval is how often the session monitor samples the connection state in addition to
	// draining events: the library drops events when its channel is full, so events only wake the monitor.
	statePollInterval = 250 * time.Millisecond
)

func (o *Options) setDefaults() {
	if o.SessionTimeout == 0 {
		o.SessionTimeout = defaultSessionTimeout
	}
	if o.MaxBufferSize == 0 {
		o.MaxBufferSize = defaultMaxBufferSize
	}
	if o.ResyncInterval == 0 {
		o.ResyncInterval = defaultResync
	}
	if o.RetryMax == 0 {
		o.RetryMax = defaultRetryMax
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	switch {
	case o.Conn == nil && len(o.Servers) == 0:
		return errors.New("zk: options: neither Servers nor Conn is set")
	case o.Conn != nil && len(o.Servers) > 0:
		return errors.New("zk: options: both Servers and Conn are set")
	case o.Conn == nil && o.Events != nil:
		return errors.New("zk: options: Events without Conn")
	case o.SessionTimeout < time.Second:
		return fmt.Errorf("zk: options: SessionTimeout %v is below 1s", o.SessionTimeout)
	case o.MaxBufferSize < 0:
		return fmt.Errorf("zk: options: negative MaxBufferSize %d", o.MaxBufferSize)
	case o.RetryMax < retryMin:
		return fmt.Errorf("zk: options: RetryMax %v is below %v", o.RetryMax, retryMin)
	}
	if o.Chroot != "" {
		if err := zkValidatePath(o.Chroot); err != nil {
			return fmt.Errorf("zk: options: Chroot: %w", err)
		}
	}
	if o.Digest != "" && !strings.Contains(o.Digest, ":") {
		return errors.New("zk: options: Digest is not user:password")
	}
	for _, s := range o.Servers {
		if strings.TrimSpace(s) == "" || strings.ContainsAny(s, ", /") {
			return fmt.Errorf("zk: options: bad server address %q (want host:port, one per element)", s)
		}
	}
	return nil
}

// ParseConnectString splits a ZooKeeper connect string, such as hadoop.zk.address or Flink's
// high-availability.zookeeper.quorum ("zk1:2181,zk2:2181/chroot"), into server addresses and a chroot ("" for
// none), as ZooKeeper's ConnectStringParser does.
func ParseConnectString(s string) (servers []string, chroot string, err error) {
	hosts := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		hosts, chroot = s[:i], strings.TrimSuffix(s[i:], "/")
		if chroot != "" {
			if err := zkValidatePath(chroot); err != nil {
				return nil, "", fmt.Errorf("zk: connect string %q: chroot: %w", s, err)
			}
		}
	}
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			servers = append(servers, h)
		}
	}
	if len(servers) == 0 {
		return nil, "", fmt.Errorf("zk: connect string %q names no server", s)
	}
	return servers, chroot, nil
}

// SessionState is the Watcher's view of its ZooKeeper session.
type SessionState int

// Session states. Only StateConnected serves certain data.
const (
	// StateConnecting means dialing a server or establishing a session; it is also the state before the first.
	StateConnecting SessionState = iota
	// StateConnected means that the client has a live (and, with Digest, authenticated) session.
	StateConnected
	// StateDisconnected means that the connection dropped; the session may still be alive on the server.
	StateDisconnected
	// StateExpired means that the server expired the session; watches are gone, a new session is being set up.
	StateExpired
	// StateAuthFailed means that the server refused the client's authentication.
	StateAuthFailed
	// StateClosed means that the Watcher was closed.
	StateClosed
)

// String returns the state's name as shown in metrics and status endpoints.
func (s SessionState) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateExpired:
		return "expired"
	case StateAuthFailed:
		return "auth_failed"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("SessionState(%d)", int(s))
}

// sessionStateOf maps go-zookeeper's connection state to a SessionState.
func sessionStateOf(s zk.State) SessionState {
	switch s {
	case zk.StateHasSession:
		return StateConnected
	case zk.StateDisconnected, zk.StateUnknown:
		return StateDisconnected
	case zk.StateExpired:
		return StateExpired
	case zk.StateAuthFailed:
		return StateAuthFailed
	default: // StateConnecting, StateConnected (TCP up, no session yet), read-only
		return StateConnecting
	}
}

// SessionInfo describes the Watcher's ZooKeeper session.
type SessionInfo struct {
	// State is the current state.
	State SessionState
	// ID is the id of the current (or, while disconnected, the last) session; 0 before the first.
	ID int64
	// Server is the server address of the current connection, if any.
	Server string
	// Since is when State was entered, as observed by the Watcher.
	Since time.Time
	// Sessions counts sessions established; above 1 means that earlier sessions expired.
	Sessions int
}

// backoff yields exponentially growing, jittered waits between retryMin and max.
type backoff struct {
	max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	b.cur = min(max(2*b.cur, retryMin), b.max)
	return b.cur/2 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }

// zkLogger adapts slog to go-zookeeper's Printf logger, at debug level: the library logs every failed dial,
// and the Watcher reports the transitions that matter itself.
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "go-zookeeper")
}
