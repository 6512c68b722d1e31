package reconcile

import (
	"context"
	"net"
	"net/http"
	"time"
)

// minJobManagerIdle is the shortest time an idle connection to a JobManager is kept.
const minJobManagerIdle = 90 * time.Second

// newJobManagerTransport is the transport of the reconciler's JobManager calls, sized for thousands of
// JobManagers, each a host of its own that is asked every JobManagerRefresh or so: one idle connection kept
// per JobManager (a call to it reuses it instead of opening a connection), with no cap on their number, and
// kept idle for at least minJobManagerIdle and four refresh periods. A cap below the number of JobManagers
// would keep nothing useful: the pool drops its least recently used connection, and a pass asks JobManagers
// in the order of the one before. The bound is the JobManagers asked within the idle timeout — the running
// application jobs, sessions and registered clusters, and those that ended in that time — one file
// descriptor each (README, Operations). dial replaces the dialer when set (the simulator's).
func newJobManagerTransport(refresh time.Duration, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0 // no cap, see above
	t.MaxIdleConnsPerHost = 1
	t.IdleConnTimeout = max(minJobManagerIdle, 4*refresh)
	if dial != nil {
		t.DialContext = dial
	}
	return t
}
