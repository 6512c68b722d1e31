package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/job"
)

// fakeKeytabs is a keytabAPI that records uploads and answers with err when set.
type fakeKeytabs struct {
	data      []byte
	principal string
	err       error
}

var testKeytabObj = api.Keytab{ID: strings.Repeat("ab", 16), Principal: "alice@EXAMPLE.COM", CreatedAt: time.Unix(1800000000, 0).UTC(),
	Keys: []api.KeytabKey{{Version: 2, EncryptionType: "aes256-cts-hmac-sha1-96"}}}

func (f *fakeKeytabs) Upload(_ context.Context, body io.Reader, principal string) (api.Keytab, error) {
	f.data, _ = io.ReadAll(body)
	f.principal = principal
	return testKeytabObj, f.err
}

func (f *fakeKeytabs) Get(_ context.Context, id string) (api.Keytab, error) {
	if id != testKeytabObj.ID {
		return api.Keytab{}, fmt.Errorf("get keytab: %w", job.ErrStoredKeytabNotFound)
	}
	return testKeytabObj, f.err
}

func (f *fakeKeytabs) List(context.Context) ([]api.Keytab, error) {
	return []api.Keytab{testKeytabObj}, f.err
}

func (f *fakeKeytabs) Delete(_ context.Context, id string) error {
	if id != testKeytabObj.ID {
		return fmt.Errorf("delete keytab: %w", job.ErrStoredKeytabNotFound)
	}
	return f.err
}

// kdcRefusal stands for kerberos.LoginError: a refusal with a client-safe reason.
type kdcRefusal struct{}

func (kdcRefusal) Error() string        { return "KRB Error: (24) KDC_ERR_PREAUTH_FAILED alice@EXAMPLE.COM" }
func (kdcRefusal) PublicReason() string { return "kerberos: the KDC rejected the keytab's key" }

func multipartKeytab(t *testing.T, fields ...string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == keytabField {
			fw, _ := w.CreateFormFile(keytabField, "alice.keytab")
			fw.Write([]byte(fields[i+1]))
			continue
		}
		w.WriteField(fields[i], fields[i+1])
	}
	w.Close()
	return &buf, w.FormDataContentType()
}

func TestKeytabRoutes(t *testing.T) {
	const secret = "\x05\x02 secret key bytes"
	id := testKeytabObj.ID
	for _, tc := range []struct {
		name          string
		disabled      bool
		err           error
		method, path  string
		body          func(t *testing.T) (io.Reader, string)
		status        int
		code          string
		msg           string
		wantPrincipal string
	}{
		{name: "raw upload", method: "POST", path: "/v1/keytabs?principal=alice@EXAMPLE.COM",
			body:   func(*testing.T) (io.Reader, string) { return strings.NewReader(secret), "application/octet-stream" },
			status: 201, wantPrincipal: "alice@EXAMPLE.COM"},
		{name: "multipart, principal after the file", method: "POST", path: "/v1/keytabs",
			body: func(t *testing.T) (io.Reader, string) {
				return multipartKeytab(t, "keytab", secret, "principal", "alice")
			},
			status: 201, wantPrincipal: "alice"},
		{name: "multipart without keytab", method: "POST", path: "/v1/keytabs",
			body:   func(t *testing.T) (io.Reader, string) { return multipartKeytab(t, "principal", "alice") },
			status: 400, code: api.CodeInvalidRequest},
		{name: "wrong media type", method: "POST", path: "/v1/keytabs",
			body:   func(*testing.T) (io.Reader, string) { return strings.NewReader(secret), "text/plain" },
			status: 415, code: api.CodeUnsupportedMediaType},
		{name: "too large", method: "POST", path: "/v1/keytabs",
			body: func(*testing.T) (io.Reader, string) {
				return bytes.NewReader(make([]byte, maxKeytabBody+1)), "application/octet-stream"
			},
			status: 413, code: api.CodeTooLarge},
		{name: "invalid keytab", method: "POST", path: "/v1/keytabs", err: fmt.Errorf("upload keytab: %w: the keytab holds no key for the principal", job.ErrInvalidKeytab),
			body:   func(*testing.T) (io.Reader, string) { return strings.NewReader(secret), "application/octet-stream" },
			status: 400, code: api.CodeInvalidKeytab, msg: "the keytab is unusable: the keytab holds no key for the principal"},
		{name: "rejected by the KDC", method: "POST", path: "/v1/keytabs", err: fmt.Errorf("upload keytab: %w: %w", job.ErrKeytabRejected, kdcRefusal{}),
			body:   func(*testing.T) (io.Reader, string) { return strings.NewReader(secret), "application/octet-stream" },
			status: 422, code: api.CodeKeytabRejected, msg: "the KDC refused a login with the keytab's keys: kerberos: the KDC rejected the keytab's key"},
		{name: "KDC unavailable", method: "POST", path: "/v1/keytabs", err: fmt.Errorf("upload keytab: %w", job.ErrKDCUnavailable),
			body:   func(*testing.T) (io.Reader, string) { return strings.NewReader(secret), "application/octet-stream" },
			status: 503, code: api.CodeUnavailable},
		{name: "without Kerberos", disabled: true, method: "POST", path: "/v1/keytabs",
			body:   func(*testing.T) (io.Reader, string) { return strings.NewReader(secret), "application/octet-stream" },
			status: 404, code: api.CodeNotFound},
		{name: "list", method: "GET", path: "/v1/keytabs", status: 200},
		{name: "list without Kerberos", disabled: true, method: "GET", path: "/v1/keytabs", status: 404, code: api.CodeNotFound},
		{name: "get", method: "GET", path: "/v1/keytabs/" + id, status: 200},
		{name: "get a bad id", method: "GET", path: "/v1/keytabs/nope", status: 400, code: api.CodeInvalidRequest},
		{name: "get a missing one", method: "GET", path: "/v1/keytabs/" + strings.Repeat("0", 32), status: 404, code: api.CodeNotFound},
		{name: "delete", method: "DELETE", path: "/v1/keytabs/" + id, status: 204},
		{name: "delete a missing one", method: "DELETE", path: "/v1/keytabs/" + strings.Repeat("0", 32), status: 404, code: api.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeKeytabs{err: tc.err}
			s := newTestServerWith(t, func(o *Options) {
				if !tc.disabled {
					o.Keytabs = fake
				}
			})
			var body io.Reader
			h := http.Header{}
			if tc.body != nil {
				var ct string
				body, ct = tc.body(t)
				h.Set("Content-Type", ct)
			}
			rec := s.do(t, tc.method, tc.path, body, h)
			if rec.Code != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, rec.Code, rec.Body.String(), tc.status)
			}
			if strings.Contains(rec.Body.String(), "secret key bytes") || strings.Contains(s.log.String(), "secret key bytes") {
				t.Errorf("key material in the answer or the logs")
			}
			if tc.code != "" {
				e := decodeError(t, rec)
				if e.Code != tc.code || (tc.msg != "" && e.Message != tc.msg) {
					t.Errorf("error %+v, want %s %q", e, tc.code, tc.msg)
				}
				if strings.Contains(e.Message, "EXAMPLE.COM") {
					t.Errorf("the message names a principal: %q", e.Message)
				}
				return
			}
			if tc.status == 201 {
				if string(fake.data) != secret || fake.principal != tc.wantPrincipal {
					t.Errorf("upload got %q for %q, want the body for %q", fake.data, fake.principal, tc.wantPrincipal)
				}
				if rec.Header().Get("Location") != "/v1/keytabs/"+id {
					t.Errorf("Location %q", rec.Header().Get("Location"))
				}
			}
		})
	}
}
