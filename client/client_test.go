package client

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
)

func newTestClient(t *testing.T, h http.Handler, opts Options) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts.Addr = srv.URL
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	c.gaps = waitGaps{poll: 10 * time.Millisecond, retry: 10 * time.Millisecond}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantCode   string
		wantText   string
	}{
		{
			name: "error body with details",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 400, api.ErrorBody{Error: api.Error{Code: api.CodeInvalidSpec, Message: "the job request is invalid",
					RequestID: "r1", Details: []api.FieldProblem{{Field: "parallelism", Reason: "must be at least 1"}}}})
			},
			wantStatus: 400, wantCode: api.CodeInvalidSpec, wantText: "invalid_spec: the job request is invalid (HTTP 400, request r1)",
		},
		{
			name: "a proxy's page",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				io.WriteString(w, "<html>bad gateway</html>")
			},
			wantStatus: 502, wantText: "<html>bad gateway</html> (HTTP 502)",
		},
		{
			name:       "no body",
			handler:    func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) },
			wantStatus: 404, wantText: "Not Found (HTTP 404)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, tc.handler, Options{})
			_, err := c.GetJob(t.Context(), "application_1_1")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.StatusCode != tc.wantStatus || e.Body.Code != tc.wantCode || e.Error() != tc.wantText {
				t.Errorf("err = %d %q %q, want %d %q %q", e.StatusCode, e.Body.Code, e.Error(), tc.wantStatus, tc.wantCode, tc.wantText)
			}
			if tc.wantCode != "" && !IsCode(err, tc.wantCode) {
				t.Errorf("IsCode(%q) = false", tc.wantCode)
			}
		})
	}
}

func TestTokenAndPaths(t *testing.T) {
	var got []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.EscapedPath()+"?"+r.URL.RawQuery+" "+r.Header.Get("Authorization"))
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/cancel"):
			body, _ := io.ReadAll(r.Body)
			got = append(got, string(body))
			writeJSON(w, 202, api.Job{ID: "a b", State: api.StateRunning})
		case strings.HasPrefix(r.URL.Path, "/v1/sessions/"):
			writeJSON(w, 202, api.Session{ID: "s1", State: api.SessionStopping})
		default:
			writeJSON(w, 200, api.Job{ID: "a b"})
		}
	})
	c := newTestClient(t, h, Options{Token: "s3cret"})
	ctx := t.Context()
	if _, err := c.GetJob(ctx, "a b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelJob(ctx, "x/y", true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StopSession(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /v1/jobs/a%20b? Bearer s3cret",
		"POST /v1/jobs/x%2Fy/cancel? Bearer s3cret", `{"kill":true}`,
		"DELETE /v1/sessions/s1? Bearer s3cret",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests\n%q\nwant\n%q", got, want)
	}
}

func TestListFollowsCursor(t *testing.T) {
	var queries []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		switch r.URL.Query().Get("cursor") {
		case "":
			writeJSON(w, 200, map[string]any{"jobs": []api.Job{{ID: "j1"}, {ID: "j2"}}, "nextCursor": "c2"})
		case "c2":
			writeJSON(w, 200, map[string]any{"jobs": []api.Job{{ID: "j3"}}, "nextCursor": "c3"})
		default:
			writeJSON(w, 200, map[string]any{"jobs": []api.Job{}})
		}
	})
	c := newTestClient(t, h, Options{})
	jobs, err := c.ListJobs(t.Context(), ListOptions{State: "RUNNING", PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	if fmt.Sprint(ids) != "[j1 j2 j3]" {
		t.Errorf("ids = %v", ids)
	}
	want := []string{"limit=2&state=RUNNING", "cursor=c2&limit=2&state=RUNNING", "cursor=c3&limit=2&state=RUNNING"}
	if fmt.Sprint(queries) != fmt.Sprint(want) {
		t.Errorf("queries %q, want %q", queries, want)
	}
}

func TestListSessionsWithoutCursor(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.SessionList{Sessions: []api.Session{{ID: "s1"}}})
	}), Options{})
	s, err := c.ListSessions(t.Context(), ListOptions{})
	if err != nil || len(s) != 1 || s[0].ID != "s1" {
		t.Fatalf("sessions = %v, %v", s, err)
	}
}

