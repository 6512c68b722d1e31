package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/job"
)

// newIdleServer serves the gateway over store on a real HTTP server with a short upload idle timeout.
func newIdleServer(t *testing.T, store *fakeStore, idle time.Duration) *httptest.Server {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	metrics, err := job.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	httpMetrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	handler, err := New(Options{
		Logger: logger, Registry: reg, Metrics: httpMetrics, Auth: noAuth(t), MaxJarSize: testMaxJarSize,
		Jars:              job.NewJarService(store, testMaxJarSize, logger, metrics),
		UploadIdleTimeout: idle,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

// TestStalledUploadTimesOut sends half a body over a real connection and stops: the gateway must answer
// 408 once the idle timeout passes, and the store must have seen the read fail.
func TestStalledUploadTimesOut(t *testing.T) {
	store := &fakeStore{t: t}
	readErr := make(chan error, 1)
	store.put = func(_ context.Context, body io.Reader, _ string) (hdfs.PutResult, error) {
		_, err := io.Copy(io.Discard, body)
		readErr <- err
		return hdfs.PutResult{}, fmt.Errorf("stage jar: %w", err)
	}
	srv := newIdleServer(t, store, 200*time.Millisecond)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/jars HTTP/1.1\r\nHost: x\r\nContent-Type: application/java-archive\r\nContent-Length: 1000\r\n\r\n%s",
		strings.Repeat("x", 400))
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to a stalled upload: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"code":"request_timeout"`) {
		t.Errorf("stalled upload = %d %s, want 408 request_timeout", resp.StatusCode, body)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("answer took %v", took)
	}
	if err := <-readErr; err == nil {
		t.Error("the store read the stalled body without an error")
	}
}

// TestIdleDeadlineEndsWithTheBody: committing an upload may take longer than the idle timeout after the
// body was read; the request context must stay alive meanwhile, for raw and multipart bodies.
func TestIdleDeadlineEndsWithTheBody(t *testing.T) {
	mp, mpType := multipartBody(t, "jar", "slow.jar", []byte("jar bytes"), nil)
	tests := []struct {
		name        string
		contentType string
		body        string
	}{
		{name: "raw", contentType: "application/java-archive", body: "jar bytes"},
		{name: "multipart", contentType: mpType, body: mp.String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &fakeStore{t: t}
			store.put = func(ctx context.Context, body io.Reader, _ string) (hdfs.PutResult, error) {
				if _, err := io.Copy(io.Discard, body); err != nil {
					return hdfs.PutResult{}, err
				}
				select { // a slow commit, well past the idle timeout
				case <-time.After(600 * time.Millisecond):
				case <-ctx.Done():
					return hdfs.PutResult{}, ctx.Err()
				}
				return hdfs.PutResult{Jar: staged, Created: true}, nil
			}
			srv := newIdleServer(t, store, 100*time.Millisecond)
			resp, err := http.Post(srv.URL+"/v1/jars", tc.contentType, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("slow commit = %d %s, want 201", resp.StatusCode, body)
			}
		})
	}
}
