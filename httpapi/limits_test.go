package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/throttle"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestRateLimits: per-client token buckets, reads and mutating requests apart, probes never limited; a
// refused request is 429 rate_limited with Retry-After and retryAfter.
func TestRateLimits(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestServerWith(t, func(o *Options) {
		o.ReadLimit = RateLimit{Rate: 1, Burst: 2}
		o.WriteLimit = RateLimit{Rate: 0.5, Burst: 1}
		o.Now = clock.Now
	})
	s.store.list = func(context.Context) ([]hdfs.Jar, error) { return nil, nil }
	s.store.delete = func(context.Context, string) error { return nil }
	type step struct {
		method, path, client string
		advance              time.Duration
		status               int
		retryAfter           string
	}
	steps := []step{
		{"GET", "/v1/jars", "192.0.2.1", 0, 200, ""},
		{"GET", "/v1/jars", "192.0.2.1", 0, 200, ""},
		{"GET", "/v1/jars", "192.0.2.1", 0, 429, "1"},
		{"GET", "/v1/jars", "192.0.2.2", 0, 200, ""},              // another client has its own bucket
		{"DELETE", "/v1/jars/" + goodID, "192.0.2.1", 0, 204, ""}, // writes have theirs
		{"DELETE", "/v1/jars/" + goodID, "192.0.2.1", 0, 429, "2"},
		{"GET", "/healthz", "192.0.2.1", 0, 200, ""}, // probes and scrapes are never limited
		{"GET", "/metrics", "192.0.2.1", 0, 200, ""},
		{"GET", "/v1/openapi.yaml", "192.0.2.1", 0, 200, ""},
		{"GET", "/v1/jars", "192.0.2.1", time.Second, 200, ""}, // a token came back
		{"GET", "/v1/jars", "192.0.2.1", 0, 429, "1"},
		{"DELETE", "/v1/jars/" + goodID, "192.0.2.1", time.Second, 204, ""},
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		req := httptest.NewRequestWithContext(t.Context(), st.method, st.path, nil)
		req.RemoteAddr = net.JoinHostPort(st.client, "40000")
		rec := httptest.NewRecorder()
		s.engine.ServeHTTP(rec, req)
		if rec.Code != st.status || rec.Header().Get("Retry-After") != st.retryAfter {
			t.Fatalf("step %d: %s %s from %s = %d Retry-After %q, want %d %q: %s", i, st.method, st.path, st.client,
				rec.Code, rec.Header().Get("Retry-After"), st.status, st.retryAfter, rec.Body)
		}
		if st.status == 429 {
			e := decodeError(t, rec)
			if e.Code != api.CodeRateLimited || fmt.Sprint(e.RetryAfter) != st.retryAfter {
				t.Errorf("step %d: error %+v", i, e)
			}
		}
	}
}

// TestClientKey: the limits key on what Options.ClientKey says (the principal, once authentication lands).
func TestClientKey(t *testing.T) {
	s := newTestServerWith(t, func(o *Options) {
		o.ReadLimit = RateLimit{Rate: 1, Burst: 1}
		o.ClientKey = func(r *http.Request) string { return r.Header.Get("X-Test-Principal") }
	})
	s.store.list = func(context.Context) ([]hdfs.Jar, error) { return nil, nil }
	for i, tc := range []struct {
		principal string
		want      int
	}{{"alice", 200}, {"alice", 429}, {"bob", 200}} {
		if rec := s.do(t, "GET", "/v1/jars", nil, header("X-Test-Principal", tc.principal)); rec.Code != tc.want {
			t.Errorf("request %d as %s = %d, want %d", i, tc.principal, rec.Code, tc.want)
		}
	}
}

