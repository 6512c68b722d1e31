package kerberos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrNoTicket means there is no valid ticket-granting ticket: the first login has not succeeded yet, or the
// ticket expired while renewals and logins failed. Errors that wrap it are *LoginError values.
var ErrNoTicket = errors.New("kerberos: no valid ticket")

// Options configures a Login.
type Options struct {
	// Principal is the gateway's principal, such as yarngate@EXAMPLE.COM or yarngate/host.example.com; without
	// a realm, krb5.conf's default_realm applies. Required.
	Principal string
	// Keytab is the path of the keytab holding the principal's key. Required.
	Keytab string
	// Krb5Conf is the path of krb5.conf (realms, KDCs, encryption types). Required.
	Krb5Conf string
	// RefreshFraction is how far into a ticket's lifetime Run renews it or logs in again. It must stay below
	// 5/6: gokrb5 clients start renewing a ticket by themselves in its last sixth. Default 0.7.
	RefreshFraction float64
	// RetryMin and RetryMax bound the backoff between failed logins. Defaults 1s and 1m.
	RetryMin, RetryMax time.Duration
	// Registerer receives the metrics (see NewMetrics for the names). Nil registers none.
	Registerer prometheus.Registerer
	// Logger receives logins, renewals and failures. Nil discards.
	Logger *slog.Logger

	// kdc and now replace the KDC exchanges and the clock in tests.
	kdc kdc
	now func() time.Time
}

