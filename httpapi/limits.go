package httpapi

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/throttle"
)

// longPollRetryAfter is the wait a long poll refused at a cap is told to keep before it asks again.
const longPollRetryAfter = time.Second

// RateLimit is a per-client token bucket: Rate requests per second on average, Burst at once. A zero Rate
// disables it.
type RateLimit struct {
	Rate  float64
	Burst int
}

// RemoteIP is the default client key of the per-client limits: the host of the request's peer address,
// never a forwarded header. Once authentication puts the caller's principal into the request context,
// Options.ClientKey becomes a function returning it (falling back to RemoteIP for anonymous requests).
func RemoteIP(r *http.Request) string {
	return remoteIP(r)
}

// PrincipalOrRemoteIP names the client of a request by its authenticated principal (authn.FromContext),
// and an unauthenticated one by its remote address.
func PrincipalOrRemoteIP(r *http.Request) string {
	if p, ok := authn.FromContext(r.Context()); ok && p.Method != authn.MethodNone {
		return "principal:" + p.Name
	}
	return remoteIP(r)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limits are the admission limits of the HTTP layer, built from Options.
type limits struct {
	clientKey func(*http.Request) string
	now       func() time.Time
	writes    *throttle.Limiter // nil: no limit
	reads     *throttle.Limiter
	longPolls *throttle.Gate // nil: no cap
}

func newLimits(o *Options) limits {
	return limits{
		clientKey: o.ClientKey,
		now:       o.Now,
		writes:    throttle.NewLimiter(o.WriteLimit.Rate, o.WriteLimit.Burst),
		reads:     throttle.NewLimiter(o.ReadLimit.Rate, o.ReadLimit.Burst),
		longPolls: throttle.NewGate(o.LongPolls, o.LongPollsPerClient),
	}
}

// limitRate refuses a request whose client has used up its bucket (reads: GET and HEAD; writes: every
// other method) with 429 rate_limited and Retry-After.
func (s *server) limitRate() gin.HandlerFunc {
	return func(c *gin.Context) {
		lim, kind := s.limits.writes, "mutating requests"
		if m := c.Request.Method; m == http.MethodGet || m == http.MethodHead {
			lim, kind = s.limits.reads, "reads"
		}
		if ok, retry := lim.Allow(s.limits.clientKey(c.Request), s.limits.now()); !ok {
			e := newAPIError(http.StatusTooManyRequests, api.CodeRateLimited, "too many "+kind+" from this client; retry after the time given", nil)
			e.retryAfter = retry
			s.renderError(c, e)
			return
		}
		c.Next()
	}
}

// bodyDeadline bounds reading the body of every request that has one by Options.BodyTimeout, so that a
// client cannot hold a connection and a goroutine by sending a small JSON body slowly. Jar uploads replace
// the deadline on each read (idleReader). Requests without a body get none: net/http already watches their
// connection for the client going away, and a deadline would cut a long poll short. Once a body has been
// read to its end, net/http clears the deadline itself.
func (s *server) bodyDeadline() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength != 0 && c.Request.Body != nil && c.Request.Body != http.NoBody {
			// Not every ResponseWriter supports deadlines (httptest's recorder does not).
			_ = http.NewResponseController(c.Writer).SetReadDeadline(s.limits.now().Add(s.opts.BodyTimeout))
		}
		c.Next()
	}
}

// admitLongPoll takes a long-poll place for the request's client. When a cap is reached it returns 429
// rate_limited (with Retry-After): a long poll holds a goroutine and a connection, so their number is
// bounded, and a client told to retry does not spin. release must be called when the long poll ends.
func (s *server) admitLongPoll(c *gin.Context) (release func(), err error) {
	free, ok := s.limits.longPolls.Acquire(s.limits.clientKey(c.Request))
	if !ok {
		s.metrics.longPollsRefused.Inc()
		e := newAPIError(http.StatusTooManyRequests, api.CodeRateLimited,
			"too many long polls (?wait=) are waiting; retry after the time given, or read without ?wait=", nil)
		e.retryAfter = longPollRetryAfter
		return nil, e
	}
	s.metrics.longPolls.Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			free()
			s.metrics.longPolls.Dec()
		})
	}, nil
}

// newPace returns the pace of one upload body (nil when no limit is configured).
func (s *server) newPace() *throttle.Pace {
	if s.opts.UploadPace == (throttle.PaceOptions{}) {
		return nil
	}
	return throttle.NewPace(s.opts.UploadPace)
}
