package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/jarfile/jartest"
	"github.com/yarngate/yarngate/job"
)

// realServer is the gateway over a real HDFS staging store on the test cluster, behind a real HTTP server
// so that bodies stream as they do in production.
type realServer struct {
	*hdfstest.Root
	url string
}

const realMaxJarSize = 2 << 20

func newRealServer(t *testing.T) *realServer {
	t.Helper()
	root := hdfstest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := hdfs.New(hdfs.Options{
		Addresses: root.Addresses, FSURI: root.FSURI, User: root.Cluster.User, Root: root.Path,
		MaxSize: realMaxJarSize, PoolSize: 4, DialTimeout: 5 * time.Second, IOTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
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
		Logger: logger, Registry: reg, Metrics: httpMetrics, Auth: noAuth(t), MaxJarSize: realMaxJarSize,
		Jars:      job.NewJarService(store, realMaxJarSize, logger, metrics),
		Readiness: []ReadinessCheck{{Name: "hdfs", Check: store.Ping}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := store.Close(ctx); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &realServer{Root: root, url: srv.URL}
}

// upload posts body with the given content type; a nil length sends it chunked.
func (s *realServer) upload(t *testing.T, target, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+target, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (s *realServer) request(t *testing.T, method, target string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, s.url+target, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func decodeJar(t *testing.T, body []byte) api.Jar {
	t.Helper()
	var j api.Jar
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatalf("response %q: %v", body, err)
	}
	return j
}

// sameJar compares two API jars field by field (mainClass is a pointer).
func sameJar(a, b api.Jar) bool {
	ma, mb := "", ""
	if a.MainClass != nil {
		ma = "=" + *a.MainClass
	}
	if b.MainClass != nil {
		mb = "=" + *b.MainClass
	}
	return a.ID == b.ID && a.Name == b.Name && a.Size == b.Size && a.SHA256 == b.SHA256 && a.Path == b.Path &&
		ma == mb && a.CreatedAt.Equal(b.CreatedAt)
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestIntegrationUploadListGetDelete(t *testing.T) {
	t.Parallel()
	s := newRealServer(t)
	first := jartest.Bytes(t, jartest.Options{MainClass: "com.example.First", PayloadSize: 200_000, Seed: 11})
	second := jartest.Bytes(t, jartest.Options{PayloadSize: 100_000, Seed: 12})

	status, body := s.upload(t, "/v1/jars?name=first.jar", "application/java-archive", bytes.NewReader(first))
	if status != http.StatusCreated {
		t.Fatalf("raw upload: %d %s", status, body)
	}
	a := decodeJar(t, body)
	wantPath := s.FSURI + s.Path + "/jars/" + digest(first) + ".jar"
	if a.ID != digest(first) || a.SHA256 != a.ID || a.Size != int64(len(first)) || a.Name != "first.jar" ||
		a.Path != wantPath || a.MainClass == nil || *a.MainClass != "com.example.First" || time.Since(a.CreatedAt) > time.Minute {
		t.Errorf("raw upload response %s", body)
	}

	// The same content as multipart: the existing jar, with its first name.
	mp, ct := multipartBody(t, "jar", "renamed.jar", first, map[string]string{"note": "x"})
	status, body = s.upload(t, "/v1/jars", ct, mp)
	if status != http.StatusOK || !sameJar(decodeJar(t, body), a) {
		t.Errorf("multipart re-upload: %d %s, want 200 with %+v", status, body, a)
	}

	// New content as multipart, streamed chunked.
	mp, ct = multipartBody(t, "jar", "C:\\builds\\second.jar", second, nil)
	status, body = s.upload(t, "/v1/jars", ct, io.MultiReader(mp))
	if status != http.StatusCreated {
		t.Fatalf("multipart upload: %d %s", status, body)
	}
	b := decodeJar(t, body)
	if b.ID != digest(second) || b.Name != "second.jar" || b.MainClass != nil {
		t.Errorf("multipart upload response %s", body)
	}
	s.AssertStaged(t, a.ID, b.ID)

	status, body = s.request(t, http.MethodGet, "/v1/jars")
	var list api.JarList
	if status != 200 || json.Unmarshal(body, &list) != nil || len(list.Jars) != 2 {
		t.Fatalf("list: %d %s", status, body)
	}
	if status, body = s.request(t, http.MethodGet, "/v1/jars/"+a.ID); status != 200 || !sameJar(decodeJar(t, body), a) {
		t.Errorf("get: %d %s", status, body)
	}
	if status, body = s.request(t, http.MethodDelete, "/v1/jars/"+a.ID); status != http.StatusNoContent || len(body) != 0 {
		t.Errorf("delete: %d %s", status, body)
	}
	if status, _ = s.request(t, http.MethodGet, "/v1/jars/"+a.ID); status != http.StatusNotFound {
		t.Errorf("get after delete: %d", status)
	}
	if status, _ = s.request(t, http.MethodDelete, "/v1/jars/"+a.ID); status != http.StatusNotFound {
		t.Errorf("second delete: %d", status)
	}
	s.AssertStaged(t, b.ID)
	if status, body = s.request(t, http.MethodGet, "/readyz"); status != 200 {
		t.Errorf("readyz: %d %s", status, body)
	}
}

func TestIntegrationConcurrentSameContent(t *testing.T) {
	t.Parallel()
	s := newRealServer(t)
	data := jartest.Bytes(t, jartest.Options{MainClass: "a.B", PayloadSize: 1 << 20, Seed: 13})
	const n = 8
	statuses := make([]int, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			status, body := s.upload(t, "/v1/jars", "application/octet-stream", bytes.NewReader(data))
			statuses[i] = status
			if status == 200 || status == 201 {
				ids[i] = decodeJar(t, body).ID
			}
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		switch {
		case statuses[i] == 201:
			created++
		case statuses[i] != 200:
			t.Errorf("upload #%d: status %d", i, statuses[i])
		}
		if ids[i] != digest(data) {
			t.Errorf("upload #%d: id %q", i, ids[i])
		}
	}
	if created != 1 {
		t.Errorf("%d uploads got 201, want exactly 1", created)
	}
	s.AssertStaged(t, digest(data))
}

// onlyReader hides the concrete type of a reader, so the HTTP client cannot know the length and sends
// the body chunked.
type onlyReader struct{ io.Reader }

func TestIntegrationBadInputLeavesNothing(t *testing.T) {
	t.Parallel()
	s := newRealServer(t)
	valid := jartest.Bytes(t, jartest.Options{PayloadSize: 50_000, Seed: 14})
	big := jartest.Bytes(t, jartest.Options{PayloadSize: realMaxJarSize + 1000, Seed: 15})
	evil := jartest.Bytes(t, jartest.Options{PayloadSize: 1000, Seed: 16})
	bigMP, bigMPType := multipartBody(t, "jar", "big.jar", big, nil)
	tests := []struct {
		name        string
		target      string
		contentType string
		body        func() io.Reader
		wantStatus  int
		wantCode    string
		staged      []string // jars that must exist afterwards
	}{
		{name: "text file", target: "/v1/jars", contentType: "application/java-archive",
			body: func() io.Reader { return strings.NewReader("just text\n") }, wantStatus: 400, wantCode: api.CodeInvalidJar},
		{name: "truncated zip", target: "/v1/jars", contentType: "application/java-archive",
			body: func() io.Reader { return bytes.NewReader(valid[:len(valid)-64]) }, wantStatus: 400, wantCode: api.CodeInvalidJar},
		{name: "empty body", target: "/v1/jars", contentType: "application/java-archive",
			body: func() io.Reader { return bytes.NewReader(nil) }, wantStatus: 400, wantCode: api.CodeInvalidJar},
		{name: "too large by Content-Length", target: "/v1/jars", contentType: "application/java-archive",
			body: func() io.Reader { return bytes.NewReader(big) }, wantStatus: 413, wantCode: api.CodeTooLarge},
		{name: "too large while streaming", target: "/v1/jars", contentType: "application/java-archive",
			body: func() io.Reader { return onlyReader{bytes.NewReader(big)} }, wantStatus: 413, wantCode: api.CodeTooLarge},
		{name: "too large multipart", target: "/v1/jars", contentType: bigMPType,
			body: func() io.Reader { return onlyReader{bytes.NewReader(bigMP.Bytes())} }, wantStatus: 413, wantCode: api.CodeTooLarge},
		{name: "wrong content type", target: "/v1/jars", contentType: "text/plain",
			body: func() io.Reader { return bytes.NewReader(valid) }, wantStatus: 415, wantCode: api.CodeUnsupportedMediaType},
		{name: "multipart without jar field", target: "/v1/jars", contentType: "multipart/form-data; boundary=xyz",
			body: func() io.Reader {
				return strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--xyz--\r\n")
			},
			wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "evil file name is only metadata", target: "/v1/jars?name=" + "..%2F..%2F..%2Ftmp%2Fx%0A%00.jar", contentType: "application/java-archive",
			body: func() io.Reader { return bytes.NewReader(evil) }, wantStatus: 201, staged: []string{digest(evil)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := s.upload(t, tc.target, tc.contentType, tc.body())
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tc.wantStatus, body)
			}
			if tc.wantCode != "" {
				var e api.ErrorBody
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tc.wantCode || e.Error.RequestID == "" {
					t.Errorf("error body %s, want code %s", body, tc.wantCode)
				}
			} else {
				j := decodeJar(t, body)
				if j.Name != "x.jar" || !strings.HasSuffix(j.Path, s.Path+"/jars/"+j.ID+".jar") {
					t.Errorf("evil upload stored as %s (%s)", j.Path, j.Name)
				}
			}
			s.AssertStaged(t, tc.staged...)
			for _, leaked := range []string{"/tmp", "hdfs://"} {
				if tc.wantCode != "" && strings.Contains(string(body), leaked) {
					t.Errorf("error body leaks %q: %s", leaked, body)
				}
			}
		})
	}
	// Nothing else appeared anywhere under the root.
	if got := s.Names(t, ""); len(got) > 2 {
		t.Errorf("staging root holds %v", got)
	}
}