func (o *Options) setDefaults() {
	if o.RefreshFraction == 0 {
		o.RefreshFraction = 0.7
	}
	if o.RetryMin == 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax == 0 {
		o.RetryMax = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
}

func (o *Options) validate() error {
	var errs []error
	if strings.TrimSpace(o.Principal) == "" || strings.ContainsAny(o.Principal, " \t\n") || strings.Count(o.Principal, "@") > 1 {
		errs = append(errs, fmt.Errorf("principal %q is not a Kerberos principal name", o.Principal))
	}
	if o.Keytab == "" {
		errs = append(errs, errors.New("no keytab"))
	}
	if o.Krb5Conf == "" {
		errs = append(errs, errors.New("no krb5.conf"))
	}
	if o.RefreshFraction <= 0 || o.RefreshFraction >= 5.0/6 {
		errs = append(errs, fmt.Errorf("refresh fraction %v is outside (0, 5/6)", o.RefreshFraction))
	}
	if o.RetryMin <= 0 || o.RetryMax < o.RetryMin {
		errs = append(errs, errors.New("retry backoff: need 0 < min <= max"))
	}
	return errors.Join(errs...)
}

// ticket is one ticket-granting ticket and the gokrb5 client that uses it.
type ticket struct {
	client *client.Client
	// start, end and renewTill are the ticket's validity: it may be used from start to end, and renewed
	// until renewTill.
	start, end, renewTill time.Time
	// renew holds what a renewal needs (nil in tests).
	renew *renewal
}

// renewable reports whether a renewal at now would extend the ticket.
func (t *ticket) renewable(now time.Time) bool {
	return now.Before(t.end) && t.renewTill.After(t.end)
}

// kdc performs the exchanges with the KDC.
type kdc interface {
	// login does an AS exchange with the keytab's key.
	login() (*ticket, error)
	// renew renews t with a TGS exchange.
	renew(t *ticket) (*ticket, error)
}

// Login is the gateway's Kerberos login. Its methods are safe for concurrent use; Run must be called once.
type Login struct {
	// Immutable after New.
	opts      Options
	kdc       kdc
	metrics   *metrics
	log       *slog.Logger
	attempted chan struct{} // closed when the first login attempt has ended, whatever its outcome

	// mu guards the fields below.
	mu sync.Mutex
	// cur is the newest ticket, nil before the first login.
	cur *ticket
	// lastErr is the failure of the latest login or renewal, nil after a success.
	lastErr error
}

// New validates opts and returns a Login. It reads no file and starts nothing; Run does the work.
func New(opts Options) (*Login, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("kerberos options: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	k := opts.kdc
	if k == nil {
		k = &gokrb5KDC{principal: opts.Principal, keytab: opts.Keytab, krb5Conf: opts.Krb5Conf}
	}
	return &Login{opts: opts, kdc: k, metrics: m, log: opts.Logger, attempted: make(chan struct{})}, nil
}

// Principal returns the configured principal name.
func (l *Login) Principal() string { return l.opts.Principal }

// FirstAttempt is closed once Run's first login attempt has ended, successfully or not; Ready then tells
// which.
func (l *Login) FirstAttempt() <-chan struct{} { return l.attempted }

// Client returns the gokrb5 client of the current ticket. It fails, wrapping ErrNoTicket in a *LoginError,
// when there is no valid ticket. A different pointer than before means new credentials.
func (l *Login) Client() (*client.Client, error) {
	t, err := l.valid()
	if err != nil {
		return nil, err
	}
	return t.client, nil
}

// Expiry returns when the current ticket expires, and false without one.
func (l *Login) Expiry() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur == nil {
		return time.Time{}, false
	}
	return l.cur.end, true
}

// Ready is the readiness check: nil while a valid ticket is held, else a *LoginError whose PublicReason says
// why without naming the principal, a path or a key.
func (l *Login) Ready(context.Context) error {
	_, err := l.valid()
	return err
}

// valid returns the current ticket if it has not expired.
func (l *Login) valid() (*ticket, error) {
	now := l.opts.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur != nil && now.Before(l.cur.end) {
		return l.cur, nil
	}
	var le *LoginError
	switch {
	case errors.As(l.lastErr, &le):
		return nil, &LoginError{Reason: le.Reason, Err: fmt.Errorf("%w: %w", ErrNoTicket, le.Err)}
	case l.lastErr != nil:
		return nil, &LoginError{Reason: "the Kerberos login failed", Err: fmt.Errorf("%w: %w", ErrNoTicket, l.lastErr)}
	case l.cur != nil:
		return nil, &LoginError{Reason: "the Kerberos ticket expired and has not been renewed yet", Err: ErrNoTicket}
	}
	return nil, &LoginError{Reason: "the Kerberos login has not completed yet", Err: ErrNoTicket}
}

// Run logs in, keeps the ticket fresh and retries failures until ctx ends. It is the only goroutine of the
// package, and the app starts and stops it.
func (l *Login) Run(ctx context.Context) {
	failures := 0
	for first := true; ; first = false {
		wait, ok := l.step()
		if first {
			close(l.attempted)
		}
		if ok {
			failures = 0
		} else {
			failures++
			wait = l.backoff(failures)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is the wait after the n-th failure in a row.
func (l *Login) backoff(n int) time.Duration {
	d := l.opts.RetryMin
	for i := 1; i < n && d < l.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, l.opts.RetryMax)
}

// refreshAt is when t is due for renewal or a new login.
func (l *Login) refreshAt(t *ticket) time.Time {
	life := t.end.Sub(t.start)
	if life <= 0 {
		return t.start
	}
	return t.start.Add(time.Duration(float64(life) * l.opts.RefreshFraction))
}

// step does what is due: nothing before the current ticket's refresh time, else a renewal when the ticket
// is renewable and a login otherwise (or when the renewal failed). It returns the wait until the next step
// and false after a failure.
func (l *Login) step() (time.Duration, bool) {
	l.mu.Lock()
	cur := l.cur
	l.mu.Unlock()
	now := l.opts.now()
	if cur != nil {
		if at := l.refreshAt(cur); now.Before(at) {
			return at.Sub(now), true
		}
	}
	var next *ticket
	var err error
	kind := "login"
	if cur != nil && cur.renewable(now) {
		kind = "renewal"
		next, err = l.exchange(kind, func() (*ticket, error) { return l.kdc.renew(cur) })
		if err != nil {
			l.log.Warn("kerberos ticket renewal failed; logging in from the keytab", "principal", l.opts.Principal, "error", err)
			kind = "login"
		}
	}
	if next == nil {
		next, err = l.exchange(kind, l.kdc.login)
	}
	if err != nil {
		l.mu.Lock()
		l.lastErr = err
		l.mu.Unlock()
		args := []any{"principal", l.opts.Principal, "keytab", l.opts.Keytab, "krb5Conf", l.opts.Krb5Conf, "error", err}
		if cur != nil && now.Before(cur.end) {
			l.log.Warn("kerberos login failed; the current ticket stays in use", append(args, "expires", cur.end)...)
		} else {
			l.log.Error("kerberos login failed", args...)
		}
		return 0, false
	}
	l.mu.Lock()
	l.cur, l.lastErr = next, nil
	l.mu.Unlock()
	l.metrics.expiry.Set(float64(next.end.UnixNano()) / 1e9)
	l.log.Info("kerberos ticket", "how", kind, "principal", l.opts.Principal, "expires", next.end,
		"renewableUntil", next.renewTill, "nextRefresh", l.refreshAt(next))
	return max(l.refreshAt(next).Sub(l.opts.now()), 0), true
}

// exchange runs one KDC exchange and records it in the metrics.
func (l *Login) exchange(kind string, do func() (*ticket, error)) (*ticket, error) {
	began := time.Now()
	t, err := do()
	took := time.Since(began)
	result := "ok"
	if err != nil {
		result = "error"
	}
	l.metrics.exchanges.WithLabelValues(kind, result).Inc()
	l.metrics.duration.WithLabelValues(kind).Observe(took.Seconds())
	if err == nil {
		l.log.Debug("kerberos exchange", "how", kind, "took", took)
	}
	return t, err
}
