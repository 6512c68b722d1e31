package kerberos

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeKDC issues tickets of a fixed lifetime on a fake clock, or fails as told.
type fakeKDC struct {
	mu        sync.Mutex
	now       func() time.Time
	life      time.Duration
	renewable time.Duration // renewTill - start of a login's ticket; 0: not renewable
	loginErr  error
	renewErr  error
	calls     []string
}

func (k *fakeKDC) login() (*ticket, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, "login")
	if k.loginErr != nil {
		return nil, k.loginErr
	}
	now := k.now()
	till := now.Add(k.life)
	if k.renewable > 0 {
		till = now.Add(k.renewable)
	}
	return &ticket{client: &client.Client{}, start: now, end: now.Add(k.life), renewTill: till}, nil
}

func (k *fakeKDC) renew(t *ticket) (*ticket, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, "renew")
	if k.renewErr != nil {
		return nil, k.renewErr
	}
	now := k.now()
	end := now.Add(k.life)
	if end.After(t.renewTill) {
		end = t.renewTill
	}
	return &ticket{client: &client.Client{}, start: now, end: end, renewTill: t.renewTill}, nil
}

func (k *fakeKDC) took() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.calls...)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestLogin(t *testing.T, k *fakeKDC, clock *fakeClock, reg prometheus.Registerer) *Login {
	t.Helper()
	k.now = clock.now
	l, err := New(Options{Principal: "yarngate@EXAMPLE.COM", Keytab: "/etc/security/yarngate.keytab",
		Krb5Conf: "/etc/krb5.conf", Registerer: reg, kdc: k, now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLoginRefresh walks a login through its ticket's life: renew while renewable, log in again when not
// or when a renewal fails, and keep the ticket in use while a login fails before it expired.
func TestLoginRefresh(t *testing.T) {
	const life = 10 * time.Minute
	type step struct {
		advance   time.Duration
		loginErr  error
		renewErr  error
		wantCalls string // KDC calls of this step
		wantOK    bool
		wantWait  time.Duration // when wantOK
		wantReady bool
	}
	refresh := time.Duration(float64(life) * 0.7)
	kdcDown := exchangeError("login", errors.New("dial tcp: connection refused"))
	tests := []struct {
		name      string
		renewable time.Duration
		steps     []step
	}{
		{name: "not renewable: a new login each time", steps: []step{
			{wantCalls: "login", wantOK: true, wantWait: refresh, wantReady: true},
			{advance: refresh / 2, wantCalls: "", wantOK: true, wantWait: refresh / 2, wantReady: true},
			{advance: refresh / 2, wantCalls: "login", wantOK: true, wantWait: refresh, wantReady: true},
		}},
		{name: "renewable: renewals until the renewable life ends, then a login", renewable: life + life/2, steps: []step{
			{wantCalls: "login", wantOK: true, wantWait: refresh, wantReady: true},
			{advance: refresh, wantCalls: "renew", wantOK: true, wantWait: time.Duration(float64(life/2+life-refresh)*0.7) - 0, wantReady: true},
		}},
		{name: "a failed renewal falls back to a login", renewable: 3 * life, steps: []step{
			{wantCalls: "login", wantOK: true, wantWait: refresh, wantReady: true},
			{advance: refresh, renewErr: errors.New("KDC_ERR_BADOPTION"), wantCalls: "renew,login", wantOK: true, wantWait: refresh, wantReady: true},
		}},
		{name: "the KDC down: the ticket stays in use until it expires", steps: []step{
			{wantCalls: "login", wantOK: true, wantWait: refresh, wantReady: true},
			{advance: refresh, loginErr: kdcDown, wantCalls: "login", wantReady: true},
			{advance: life - refresh, loginErr: kdcDown, wantCalls: "login", wantReady: false},
			{wantCalls: "login", wantOK: true, wantWait: refresh, wantReady: true},
		}},
		{name: "never logged in", steps: []step{
			{loginErr: noKeyForPrincipal(), wantCalls: "login", wantReady: false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)}
			k := &fakeKDC{life: life, renewable: tc.renewable}
			l := newTestLogin(t, k, clock, nil)
			for i, s := range tc.steps {
				clock.advance(s.advance)
				k.mu.Lock()
				k.loginErr, k.renewErr, k.calls = s.loginErr, s.renewErr, nil
				k.mu.Unlock()
				wait, ok := l.step()
				if got := strings.Join(k.took(), ","); got != s.wantCalls {
					t.Errorf("step %d: KDC calls %q, want %q", i, got, s.wantCalls)
				}
				if ok != s.wantOK || (ok && wait != s.wantWait) {
					t.Errorf("step %d: step() = %v, %v; want %v, %v", i, wait, ok, s.wantWait, s.wantOK)
				}
				if err := l.Ready(t.Context()); (err == nil) != s.wantReady {
					t.Errorf("step %d: Ready() = %v, want ready %v", i, err, s.wantReady)
				}
				if _, err := l.Client(); (err == nil) != s.wantReady {
					t.Errorf("step %d: Client() error %v, want ready %v", i, err, s.wantReady)
				}
			}
		})
	}
}

func TestReadyReasonIsSecretFree(t *testing.T) {
	tests := []struct {
		name       string
		loginErr   error
		wantReason string
	}{
		{name: "before the first login", wantReason: "kerberos: the Kerberos login has not completed yet"},
		{name: "keytab without the principal", loginErr: noKeyForPrincipal(),
			wantReason: "kerberos: the keytab holds no key for the configured principal"},
		{name: "other failure", loginErr: errors.New("yarngate@EXAMPLE.COM /etc/security/yarngate.keytab exploded"),
			wantReason: "kerberos: the Kerberos login failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Now()}
			l := newTestLogin(t, &fakeKDC{life: time.Hour, loginErr: tc.loginErr}, clock, nil)
			if tc.loginErr != nil {
				l.step()
			}
			err := l.Ready(t.Context())
			var le *LoginError
			if !errors.As(err, &le) || !errors.Is(err, ErrNoTicket) {
				t.Fatalf("Ready() = %v, want a *LoginError wrapping ErrNoTicket", err)
			}
			if got := le.PublicReason(); got != tc.wantReason {
				t.Errorf("PublicReason() = %q, want %q", got, tc.wantReason)
			}
			for _, secret := range []string{"yarngate@", "EXAMPLE.COM", "/etc/security", ".keytab"} {
				if strings.Contains(le.PublicReason(), secret) {
					t.Errorf("PublicReason() %q leaks %q", le.PublicReason(), secret)
				}
			}
		})
	}
}

func TestLoginMetricsAndRun(t *testing.T) {
	reg := prometheus.NewRegistry()
	clock := &fakeClock{t: time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)}
	k := &fakeKDC{life: time.Hour}
	l := newTestLogin(t, k, clock, reg)
	if got := testutil.ToFloat64(l.metrics.expiry); got != 0 {
		t.Errorf("expiry before login = %v, want 0", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	select {
	case <-l.FirstAttempt():
	case <-time.After(5 * time.Second):
		t.Fatal("no login")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	want := float64(clock.now().Add(time.Hour).Unix())
	if got := testutil.ToFloat64(l.metrics.expiry); got != want {
		t.Errorf("yarngate_kerberos_tgt_expiry_timestamp_seconds = %v, want %v", got, want)
	}
	if got := testutil.ToFloat64(l.metrics.exchanges.WithLabelValues("login", "ok")); got != 1 {
		t.Errorf("logins = %v, want 1", got)
	}
	if n, err := testutil.GatherAndCount(reg, "yarngate_kerberos_tgt_expiry_timestamp_seconds"); err != nil || n != 1 {
		t.Errorf("expiry gauge registered %d times (%v)", n, err)
	}
}

func TestOptionsValidate(t *testing.T) {
	ok := Options{Principal: "yarngate@EXAMPLE.COM", Keytab: "/k", Krb5Conf: "/c"}
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{name: "valid", change: func(*Options) {}},
		{name: "no principal", change: func(o *Options) { o.Principal = "" }, want: "principal"},
		{name: "two realms", change: func(o *Options) { o.Principal = "a@B@C" }, want: "principal"},
		{name: "no keytab", change: func(o *Options) { o.Keytab = "" }, want: "keytab"},
		{name: "no krb5.conf", change: func(o *Options) { o.Krb5Conf = "" }, want: "krb5.conf"},
		{name: "refresh too late", change: func(o *Options) { o.RefreshFraction = 0.9 }, want: "refresh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.change(&o)
			_, err := New(o)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("New() error %v, want one about %q", err, tc.want)
			}
		})
	}
}

// noKeyForPrincipal is the login error of a keytab without the principal's key, as the gokrb5 KDC reports it.
func noKeyForPrincipal() error {
	return (&SetupError{Setting: SettingKeytab, Path: "/etc/security/yarngate.keytab", Problem: "holds no key for yarngate@EXAMPLE.COM",
		reason: "the keytab holds no key for the configured principal"}).loginError()
}
