package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/job"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// fakeStore is a jarStore whose behaviour each test sets through function fields. Unset fields fail the
// test when called.
type fakeStore struct {
	t      *testing.T
	put    func(ctx context.Context, body io.Reader, name string) (hdfs.PutResult, error)
	get    func(ctx context.Context, id string) (hdfs.Jar, error)
	list   func(ctx context.Context) ([]hdfs.Jar, error)
	delete func(ctx context.Context, id string) error
}

func (f *fakeStore) Put(ctx context.Context, body io.Reader, name string) (hdfs.PutResult, error) {
	if f.put == nil {
		f.t.Error("unexpected Put")
		return hdfs.PutResult{}, nil
	}
	return f.put(ctx, body, name)
}

func (f *fakeStore) Get(ctx context.Context, id string) (hdfs.Jar, error) {
	if f.get == nil {
		f.t.Error("unexpected Get")
		return hdfs.Jar{}, nil
	}
	return f.get(ctx, id)
}

func (f *fakeStore) List(ctx context.Context) ([]hdfs.Jar, error) {
	if f.list == nil {
		f.t.Error("unexpected List")
		return nil, nil
	}
	return f.list(ctx)
}

func (f *fakeStore) Delete(ctx context.Context, id string) error {
	if f.delete == nil {
		f.t.Error("unexpected Delete")
		return nil
	}
	return f.delete(ctx, id)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is a gateway engine over a fake store, with its log captured.
type testServer struct {
	engine *gin.Engine
	store  *fakeStore
	log    *syncBuffer
}

const testMaxJarSize = 1 << 20

func newTestServer(t *testing.T, readiness ...ReadinessCheck) *testServer {
	t.Helper()
	return newTestServerWith(t, func(o *Options) {
		o.Readiness = readiness
		o.ReadyTimeout = 300 * time.Millisecond
	})
}

// newTestServerWith builds the engine over a fake jar store; tweak sets the job, session or readiness
// parts of the options.
func newTestServerWith(t *testing.T, tweak func(*Options)) *testServer {
	t.Helper()
	store := &fakeStore{t: t}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	metrics, err := job.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	httpMetrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Logger: logger, Registry: reg, Metrics: httpMetrics, Auth: noAuth(t),
		Jars:       job.NewJarService(store, testMaxJarSize, logger, metrics),
		MaxJarSize: testMaxJarSize,
	}
	tweak(&opts)
	engine, err := newEngine(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{engine: engine, store: store, log: logs}
}

// do sends a request through the engine.
func (s *testServer) do(t *testing.T, method, target string, body io.Reader, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, target, body)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if cl := header.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = n
	}
	rec := httptest.NewRecorder()
	s.engine.ServeHTTP(rec, req)
	return rec
}

// decodeError decodes an error body and checks its shape.
func decodeError(t *testing.T, rec *httptest.ResponseRecorder) api.Error {
	t.Helper()
	var body api.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body.String(), err)
	}
	if body.Error.Code == "" || body.Error.Message == "" || body.Error.RequestID == "" {
		t.Errorf("incomplete error body %q", rec.Body.String())
	}
	if got := rec.Header().Get(RequestIDHeader); got != body.Error.RequestID {
		t.Errorf("error requestId %q differs from header %q", body.Error.RequestID, got)
	}
	return body.Error
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// goodID is a well-formed jar id.
var goodID = strings.Repeat("ab", 32)

func ptr[T any](v T) *T { return &v }

// noAuth is the authenticator of a gateway without authentication: every caller is "tester".
func noAuth(t *testing.T) *authn.Authenticator {
	t.Helper()
	a, err := authn.New(authn.Options{NoneUser: "tester", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
