package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
)

// fakeAuth is an authenticator that accepts "Bearer good" as alice and refuses the rest as authn does.
type fakeAuth struct{}

func (fakeAuth) Authenticate(w http.ResponseWriter, r *http.Request) (authn.Principal, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer good":
		return authn.Principal{Name: "alice@EXAMPLE.COM", User: "alice", Groups: []string{"etl"}, Method: authn.MethodToken}, nil
	case "Bearer issuer-down":
		return authn.Principal{}, fmt.Errorf("%w: OIDC discovery of https://idp.internal: connection refused", authn.ErrUnavailable)
	}
	w.Header().Add("WWW-Authenticate", "Negotiate")
	w.Header().Add("WWW-Authenticate", `Bearer realm="yarngate"`)
	return authn.Principal{}, fmt.Errorf("%w: unknown bearer token for alice@EXAMPLE.COM", authn.ErrUnauthenticated)
}

func TestAuthentication(t *testing.T) {
	jobs := &fakeJobs{t: t}
	var seen authn.Principal
	jobs.job = func(ctx context.Context, id string) (api.Job, error) {
		seen, _ = authn.FromContext(ctx)
		return testJob(), nil
	}
	s := newTestServerWith(t, func(o *Options) { o.Jobs = jobs; o.Auth = fakeAuth{} })

	tests := []struct {
		name, method, path, auth string
		want                     int
		wantCode                 string
	}{
		{name: "job with credentials", method: "GET", path: "/v1/jobs/" + testAppID, auth: "Bearer good", want: 200},
		{name: "job without credentials", method: "GET", path: "/v1/jobs/" + testAppID, want: 401, wantCode: api.CodeUnauthenticated},
		{name: "bad token", method: "POST", path: "/v1/jobs", auth: "Bearer bad", want: 401, wantCode: api.CodeUnauthenticated},
		{name: "jars", method: "GET", path: "/v1/jars", want: 401, wantCode: api.CodeUnauthenticated},
		{name: "openapi", method: "GET", path: "/v1/openapi.yaml", want: 401, wantCode: api.CodeUnauthenticated},
		{name: "openapi with credentials", method: "GET", path: "/v1/openapi.yaml", auth: "Bearer good", want: 200},
		{name: "unknown route under v1", method: "GET", path: "/v1/nope", want: 404, wantCode: api.CodeNotFound},
		{name: "issuer down", method: "GET", path: "/v1/jars", auth: "Bearer issuer-down", want: 503, wantCode: api.CodeUnavailable},
		{name: "healthz is open", method: "GET", path: "/healthz", want: 200},
		{name: "readyz is open", method: "GET", path: "/readyz", want: 200},
		{name: "metrics are open", method: "GET", path: "/metrics", want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = authn.Principal{}
			h := http.Header{}
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			rec := s.do(t, tt.method, tt.path, strings.NewReader("{}"), h)
			if rec.Code != tt.want {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, rec.Code, rec.Body, tt.want)
			}
			if tt.wantCode != "" {
				e := decodeError(t, rec)
				if e.Code != tt.wantCode {
					t.Errorf("code %q, want %q", e.Code, tt.wantCode)
				}
				if strings.Contains(rec.Body.String(), "alice") || strings.Contains(rec.Body.String(), "idp.internal") {
					t.Errorf("the body leaks the cause: %s", rec.Body)
				}
			}
			if rec.Code == 401 && len(rec.Header().Values("WWW-Authenticate")) != 2 {
				t.Errorf("challenges %q", rec.Header().Values("WWW-Authenticate"))
			}
		})
	}
	// The principal reached the service through the request's context.
	rec := s.do(t, "GET", "/v1/jobs/"+testAppID, nil, header("Authorization", "Bearer good"))
	if rec.Code != 200 || seen.User != "alice" || seen.Name != "alice@EXAMPLE.COM" || !seen.InGroup("etl") {
		t.Errorf("the service saw %+v (status %d)", seen, rec.Code)
	}
	if logs := s.log.String(); !strings.Contains(logs, `"user":"alice"`) {
		t.Errorf("the access log does not name the user")
	}
}