func TestWaitJob(t *testing.T) {
	states := []api.JobState{api.StateAccepted, api.StateStarting, api.StateRunning}
	var n atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("wait") != "RUNNING" || r.URL.Query().Get("timeout") != "1m0s" {
			t.Errorf("query %q", r.URL.RawQuery)
		}
		i := int(n.Add(1)) - 1
		if i == 1 {
			writeJSON(w, 503, api.ErrorBody{Error: api.Error{Code: api.CodeUnavailable, Message: "registry down"}})
			return
		}
		writeJSON(w, 200, api.Job{ID: "j", State: states[min(i, len(states)-1)]})
	})
	c := newTestClient(t, h, Options{})
	j, err := c.WaitJob(t.Context(), "j", api.StateRunning)
	if err != nil || j.State != api.StateRunning {
		t.Fatalf("WaitJob = %v, %v", j.State, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	stuck := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.Job{ID: "j", State: api.StateAccepted})
	}), Options{})
	j, err = stuck.WaitJob(ctx, "j", api.StateRunning)
	if !errors.Is(err, context.DeadlineExceeded) || j.State != api.StateAccepted {
		t.Errorf("stuck WaitJob = %v, %v", j.State, err)
	}

	refused := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, api.ErrorBody{Error: api.Error{Code: api.CodeNotFound, Message: "no such job"}})
	}), Options{})
	if _, err := refused.WaitJob(t.Context(), "j", api.StateRunning); !IsCode(err, api.CodeNotFound) {
		t.Errorf("WaitJob of an unknown job = %v", err)
	}
}

func TestUploadJar(t *testing.T) {
	seen := map[string]bool{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Query().Get("name") != "job.jar" || r.Header.Get("Content-Type") != "application/java-archive" || r.ContentLength != int64(len(body)) {
			t.Errorf("upload %q %q %d", r.URL.RawQuery, r.Header.Get("Content-Type"), r.ContentLength)
		}
		status := 201
		if seen[string(body)] {
			status = 200
		}
		seen[string(body)] = true
		writeJSON(w, status, api.Jar{ID: "abc", Name: "job.jar", Size: int64(len(body))})
	})
	c := newTestClient(t, h, Options{})
	for i, wantCreated := range []bool{true, false} {
		jar, created, err := c.UploadJar(t.Context(), "job.jar", strings.NewReader("PK jar"), 6)
		if err != nil || created != wantCreated || jar.Size != 6 {
			t.Errorf("upload %d = %+v %v %v", i, jar, created, err)
		}
	}
}

func TestReadJobLog(t *testing.T) {
	tests := []struct {
		name string
		rng  LogRange
		want string
	}{
		{"whole", LogRange{}, ""},
		{"tail", LogRange{Offset: -65536}, "offset=-65536"},
		{"range and follow", LogRange{Offset: 10, Length: 20, Follow: true}, "follow=true&length=20&offset=10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.EscapedPath() != "/v1/jobs/app_1/logs/container_1_01/jobmanager.log" || r.URL.RawQuery != tc.want {
					t.Errorf("GET %s?%s", r.URL.EscapedPath(), r.URL.RawQuery)
				}
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, "line 1\nline 2\n")
			})
			c := newTestClient(t, h, Options{})
			body, err := c.ReadJobLog(t.Context(), "app_1", "container_1_01", "jobmanager.log", tc.rng)
			if err != nil {
				t.Fatal(err)
			}
			defer body.Close()
			b, _ := io.ReadAll(body)
			if string(b) != "line 1\nline 2\n" {
				t.Errorf("log %q", b)
			}
		})
	}
}

