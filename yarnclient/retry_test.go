package yarnclient

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorsAndRetries(t *testing.T) {
	const path = "/ws/v1/cluster/apps/application_1700000000000_9999"
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantIs    error
		wantCalls int
		wantRM    *RMError
	}{
		{
			name:      "404 RemoteException is not retried",
			handler:   jsonFile(t, 404, "remote_exception_not_found.json"),
			wantIs:    ErrNotFound,
			wantCalls: 1,
			wantRM: &RMError{Status: 404, Exception: "NotFoundException",
				Message:       "java.lang.Exception: app with id: application_1700000000000_9999 not found",
				JavaClassName: "org.apache.hadoop.yarn.webapp.NotFoundException"},
		},
		{
			name:      "400 loses its stack trace and is not retried",
			handler:   jsonFile(t, 400, "remote_exception_bad_request.json"),
			wantIs:    ErrBadRequest,
			wantCalls: 1,
			wantRM: &RMError{Status: 400, Exception: "BadRequestException",
				Message:       "java.lang.Exception: Invalid resource request, requested resource type=[memory-mb] < 0 or greater than maximum allowed allocation. Requested resource=<memory:99999, vCores:1>, maximum allowed allocation=<memory:8192, vCores:4>",
				JavaClassName: "org.apache.hadoop.yarn.webapp.BadRequestException"},
		},
		{
			name: "403 plain text is not retried",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(403)
				_, _ = w.Write([]byte("App submission via REST is disabled."))
			},
			wantIs:    ErrForbidden,
			wantCalls: 1,
			wantRM:    &RMError{Status: 403, Message: "App submission via REST is disabled."},
		},
		{
			name:      "503 is retried up to MaxAttempts",
			handler:   jsonFile(t, 503, "remote_exception_unavailable.json"),
			wantIs:    ErrUnavailable,
			wantCalls: 3,
		},
		{
			name: "429 is retried",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(429)
			},
			wantIs:    ErrUnavailable,
			wantCalls: 3,
		},
		{
			name:      "503 then success",
			handler:   sequence(jsonFile(t, 503, "remote_exception_unavailable.json"), jsonFile(t, 200, "app_running.json")),
			wantCalls: 2,
		},
		{
			name: "non-JSON 200 from a single RM is retried then fails",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte("<html>proxy login</html>"))
			},
			wantIs:    errStandby,
			wantCalls: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := newFakeRM(t)
			rm.on("GET "+path, tt.handler)
			c := mustClient(t, testOptions(RM{URL: rm.srv.URL}))
			_, err := c.App(t.Context(), "application_1700000000000_9999")
			if tt.wantIs == nil && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
			if tt.wantRM != nil {
				var rmErr *RMError
				if !errors.As(err, &rmErr) {
					t.Fatalf("err %v is not an *RMError", err)
				}
				if *rmErr != *tt.wantRM {
					t.Errorf("RMError\n got %+v\nwant %+v", *rmErr, *tt.wantRM)
				}
				if strings.Contains(err.Error(), "\tat ") || strings.Contains(err.Error(), ".java:") {
					t.Errorf("stack trace leaked: %v", err)
				}
			}
			if n := len(rm.callsTo("GET " + path)); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	rm := newFakeRM(t)
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}
	rm.on("GET /ws/v1/cluster/info", sequence(slow, jsonFile(t, 200, "cluster_info_active.json")))
	opts := testOptions(RM{URL: rm.srv.URL})
	opts.RequestTimeout = 100 * time.Millisecond
	c := mustClient(t, opts)
	if _, err := c.ClusterInfo(t.Context()); err != nil {
		t.Fatalf("ClusterInfo after one timeout: %v", err)
	}
	if n := len(rm.callsTo("GET /ws/v1/cluster/info")); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	rm := newFakeRM(t)
	rm.on("GET /ws/v1/cluster/info", jsonFile(t, 503, "remote_exception_unavailable.json"))
	opts := testOptions(RM{URL: rm.srv.URL})
	opts.Retry = RetryPolicy{MaxAttempts: 10, InitialBackoff: time.Second, MaxBackoff: time.Second}
	c := mustClient(t, opts)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ClusterInfo(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("cancel took %s", time.Since(start))
	}
}

func TestUserNameAndAuthenticateOnEveryCall(t *testing.T) {
	rm := newFakeRM(t)
	rm.on("GET /ws/v1/cluster/info", jsonFile(t, 200, "cluster_info_active.json"))
	rm.on("POST /ws/v1/cluster/apps/new-application", jsonFile(t, 200, "new_application.json"))
	rm.on("GET /ws/v1/cluster/apps", jsonFile(t, 200, "apps_empty.json"))
	opts := testOptions(RM{URL: rm.srv.URL})
	opts.User = "alice b"
	opts.Authenticate = func(r *http.Request) error {
		r.Header.Set("Authorization", "Negotiate abc")
		return nil
	}
	c := mustClient(t, opts)
	if _, err := c.ClusterInfo(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NewApplication(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apps(t.Context(), AppsFilter{}); err != nil {
		t.Fatal(err)
	}
	for _, call := range rm.allCalls() {
		if call.User != "alice b" || call.Auth != "Negotiate abc" {
			t.Errorf("%s %s: user.name %q, Authorization %q", call.Method, call.Path, call.User, call.Auth)
		}
	}
}

func TestAuthenticateErrorIsNotRetried(t *testing.T) {
	rm := newFakeRM(t)
	opts := testOptions(RM{URL: rm.srv.URL})
	errNoTicket := errors.New("no kerberos ticket")
	opts.Authenticate = func(*http.Request) error { return errNoTicket }
	c := mustClient(t, opts)
	_, err := c.ClusterInfo(t.Context())
	if !errors.Is(err, errNoTicket) {
		t.Fatalf("err = %v", err)
	}
	if n := len(rm.allCalls()); n != 0 {
		t.Errorf("%d calls reached the RM", n)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{"valid single RM", func(*Options) {}, ""},
		{"no RMs", func(o *Options) { o.RMs = nil }, "at least one ResourceManager"},
		{"no user", func(o *Options) { o.User = " " }, "user is required"},
		{"bad scheme", func(o *Options) { o.RMs = []RM{{URL: "ftp://rm:8088"}} }, "scheme must be http"},
		{"path", func(o *Options) { o.RMs = []RM{{URL: "http://rm:8088/cluster"}} }, "must not have a path"},
		{"HA without ids", func(o *Options) { o.RMs = []RM{{URL: "http://a:1"}, {URL: "http://b:1"}} }, "rm-id is required"},
		{"duplicate ids", func(o *Options) { o.RMs = []RM{{ID: "rm1", URL: "http://a:1"}, {ID: "rm1", URL: "http://b:1"}} }, "duplicate rm-id"},
		{"too many attempts", func(o *Options) { o.Retry.MaxAttempts = 100 }, "max attempts"},
		{"backoff inverted", func(o *Options) { o.Retry.InitialBackoff, o.Retry.MaxBackoff = time.Second, time.Millisecond }, "backoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(RM{URL: "http://rm:8088"})
			tt.mutate(&o)
			_, err := New(o)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestBackoffIsBounded(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 10, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for i, w := range want {
		if got := p.backoff(i + 2); got != w {
			t.Errorf("backoff(%d) = %s, want %s", i+2, got, w)
		}
	}
}