func TestRemoteIP(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.1:1234", "192.0.2.1"}, {"[2001:db8::1]:80", "2001:db8::1"}, {"pipe", "pipe"},
	} {
		if got := RemoteIP(&http.Request{RemoteAddr: tc.addr}); got != tc.want {
			t.Errorf("RemoteIP(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestLongPollCap: beyond the cap (overall, or the client's), a long poll is refused with 429
// rate_limited and Retry-After; a place freed is taken by the next long poll.
func TestLongPollCap(t *testing.T) {
	jobs := &fakeJobs{t: t}
	s := newTestServerWith(t, func(o *Options) {
		o.Jobs = jobs
		o.LongPolls, o.LongPollsPerClient = 2, 1
	})
	const id = "application_1767225600000_0042"
	entered := make(chan string, 4)
	release := make(chan struct{})
	jobs.wait = func(ctx context.Context, id string, _ api.JobState, _ time.Duration) (api.Job, error) {
		entered <- id
		<-release
		return api.Job{ID: id, State: api.StateRunning}, nil
	}
	jobs.job = func(_ context.Context, id string) (api.Job, error) {
		return api.Job{ID: id, State: api.StateAccepted}, nil
	}
	poll := func(client string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(t.Context(), "GET", "/v1/jobs/"+id+"?wait=RUNNING&timeout=60s", nil)
		req.RemoteAddr = net.JoinHostPort(client, "40000")
		rec := httptest.NewRecorder()
		s.engine.ServeHTTP(rec, req)
		return rec
	}
	var wg sync.WaitGroup
	waiting := make(chan *httptest.ResponseRecorder, 2)
	for _, client := range []string{"192.0.2.1", "192.0.2.2"} {
		wg.Go(func() { waiting <- poll(client) })
		<-entered // holding its place
	}
	tests := []struct {
		name, client string
	}{
		{"the client's cap", "192.0.2.1"},
		{"the overall cap", "192.0.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := poll(tt.client)
			if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
				t.Fatalf("long poll beyond the cap = %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			}
			if e := decodeError(t, rec); e.Code != api.CodeRateLimited {
				t.Errorf("code = %q", e.Code)
			}
		})
	}
	close(release)
	wg.Wait()
	close(waiting)
	for rec := range waiting {
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"RUNNING"`) {
			t.Errorf("admitted long poll = %d %s", rec.Code, rec.Body)
		}
	}
	if rec := poll("192.0.2.3"); rec.Code != 200 {
		t.Errorf("places were not given back: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(scrape(t, s), "yarngate_http_long_polls_refused_total 2") {
		t.Error("refused long polls not counted")
	}
}

// scrape returns the test server's metrics.
func scrape(t *testing.T, s *testServer) string {
	t.Helper()
	return s.do(t, "GET", "/metrics", nil, nil).Body.String()
}

// stallingBody sends head, then nothing until its context ends.
type stallingBody struct {
	head []byte
	done <-chan struct{}
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	<-b.done
	return 0, io.ErrUnexpectedEOF
}

// TestSlowSendersOverHTTP runs the engine in a real HTTP server, where read deadlines work: an upload
// below the minimum rate ends in 408 upload_too_slow, with the store's Put returning at once with the pace
// error (so the upload's slot and temporary file go), and a JSON body sent too slowly ends in 408
// request_timeout.
func TestSlowSendersOverHTTP(t *testing.T) {
	putErr := make(chan error, 1)
	jobs := &fakeJobs{t: t}
	rebuilt := newTestServerWith(t, func(o *Options) {
		o.Jobs = jobs
		o.UploadIdleTimeout = time.Minute // only the pace can end these uploads
		o.UploadPace = throttle.PaceOptions{MinRate: 1 << 20, Window: 300 * time.Millisecond}
		o.BodyTimeout = 300 * time.Millisecond
	})
	rebuilt.store.put = func(ctx context.Context, body io.Reader, name string) (hdfs.PutResult, error) {
		_, err := io.Copy(io.Discard, body)
		putErr <- err
		return hdfs.PutResult{}, err
	}
	srv := httptest.NewServer(rebuilt.engine)
	t.Cleanup(srv.Close)

	tests := []struct {
		name, path, contentType string
		length                  int64
		status                  int
		code                    string
		checkPut                bool
	}{
		{"raw jar upload", "/v1/jars", "application/java-archive", 512 << 10, 408, api.CodeUploadTooSlow, true},
		{"json job request", "/v1/jobs", "application/json", 1000, 408, api.CodeRequestTimeout, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			body := &stallingBody{head: []byte("PK\x03\x04 a little"), done: ctx.Done()}
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+tt.path, body)
			req.ContentLength = tt.length
			req.Header.Set("Content-Type", tt.contentType)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("POST %s: %v", tt.path, err)
			}
			defer resp.Body.Close()
			var e api.ErrorBody
			json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != tt.status || e.Error.Code != tt.code {
				t.Errorf("POST %s = %d %+v, want %d %s", tt.path, resp.StatusCode, e.Error, tt.status, tt.code)
			}
			if tt.checkPut {
				select {
				case err := <-putErr:
					if !errors.Is(err, throttle.ErrTooSlow) {
						t.Errorf("Put's body failed with %v, want the pace error", err)
					}
				default:
					t.Error("the answer came before Put returned") // the handler answers after Put
				}
			}
		})
	}
}
