package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/jarfile"
	"github.com/yarngate/yarngate/job"
)

// multipartBody returns a multipart body with the given fields (name -> content) and a file part.
func multipartBody(t *testing.T, fileField, fileName string, content []byte, extra map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range extra {
		mw.WriteField(k, v)
	}
	if fileField != "" {
		w, err := mw.CreateFormFile(fileField, fileName)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(content)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

var staged = hdfs.Jar{
	ID: goodID, Name: "job.jar", Size: 42, Path: "/user/u/.yarngate/jars/" + goodID + ".jar",
	URI:       "hdfs://prod/user/u/.yarngate/jars/" + goodID + ".jar",
	MainClass: "com.example.Job", ModTime: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC),
}

func TestUploadJar(t *testing.T) {
	content := []byte("PK\x03\x04 pretend jar bytes")
	mpBody, mpType := multipartBody(t, "jar", "../../etc/evil.jar", content, map[string]string{"comment": "first"})
	ctlBody, ctlType := multipartBody(t, "jar", "evil\x01.jar", content, nil)
	noJarBody, noJarType := multipartBody(t, "file", "x.jar", content, nil)
	// An RFC 5987 file name smuggles encoded separators and control characters past the header parser.
	const boundary = "b0undary"
	encoded := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"jar\"; filename*=UTF-8''..%2F..%2Fe%01vil.jar\r\n\r\n" +
		string(content) + "\r\n--" + boundary + "--\r\n"
	tests := []struct {
		name       string
		target     string
		body       io.Reader
		header     http.Header
		put        func(ctx context.Context, body io.Reader, name string) (hdfs.PutResult, error)
		wantStatus int
		wantCode   string
		wantName   string // name the store must receive
	}{
		{name: "raw java-archive", target: "/v1/jars?name=job.jar", body: bytes.NewReader(content),
			header: header("Content-Type", "application/java-archive"), wantStatus: 201, wantName: "job.jar"},
		{name: "raw octet-stream already staged", target: "/v1/jars", body: bytes.NewReader(content),
			header: header("Content-Type", "application/octet-stream"), wantStatus: 200, wantName: "",
			put: func(_ context.Context, body io.Reader, _ string) (hdfs.PutResult, error) {
				io.Copy(io.Discard, body)
				return hdfs.PutResult{Jar: staged}, nil
			}},
		{name: "multipart with a field before the jar", target: "/v1/jars", body: mpBody,
			header: header("Content-Type", mpType), wantStatus: 201, wantName: "evil.jar"},
		{name: "multipart with an encoded evil file name", target: "/v1/jars", body: strings.NewReader(encoded),
			header: header("Content-Type", "multipart/form-data; boundary="+boundary), wantStatus: 201, wantName: "evil.jar"},
		{name: "multipart with control characters in the file name", target: "/v1/jars", body: ctlBody,
			header: header("Content-Type", ctlType), wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "evil name in the query", target: "/v1/jars?name=..%2F..%2Fx.jar%00%1b%5B31m", body: bytes.NewReader(content),
			header: header("Content-Type", "application/java-archive"), wantStatus: 201, wantName: "x.jar[31m"},
		{name: "multipart without a jar field", target: "/v1/jars", body: noJarBody,
			header: header("Content-Type", noJarType), wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "multipart without boundary", target: "/v1/jars", body: strings.NewReader("x"),
			header: header("Content-Type", "multipart/form-data"), wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "text/plain", target: "/v1/jars", body: strings.NewReader("hello"),
			header: header("Content-Type", "text/plain"), wantStatus: 415, wantCode: api.CodeUnsupportedMediaType},
		{name: "no content type", target: "/v1/jars", body: strings.NewReader("hello"),
			wantStatus: 415, wantCode: api.CodeUnsupportedMediaType},
		{name: "declared too large", target: "/v1/jars", body: bytes.NewReader(content),
			header:     header("Content-Type", "application/java-archive", "Content-Length", fmt.Sprint(testMaxJarSize+1)),
			wantStatus: 413, wantCode: api.CodeTooLarge},
		{name: "not a jar", target: "/v1/jars", body: strings.NewReader("hello"),
			header: header("Content-Type", "application/java-archive"), wantStatus: 400, wantCode: api.CodeInvalidJar,
			put: func(context.Context, io.Reader, string) (hdfs.PutResult, error) {
				return hdfs.PutResult{}, fmt.Errorf("stage jar: %w: %w", hdfs.ErrInvalidJar, jarfile.ErrNotZip)
			}},
		{name: "too large while streaming", target: "/v1/jars", body: strings.NewReader("hello"),
			header: header("Content-Type", "application/java-archive"), wantStatus: 413, wantCode: api.CodeTooLarge,
			put: func(context.Context, io.Reader, string) (hdfs.PutResult, error) {
				return hdfs.PutResult{}, fmt.Errorf("stage jar: %w", hdfs.ErrTooLarge)
			}},
		{name: "body larger than the cap", target: "/v1/jars", body: io.LimitReader(zeros{}, testMaxJarSize+10),
			header: header("Content-Type", "application/octet-stream"), wantStatus: 413, wantCode: api.CodeTooLarge,
			put: func(_ context.Context, body io.Reader, _ string) (hdfs.PutResult, error) {
				_, err := io.Copy(io.Discard, io.LimitReader(body, testMaxJarSize+10)) // read past the limit
				return hdfs.PutResult{}, err
			}},
		{name: "storage down", target: "/v1/jars", body: strings.NewReader("x"),
			header: header("Content-Type", "application/java-archive"), wantStatus: 503, wantCode: api.CodeUnavailable,
			put: func(context.Context, io.Reader, string) (hdfs.PutResult, error) {
				return hdfs.PutResult{}, fmt.Errorf("stage jar: %w: dial tcp nn1.internal.example.com:8020: refused", hdfs.ErrUnavailable)
			}},
		{name: "unexpected failure", target: "/v1/jars", body: strings.NewReader("x"),
			header: header("Content-Type", "application/java-archive"), wantStatus: 500, wantCode: api.CodeInternal,
			put: func(context.Context, io.Reader, string) (hdfs.PutResult, error) {
				return hdfs.PutResult{}, errors.New("org.apache.hadoop.security.AccessControlException: Permission denied: user=yarngate@EXAMPLE.COM")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			var gotName string
			var gotBody []byte
			s.store.put = func(ctx context.Context, body io.Reader, name string) (hdfs.PutResult, error) {
				gotName = name
				if tc.put != nil {
					return tc.put(ctx, body, name)
				}
				gotBody, _ = io.ReadAll(body)
				return hdfs.PutResult{Jar: staged, Created: true}, nil
			}
			rec := s.do(t, http.MethodPost, tc.target, tc.body, tc.header)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode != "" {
				e := decodeError(t, rec)
				if e.Code != tc.wantCode {
					t.Errorf("code = %q, want %q", e.Code, tc.wantCode)
				}
				for _, secret := range []string{"nn1.internal", "AccessControlException", "EXAMPLE.COM", "yarngate@"} {
					if strings.Contains(rec.Body.String(), secret) {
						t.Errorf("error body leaks %q: %s", secret, rec.Body)
					}
				}
				return
			}
			if gotName != tc.wantName {
				t.Errorf("store got name %q, want %q", gotName, tc.wantName)
			}
			if tc.put == nil && !bytes.Equal(gotBody, content) {
				t.Errorf("store got body %q, want %q", gotBody, content)
			}
			var got api.Jar
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			want := api.Jar{ID: goodID, Name: "job.jar", Size: 42, SHA256: goodID, Path: staged.URI, CreatedAt: staged.ModTime}
			mc := "com.example.Job"
			want.MainClass = &mc
			if got.ID != want.ID || got.Name != want.Name || got.Size != want.Size || got.SHA256 != want.SHA256 ||
				got.Path != want.Path || got.MainClass == nil || *got.MainClass != mc || !got.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("body = %s", rec.Body)
			}
			if loc := rec.Header().Get("Location"); loc != "/v1/jars/"+goodID {
				t.Errorf("Location = %q", loc)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestJarJSONShape(t *testing.T) {
	// mainClass is null, not absent, when there is none; createdAt is RFC 3339 UTC.
	j := staged
	j.MainClass = ""
	out, err := json.Marshal(job.JarToAPI(j))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + goodID + `","name":"job.jar","size":42,"sha256":"` + goodID + `","path":"` + staged.URI +
		`","mainClass":null,"createdAt":"2026-01-02T03:04:05.006Z"}`
	if string(out) != want {
		t.Errorf("JSON = %s\nwant %s", out, want)
	}
}

func TestGetListDeleteJars(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		setup      func(*fakeStore)
		wantStatus int
		wantCode   string
		wantBody   string
	}{
		{name: "list", method: "GET", target: "/v1/jars", wantStatus: 200, wantBody: `"jars":[{"id":"` + goodID,
			setup: func(f *fakeStore) {
				f.list = func(context.Context) ([]hdfs.Jar, error) { return []hdfs.Jar{staged}, nil }
			}},
		{name: "empty list is an empty array", method: "GET", target: "/v1/jars", wantStatus: 200, wantBody: `{"jars":[]}`,
			setup: func(f *fakeStore) { f.list = func(context.Context) ([]hdfs.Jar, error) { return nil, nil } }},
		{name: "get", method: "GET", target: "/v1/jars/" + goodID, wantStatus: 200, wantBody: `"mainClass":"com.example.Job"`,
			setup: func(f *fakeStore) {
				f.get = func(_ context.Context, id string) (hdfs.Jar, error) { return staged, nil }
			}},
		{name: "get unnamed jar", method: "GET", target: "/v1/jars/" + goodID, wantStatus: 200, wantBody: `"name":"` + goodID + `.jar"`,
			setup: func(f *fakeStore) {
				f.get = func(context.Context, string) (hdfs.Jar, error) { j := staged; j.Name = ""; return j, nil }
			}},
		{name: "get unknown", method: "GET", target: "/v1/jars/" + goodID, wantStatus: 404, wantCode: api.CodeNotFound,
			setup: func(f *fakeStore) {
				f.get = func(context.Context, string) (hdfs.Jar, error) { return hdfs.Jar{}, hdfs.ErrNotFound }
			}},
		{name: "get traversal path", method: "GET", target: "/v1/jars/..%2F..%2Fetc", wantStatus: 404, wantCode: api.CodeNotFound},
		{name: "get malformed id", method: "GET", target: "/v1/jars/nope%20x", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "get upper-case id", method: "GET", target: "/v1/jars/" + strings.ToUpper(goodID), wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "delete", method: "DELETE", target: "/v1/jars/" + goodID, wantStatus: 204,
			setup: func(f *fakeStore) { f.delete = func(context.Context, string) error { return nil } }},
		{name: "delete unknown", method: "DELETE", target: "/v1/jars/" + goodID, wantStatus: 404, wantCode: api.CodeNotFound,
			setup: func(f *fakeStore) {
				f.delete = func(context.Context, string) error { return fmt.Errorf("delete: %w", hdfs.ErrNotFound) }
			}},
		{name: "delete malformed id", method: "DELETE", target: "/v1/jars/nope", wantStatus: 400, wantCode: api.CodeInvalidRequest},
		{name: "list while storage is down", method: "GET", target: "/v1/jars", wantStatus: 503, wantCode: api.CodeUnavailable,
			setup: func(f *fakeStore) {
				f.list = func(context.Context) ([]hdfs.Jar, error) { return nil, hdfs.ErrUnavailable }
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			if tc.setup != nil {
				tc.setup(s.store)
			}
			rec := s.do(t, tc.method, tc.target, nil, nil)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantCode != "" {
				if e := decodeError(t, rec); e.Code != tc.wantCode {
					t.Errorf("code = %q, want %q", e.Code, tc.wantCode)
				}
			}
			if !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("body %s lacks %s", rec.Body, tc.wantBody)
			}
		})
	}
}
