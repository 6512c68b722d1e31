package throttle

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sweepEvery is how often Allow drops the buckets of keys that are full again (idle clients), so that the
// map holds only recently active keys. Dropping a full bucket loses nothing: a new one starts full.
const sweepEvery = time.Minute

// Limiter is a token bucket per key: each key may make Rate requests per second on average and Burst at
// once. A nil *Limiter allows everything. It is safe for concurrent use.
type Limiter struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter // by key; only keys seen since their bucket was last full
	lastSweep time.Time
}

// NewLimiter returns a Limiter allowing perSecond requests per second and burst at once per key, or nil
// (no limit) when perSecond is not positive. burst below 1 is taken as 1.
func NewLimiter(perSecond float64, burst int) *Limiter {
	if perSecond <= 0 {
		return nil
	}
	return &Limiter{limit: rate.Limit(perSecond), burst: max(burst, 1), buckets: map[string]*rate.Limiter{}}
}

// Allow takes one token of key's bucket at now. When the bucket is empty it takes nothing and says how long
// until a token is there (at least one second, rounded up to whole seconds, as Retry-After counts).
func (l *Limiter) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay == 0 {
		return true, 0
	}
	r.CancelAt(now)
	return false, time.Duration(math.Ceil(delay.Seconds())) * time.Second
}

// sweep drops full buckets once per sweepEvery. l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}

// keys returns the number of keys with a bucket (tests).
func (l *Limiter) keys() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