func TestSPNEGOTransport(t *testing.T) {
	tests := []struct {
		name       string
		eager      bool
		wantCalls  int32 // negotiations
		wantServed []string
	}{
		{name: "lazy: negotiates on the challenge, resends the body, then uses the cookie", wantCalls: 1,
			wantServed: []string{"none:body", "Negotiate fake:body", "cookie:"}},
		{name: "eager: negotiates with the first request", eager: true, wantCalls: 1,
			wantServed: []string{"Negotiate fake:body", "cookie:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var served []string
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				auth := r.Header.Get("Authorization")
				if _, err := r.Cookie(authCookie); err == nil {
					auth = "cookie"
				} else if auth == "" {
					auth = "none"
				}
				served = append(served, auth+":"+string(body))
				switch auth {
				case "none":
					w.Header().Add("WWW-Authenticate", "Negotiate")
					w.Header().Add("WWW-Authenticate", `Bearer realm="yarngate"`)
					writeJSON(w, 401, api.ErrorBody{Error: api.Error{Code: api.CodeUnauthenticated, Message: "authentication required"}})
				default:
					http.SetCookie(w, &http.Cookie{Name: authCookie, Value: "ok", Path: "/"})
					writeJSON(w, 200, api.Job{ID: "j"})
				}
			})
			srv := httptest.NewServer(h)
			defer srv.Close()
			var calls atomic.Int32
			c, err := New(Options{Addr: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			c.http.Transport = &spnegoTransport{base: http.DefaultTransport, eager: tc.eager, negotiate: func(r *http.Request) error {
				calls.Add(1)
				r.Header.Set("Authorization", "Negotiate fake")
				return nil
			}}
			if _, err := c.SubmitJob(t.Context(), api.JobRequest{}, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetJob(t.Context(), "j"); err != nil {
				t.Fatal(err)
			}
			for i := range served {
				served[i] = strings.Replace(served[i], `{"name":"","args":null}`+"\n", "body", 1)
				served[i] = strings.Replace(served[i], `{"name":"","args":null}`, "body", 1)
			}
			if calls.Load() != tc.wantCalls || fmt.Sprint(served) != fmt.Sprint(tc.wantServed) {
				t.Errorf("negotiations %d, served %q; want %d, %q", calls.Load(), served, tc.wantCalls, tc.wantServed)
			}
		})
	}
}

func TestNegotiatorErrors(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	os.WriteFile(conf, []byte("[libdefaults]\n default_realm = EXAMPLE.COM\n"), 0o600)
	n, err := newNegotiator(KerberosOptions{CCache: filepath.Join(dir, "missing"), Krb5Conf: conf})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/v1/jobs", nil)
	if err := n(req); err == nil || !strings.Contains(err.Error(), "kinit") {
		t.Errorf("negotiate without a ticket cache = %v, want a hint to kinit", err)
	}
}

func TestDefaultCCache(t *testing.T) {
	tests := []struct {
		env, want string
		wantErr   bool
	}{
		{env: "FILE:/tmp/cc", want: "/tmp/cc"},
		{env: "/tmp/cc2", want: "/tmp/cc2"},
		{env: "KEYRING:persistent:1000", wantErr: true},
		{env: "", want: fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())},
	}
	for _, tc := range tests {
		t.Setenv("KRB5CCNAME", tc.env)
		got, err := DefaultCCache()
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("KRB5CCNAME=%q: %q, %v", tc.env, got, err)
		}
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "http://127.0.0.1:8080"},
		{"gw:8080", "http://gw:8080"},
		{"https://gw.example.com:8443/", "https://gw.example.com:8443"},
		{"ftp://gw", ""},
		{"http://", ""},
	}
	for _, tc := range tests {
		u, err := ParseAddr(tc.in)
		got := ""
		if err == nil {
			got = u.String()
		}
		if got != tc.want {
			t.Errorf("ParseAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.JarList{Jars: []api.Jar{}})
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	untrusted, _ := New(Options{Addr: srv.URL})
	if _, err := untrusted.ListJars(t.Context()); err == nil {
		t.Error("a self-signed gateway was trusted without the CA file")
	}
	trusted, err := New(Options{Addr: srv.URL, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trusted.ListJars(t.Context()); err != nil {
		t.Errorf("with the CA file: %v", err)
	}
	if _, err := New(Options{Addr: srv.URL, CAFile: filepath.Join(t.TempDir(), "none.pem")}); err == nil {
		t.Error("a missing CA file was accepted")
	}
}

// TestWaitJobSkippedPollsAreSpaced: a gateway that answers long polls at once (X-Long-Poll: skipped, beyond
// its cap) is asked again only after the poll gap, not in a busy loop.
func TestWaitJobSkippedPollsAreSpaced(t *testing.T) {
	var n atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Long-Poll", "skipped")
		writeJSON(w, 200, api.Job{ID: "j", State: api.StateAccepted})
		n.Add(1)
	}), Options{})
	c.gaps.poll = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	c.WaitJob(ctx, "j", api.StateRunning)
	if got := n.Load(); got < 2 || got > 11 {
		t.Errorf("%d polls in 1s with a 100ms gap", got)
	}
}

func TestUpgradeJob(t *testing.T) {
	var got string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = r.Method + " " + r.URL.EscapedPath() + " " + string(body)
		writeJSON(w, 202, api.Job{ID: "application_1_1", Upgrade: &api.JobUpgrade{ID: "v2", Step: "STOPPING"}})
	})
	c := newTestClient(t, h, Options{})
	j, err := c.UpgradeJob(t.Context(), "application_1_1", api.UpgradeRequest{UpgradeID: "v2", Mode: api.UpgradeLastState, Args: []string{"--x"}})
	if err != nil || j.Upgrade == nil || j.Upgrade.Step != "STOPPING" {
		t.Fatalf("UpgradeJob = %+v, %v", j, err)
	}
	if want := `POST /v1/jobs/application_1_1/upgrade {"upgradeId":"v2","mode":"last-state","args":["--x"]}`; strings.TrimSpace(got) != want {
		t.Errorf("request %s, want %s", got, want)
	}
}
