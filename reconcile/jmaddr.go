package reconcile

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/yarngate/yarngate/yarnclient"
)

// A JobManager address comes from what a job controls: the AM registers its own RPC address with YARN, and any
// client of the quorum can write a Flink leader znode. The gateway calls that address (status, cancel, session
// shutdown, jar uploads and runs), so it only takes one whose host is the host of the application's current AM
// container, as YARN reports it (amHostHttpAddress: the node the ResourceManager placed the container on, not
// something the AM says). A job can thus only point the gateway at its own machine.

// hostCacheTTL is how long the addresses of a host name are remembered, found or not.
const hostCacheTTL = time.Minute

// hostLookupTimeout bounds one name resolution.
const hostLookupTimeout = time.Second

// hostMatcher tells whether two host names name one machine. Its lookups are cached.
type hostMatcher struct {
	lookup func(ctx context.Context, host string) ([]string, error)
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]hostAddrs // by lower-case name
}

// hostAddrs is a cached resolution.
type hostAddrs struct {
	addrs []netip.Addr
	at    time.Time
}

func newHostMatcher(lookup func(ctx context.Context, host string) ([]string, error), now func() time.Time) *hostMatcher {
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	return &hostMatcher{lookup: lookup, now: now, cache: map[string]hostAddrs{}}
}

// normalizeHost lower-cases a host name and drops a trailing dot and IPv6 brackets.
func normalizeHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// same reports whether hosts a and b name the same machine: the same name (case and a trailing dot aside), or
// names with an address in common; every loopback address is the gateway's own machine. A name that does not
// resolve matches only itself.
func (m *hostMatcher) same(ctx context.Context, a, b string) bool {
	a, b = normalizeHost(a), normalizeHost(b)
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	as, bs := m.addrs(ctx, a), m.addrs(ctx, b)
	for _, x := range as {
		for _, y := range bs {
			if x == y || (x.IsLoopback() && y.IsLoopback()) {
				return true
			}
		}
	}
	return false
}

// addrs returns the addresses of host (itself if it is an address), from the cache when fresh.
func (m *hostMatcher) addrs(ctx context.Context, host string) []netip.Addr {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap().WithZone("")}
	}
	m.mu.Lock()
	c, ok := m.cache[host]
	m.mu.Unlock()
	if ok && m.now().Sub(c.at) < hostCacheTTL {
		return c.addrs
	}
	ctx, cancel := context.WithTimeout(ctx, hostLookupTimeout)
	defer cancel()
	names, err := m.lookup(ctx, host)
	var out []netip.Addr
	if err == nil {
		for _, n := range names {
			if ip, err := netip.ParseAddr(n); err == nil {
				out = append(out, ip.Unmap().WithZone(""))
			}
		}
	}
	if ctx.Err() == nil || len(out) > 0 { // a lookup cut short by the caller is not remembered
		m.mu.Lock()
		m.cache[host] = hostAddrs{addrs: out, at: m.now()}
		m.mu.Unlock()
	}
	return out
}

// amHost returns the host of the application's current AM container as YARN reports it (its NodeManager's
// web address, amHostHttpAddress), "" when it has none.
func amHost(app *yarnclient.App) string {
	a := app.AMHostHTTPAddress
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

// urlHost returns the host of a REST base URL, "" when it has none.
func urlHost(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// onAMHost reports whether the JobManager REST base jm (from source: YARN's amRPCAddress or the ZooKeeper
// leader) lies on the host of the application's current AM container. An address refused is logged once per
// application and address.
func (r *Reconciler) onAMHost(ctx context.Context, app *yarnclient.App, jm, source string) bool {
	host := amHost(app)
	if r.hosts.same(ctx, urlHost(jm), host) {
		return true
	}
	r.mu.Lock()
	logged := r.refused[app.ID][jm]
	if !logged {
		if r.refused[app.ID] == nil {
			r.refused[app.ID] = map[string]bool{}
		}
		r.refused[app.ID][jm] = true
	}
	r.mu.Unlock()
	if !logged {
		r.opts.Logger.WarnContext(ctx, "ignoring a JobManager address that is not on the host of the application's AM container",
			"applicationId", app.ID, "address", jm, "source", source, "amHost", host)
	}
	return false
}
