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
// per JobManager (a call to it reuses it instead of opening a connection), kept idle for at least
// minJobManagerIdle and four refresh periods. The number of idle connections is capped only by the process's
// open-file limit (half of it, see idleConnLimit), not by a number below the JobManagers': the pool drops its
// least recently used connection, and a pass asks JobManagers in the order of the one before, so a cap below
// their number would keep nothing useful. The gateway thus holds one file descriptor per JobManager asked
// within the idle timeout — the running application jobs, sessions and registered clusters, and those that
// ended in that time (README, "Operations"). dial replaces the dialer when set (the simulator's).
func newJobManagerTransport(refresh time.Duration, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = idleConnLimit()
	t.MaxIdleConnsPerHost = 1
	t.IdleConnTimeout = max(minJobManagerIdle, 4*refresh)
	if dial != nil {
		t.DialContext = dial
	}
	return t
}
