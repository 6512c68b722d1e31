package notify

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/registrytest"
)

const testSecret = "0123456789abcdef-secret"

// receiver records the calls it verifies, and fails the first `fail` calls with 503.
type receiver struct {
	mu    sync.Mutex
	fail  int
	calls []Payload
	bad   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !Verify([]byte(testSecret), r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body, time.Now(), 5*time.Minute) {
		rc.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var p Payload
	json.Unmarshal(body, &p)
	if p.ID != r.Header.Get(HeaderEventID) {
		rc.bad++
	}
	if rc.fail > 0 {
		rc.fail--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	rc.calls = append(rc.calls, p)
}

func newSender(t *testing.T, reg *registry.Registry, global []Webhook, allow []string, now func() time.Time) *Sender {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Records: reg, Global: global, Secrets: map[string]string{"s": testSecret},
		Policy: Policy{AllowHosts: allow}, MinBackoff: time.Second, MaxAttempts: 3, Now: now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSenderDeliversInOrderRetriesAndEmptiesOutbox(t *testing.T) {
	rc := &receiver{fail: 1}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	reg := registrytest.Open(t, registrytest.NewMemStore())
	now := time.Now()
	clock := func() time.Time { return now }
	u, _ := url.Parse(srv.URL)
	s := newSender(t, reg, []Webhook{{URL: srv.URL, Secret: "s", Events: []string{"state"}}}, []string{u.Hostname()}, clock)

	rec := registry.Record{ID: "application_1_0001", Kind: registry.KindJob, ApplicationID: "application_1_0001", Name: "n"}
	rec.SetStatus(observe.Status{Schema: 1, State: "SUBMITTED", Since: now}, "")
	rec.SetStatus(observe.Status{Schema: 1, State: "RUNNING", Since: now}, "")
	rec.SetStatus(observe.Status{Schema: 1, State: "RUNNING", Since: now, Health: observe.Health{Status: "healthy", CheckedAt: now}}, "")
	if _, err := reg.Create(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	s.Round(t.Context()) // the first call fails: nothing delivered, the first event waits
	if len(rc.calls) != 0 {
		t.Fatalf("calls %d after a failure", len(rc.calls))
	}
	got, _ := reg.Get(t.Context(), rec.ID)
	if len(got.Outbox) != 3 || got.Outbox[0].Attempts != 1 || got.Outbox[0].NextAttempt.IsZero() {
		t.Fatalf("outbox after a failure: %+v", got.Outbox)
	}
	s.Round(t.Context()) // not due yet
	if len(rc.calls) != 0 {
		t.Fatal("delivered before the backoff")
	}
	now = now.Add(2 * time.Second)
	s.Round(t.Context())
	if len(rc.calls) != 2 || rc.calls[0].State != "SUBMITTED" || rc.calls[1].State != "RUNNING" || rc.calls[1].PreviousState != "SUBMITTED" {
		t.Fatalf("calls %+v", rc.calls)
	}
	if rc.calls[0].ID != got.Outbox[0].ID || rc.calls[0].Attempt != 2 || rc.bad != 0 {
		t.Errorf("first call %+v, bad %d", rc.calls[0], rc.bad)
	}
	got, _ = reg.Get(t.Context(), rec.ID)
	if len(got.Outbox) != 0 {
		t.Errorf("outbox not emptied (the health event goes nowhere): %+v", got.Outbox)
	}
}

func TestSenderGivesUp(t *testing.T) {
	rc := &receiver{fail: 100}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	reg := registrytest.Open(t, registrytest.NewMemStore())
	now := time.Now()
	u, _ := url.Parse(srv.URL)
	s := newSender(t, reg, []Webhook{{URL: srv.URL, Secret: "s"}}, []string{u.Hostname()}, func() time.Time { return now })
	rec := registry.Record{ID: "application_1_0002", Kind: registry.KindJob}
	rec.SetState("SUBMITTED", false, now, "")
	reg.Create(t.Context(), rec)
	for range 5 {
		s.Round(t.Context())
		now = now.Add(time.Hour)
	}
	got, _ := reg.Get(t.Context(), rec.ID)
	if len(got.Outbox) != 0 {
		t.Fatalf("outbox %+v, want the event given up", got.Outbox)
	}
}

func TestPolicy(t *testing.T) {
	p := Policy{AllowHosts: []string{"hooks.internal"}}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://hooks.example.com/x", true},
		{"http://hooks.example.com/x", false},
		{"http://hooks.internal:8080/x", true},
		{"ftp://hooks.example.com/x", false},
		{"https://user:pw@hooks.example.com/x", false},
		{"/relative", false},
		{"https://hooks.example.com/x#frag", false},
	} {
		if err := p.Check(tc.url); (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok %v", tc.url, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		ip     string
		public bool
	}{{"127.0.0.1", false}, {"10.1.2.3", false}, {"169.254.169.254", false}, {"::1", false}, {"8.8.8.8", true}, {"0.0.0.0", false}} {
		if Public(net.ParseIP(tc.ip)) != tc.public {
			t.Errorf("Public(%s) != %v", tc.ip, tc.public)
		}
	}
}

// TestGuardedClientRefusesLoopback: a host not allowed that resolves to a loopback address is never called.
func TestGuardedClientRefusesLoopback(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	reg := registrytest.Open(t, registrytest.NewMemStore())
	s := newSender(t, reg, nil, nil, time.Now)
	_, err := s.client(srv.URL).Get(srv.URL)
	if err == nil {
		t.Fatal("the guarded client reached a loopback address")
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	now := time.Unix(1700000000, 0)
	sig := Sign([]byte("k"), now.Unix(), body)
	for _, tc := range []struct {
		name string
		ts   string
		sig  string
		body []byte
		at   time.Time
		ok   bool
	}{
		{"valid", "1700000000", sig, body, now, true},
		{"rotated", "1700000000", "v1=00," + sig, body, now, true},
		{"body changed", "1700000000", sig, []byte(`{"id":"y"}`), now, false},
		{"stale", "1700000000", sig, body, now.Add(time.Hour), false},
		{"timestamp changed", "1700000001", sig, body, now, false},
	} {
		if got := Verify([]byte("k"), tc.ts, tc.sig, tc.body, tc.at, 5*time.Minute); got != tc.ok {
			t.Errorf("%s: Verify = %v", tc.name, got)
		}
	}
}
