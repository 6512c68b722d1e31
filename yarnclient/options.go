package yarnclient

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RM is one ResourceManager web endpoint.
type RM struct {
	// ID is the rm-id from yarn.resourcemanager.ha.rm-ids, such as "rm1". It may be empty for a
	// non-HA cluster with a single ResourceManager.
	ID string
	// URL is the web address, such as http://rm1.example.com:8088, without a path.
	URL string
}

// RetryPolicy bounds the retries of transient failures.
type RetryPolicy struct {
	// MaxAttempts is how many times one call is tried in total (1 means no retry).
	MaxAttempts int
	// InitialBackoff is the wait before the second attempt; it doubles for each further attempt.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait between two attempts.
	MaxBackoff time.Duration
}

// Options configure a Client. Zero fields take the defaults of DefaultOptions, except RMs and User,
// which are required.
type Options struct {
	// RMs are the ResourceManager web endpoints: one for a non-HA cluster, one per rm-id for HA.
	RMs []RM
	// User is sent as ?user.name= on every call (Hadoop simple authentication), so that submissions
	// are attributed to this user. A call under AsUser names its own user instead.
	User string
	// DoAs names the user of a call under AsUser with ?doAs= (the client authenticates as itself, with
	// SPNEGO, and acts for the user as a Hadoop proxy user) instead of with ?user.name= (simple
	// authentication, where the ResourceManager believes the name it is given).
	DoAs bool
	// HTTPClient sends the requests. Its redirect policy is replaced: the client follows a
	// standby's 307 itself. When nil, a client with sane transport timeouts is used.
	HTTPClient *http.Client
	// RequestTimeout bounds one HTTP exchange (one attempt).
	RequestTimeout time.Duration
	// MaxAnswer caps the bytes read of one answer; a larger answer fails the call with ErrAnswerTooLarge
	// (never silently truncated). Default 32 MiB.
	MaxAnswer int64
	// Retry bounds the retries of transient failures.
	Retry RetryPolicy
	// FailoverTimeout bounds the search for an active ResourceManager; after it the call fails
	// with ErrNoActiveRM.
	FailoverTimeout time.Duration
	// KillPollInterval is how often Kill polls the report until the application is terminal.
	KillPollInterval time.Duration
	// SubmitConfirmTimeout bounds how long Submit waits for the ResourceManager to report a submitted
	// application saved (past NEW_SAVING), re-submitting it after a failover that lost it.
	SubmitConfirmTimeout time.Duration
	// Authenticate, when set, decorates every outgoing request (for example with a SPNEGO
	// Authorization header). An error fails that attempt without retry.
	Authenticate func(*http.Request) error
	// Logger receives debug records of attempts and warnings of failovers. Nil discards.
	Logger *slog.Logger
}

// DefaultOptions returns the defaults for every optional field.
func DefaultOptions() Options {
	return Options{
		RequestTimeout: 30 * time.Second,
		MaxAnswer:      32 << 20,
		Retry: RetryPolicy{
			MaxAttempts:    4,
			InitialBackoff: 250 * time.Millisecond,
			MaxBackoff:     5 * time.Second,
		},
		FailoverTimeout:      60 * time.Second,
		KillPollInterval:     500 * time.Millisecond,
		SubmitConfirmTimeout: 2 * time.Minute,
	}
}

// withDefaults fills zero fields from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.RequestTimeout == 0 {
		o.RequestTimeout = d.RequestTimeout
	}
	if o.MaxAnswer <= 0 {
		o.MaxAnswer = d.MaxAnswer
	}
	if o.Retry.MaxAttempts == 0 {
		o.Retry.MaxAttempts = d.Retry.MaxAttempts
	}
	if o.Retry.InitialBackoff == 0 {
		o.Retry.InitialBackoff = d.Retry.InitialBackoff
	}
	if o.Retry.MaxBackoff == 0 {
		o.Retry.MaxBackoff = d.Retry.MaxBackoff
	}
	if o.FailoverTimeout == 0 {
		o.FailoverTimeout = d.FailoverTimeout
	}
	if o.KillPollInterval == 0 {
		o.KillPollInterval = d.KillPollInterval
	}
	if o.SubmitConfirmTimeout == 0 {
		o.SubmitConfirmTimeout = d.SubmitConfirmTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// validate reports every problem with the options at once.
func (o Options) validate() error {
	var errs []error
	if len(o.RMs) == 0 {
		errs = append(errs, errors.New("at least one ResourceManager is required"))
	}
	seen := map[string]bool{}
	for i, rm := range o.RMs {
		u, err := url.Parse(rm.URL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("RMs[%d]: url %q: %w", i, rm.URL, err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("RMs[%d]: url %q: scheme must be http or https", i, rm.URL))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("RMs[%d]: url %q: no host", i, rm.URL))
		case strings.Trim(u.Path, "/") != "" || u.RawQuery != "":
			errs = append(errs, fmt.Errorf("RMs[%d]: url %q: must not have a path or query", i, rm.URL))
		}
		if len(o.RMs) > 1 && rm.ID == "" {
			errs = append(errs, fmt.Errorf("RMs[%d]: an rm-id is required when there are several ResourceManagers", i))
		}
		if rm.ID != "" && seen[rm.ID] {
			errs = append(errs, fmt.Errorf("RMs[%d]: duplicate rm-id %q", i, rm.ID))
		}
		seen[rm.ID] = true
	}
	if strings.TrimSpace(o.User) == "" {
		errs = append(errs, errors.New("user is required (REST submissions must be attributable)"))
	}
	if o.RequestTimeout < 0 || o.FailoverTimeout < 0 || o.KillPollInterval < 0 {
		errs = append(errs, errors.New("timeouts and intervals must not be negative"))
	}
	if o.Retry.MaxAttempts < 1 || o.Retry.MaxAttempts > 20 {
		errs = append(errs, fmt.Errorf("retry max attempts %d: must be within 1..20", o.Retry.MaxAttempts))
	}
	if o.Retry.InitialBackoff < 0 || o.Retry.MaxBackoff < o.Retry.InitialBackoff {
		errs = append(errs, errors.New("retry backoff: need 0 <= initial <= max"))
	}
	return errors.Join(errs...)
}

// backoff returns the wait before attempt number next (2 for the first retry).
func (p RetryPolicy) backoff(next int) time.Duration {
	d := p.InitialBackoff
	for i := 2; i < next && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.MaxBackoff)
}
