package httpapi

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
	"go.yaml.in/yaml/v3"
)

// ginParam matches a gin path parameter such as :id.
var ginParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// TestOpenAPICoversRoutes checks that the OpenAPI document and the router agree: every route (method and
// path template) is documented, and every documented operation is routed.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options"}
	var documented []string
	for p, item := range doc.Paths {
		for m := range item {
			if slices.Contains(methods, m) {
				documented = append(documented, strings.ToUpper(m)+" "+p)
			}
		}
	}
	var routed []string
	for _, r := range newTestServer(t).engine.Routes() {
		routed = append(routed, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(documented)
	slices.Sort(routed)
	for _, r := range routed {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in api/openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routed, d) {
			t.Errorf("api/openapi.yaml documents %s, which the router does not serve", d)
		}
	}
	if len(routed) < 8 {
		t.Errorf("only %d routes found: %v", len(routed), routed)
	}
}

// TestOpenAPIListsErrorCodes keeps the documented error codes in step with the code.
func TestOpenAPIListsErrorCodes(t *testing.T) {
	for _, code := range []string{api.CodeInvalidRequest, api.CodeInvalidJar, api.CodeNotFound, api.CodeMethodNotAllowed, api.CodeRequestTimeout,
		api.CodeTooLarge, api.CodeUnsupportedMediaType, api.CodeRequestCanceled, api.CodeInternal, api.CodeUnavailable, api.CodeBusy, api.CodeNotReady,
		api.CodeUnauthenticated, api.CodeForbidden, api.CodeJarInUse,
		api.CodeUploadTooSlow, api.CodeRateLimited, api.CodeUploadSlotsFull, api.CodeInvalidSpec, api.CodeJarNotFound,
		api.CodeIdempotencyReused, api.CodeUnknownQueue, api.CodeYARNRejected, api.CodeSessionNotFound, api.CodeSessionNotRunning,
		api.CodeInvalidKeytab, api.CodeKeytabRejected, api.CodeKeytabNotFound, api.CodeKeytabUserMismatch,
		api.CodeClusterNotFound, api.CodeClusterExists, api.CodeClusterUnreachable, api.CodeClusterNotFlink, api.CodeClusterNoLeader,
		api.CodeClusterInUse} {
		if !strings.Contains(string(api.OpenAPI), "`"+code+"`") {
			t.Errorf("api/openapi.yaml does not document error code %s", code)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	s := newTestServer(t)
	rec := s.do(t, http.MethodGet, "/v1/openapi.yaml", nil, nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/yaml" || rec.Body.String() != string(api.OpenAPI) {
		t.Errorf("GET /v1/openapi.yaml = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
