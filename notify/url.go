package notify

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// ErrURLRefused is returned for a webhook URL the gateway will not call.
var ErrURLRefused = errors.New("notify: webhook URL refused")

// Policy says which webhook URLs the gateway calls. By default only https URLs of hosts that resolve to
// public addresses; AllowHosts lists hosts that may also be called over plain http and may resolve to
// loopback or private addresses (a receiver on the gateway's own network, a test's).
type Policy struct {
	// AllowHosts are host names or IP literals, compared case-insensitively with the URL's host (no port).
	AllowHosts []string
}

func (p Policy) allowed(host string) bool {
	return slices.ContainsFunc(p.AllowHosts, func(h string) bool { return strings.EqualFold(h, host) })
}

// Check validates a webhook URL: absolute http(s), no credentials, no fragment; https unless its host is
// allowed. It does not resolve the host: the dialer refuses non-public addresses at each call.
func (p Policy) Check(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w: %q is not an absolute URL", ErrURLRefused, raw)
	}
	if u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%w: a webhook URL carries no credentials and no fragment", ErrURLRefused)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.allowed(u.Hostname()) {
			return fmt.Errorf("%w: plain http only to hosts of notify.allowHosts", ErrURLRefused)
		}
	default:
		return fmt.Errorf("%w: scheme must be https", ErrURLRefused)
	}
	return nil
}

// clients returns the HTTP clients webhooks are called with: one that refuses to connect to non-public
// addresses (loopback, private, link-local, unspecified, multicast), for every host not allowed, and one
// without that guard for allowed hosts. Neither follows redirects (a 3xx answer is a failed delivery).
func (p Policy) clients(timeout time.Duration) (guarded, open *http.Client) {
	mk := func(control func(network, address string, c syscall.RawConn) error) *http.Client {
		d := &net.Dialer{Timeout: timeout, Control: control}
		tr := &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute, Proxy: nil}
		return &http.Client{Transport: tr, Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return mk(refusePrivate), mk(nil)
}

// refusePrivate is a dialer Control that refuses connections to addresses that are not public.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !Public(ip) {
		return fmt.Errorf("%w: %s is not a public address", ErrURLRefused, host)
	}
	return nil
}

// Public reports whether ip is a public unicast address.
func Public(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || ip.Equal(net.IPv4bcast))
}

// client picks the client for a URL.
func (s *Sender) client(raw string) *http.Client {
	if u, err := url.Parse(raw); err == nil && s.opts.Policy.allowed(u.Hostname()) {
		return s.open
	}
	return s.guarded
}
