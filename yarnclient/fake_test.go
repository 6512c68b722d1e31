package yarnclient

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeRM is an httptest ResourceManager whose routes ("METHOD /path") answer from testdata.
type fakeRM struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	calls  []recordedCall
}

// recordedCall is one request the fake saw.
type recordedCall struct {
	Method, Path, User string
	Query              map[string][]string
	Body               string
	Auth               string
}

func newFakeRM(t *testing.T) *fakeRM {
	t.Helper()
	f := &fakeRM{t: t, routes: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRM) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, recordedCall{
		Method: r.Method, Path: r.URL.Path, User: r.URL.Query().Get("user.name"),
		Query: r.URL.Query(), Body: string(body), Auth: r.Header.Get("Authorization"),
	})
	h := f.routes[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	if h == nil {
		http.Error(w, "no route "+r.Method+" "+r.URL.Path, http.StatusTeapot)
		return
	}
	h(w, r)
}

// on installs a handler for "METHOD /path".
func (f *fakeRM) on(route string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = h
}

// callsTo returns the recorded calls of one route.
func (f *fakeRM) callsTo(route string) []recordedCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recordedCall
	for _, c := range f.calls {
		if c.Method+" "+c.Path == route {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeRM) allCalls() []recordedCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedCall(nil), f.calls...)
}

// fixture reads a testdata file.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonFile answers status with a testdata file as JSON, as Jersey does.
func jsonFile(t *testing.T, status int, name string) http.HandlerFunc {
	body := fixture(t, name)
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// text answers status with a plain-text testdata file and extra headers.
func text(t *testing.T, status int, name string, headers map[string]string) http.HandlerFunc {
	body := fixture(t, name)
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "text/plain;charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// sequence answers with the handlers in turn, repeating the last one.
func sequence(hs ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(n, len(hs)-1)]
		n++
		mu.Unlock()
		h(w, r)
	}
}

// testOptions are fast options for unit tests against the given RMs.
func testOptions(rms ...RM) Options {
	return Options{
		RMs:              rms,
		User:             "yarngate",
		RequestTimeout:   2 * time.Second,
		Retry:            RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond},
		FailoverTimeout:  300 * time.Millisecond,
		KillPollInterval: time.Millisecond,
	}
}

func mustClient(t *testing.T, opts Options) *Client {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
