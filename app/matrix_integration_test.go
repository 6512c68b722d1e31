package app

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRouteCallerMatrix: every route against every kind of caller, over HTTP with bearer tokens on the real
// cluster: anonymous, the owner (alice), another user (bob), an administrator (dana), a service principal with
// proxy rights for alice (airflow) and one without (nightly). The object is alice's running job and the jar it
// runs. What a caller may not see is 404, not 403; nobody without credentials gets past 401.
func TestRouteCallerMatrix(t *testing.T) {
	t.Parallel()
	g, tokens := impersonationGateway(t)
	callers := map[string]*jobGateway{"anonymous": g.as(""), "alice": g, "bob": g.as(tokens["bob"]), "dana": g.as(tokens["dana"]),
		"airflow": g.as(tokens["airflow"]), "nightly": g.as(tokens["nightly"])}
	j := g.submit(g.spec("it-matrix", "1.20", "--mode", "unbounded", "--rate", "5"), nil)
	jar := "/v1/jars/" + g.jarID
	forBob := g.spec("it-matrix-proxied", "1.20")
	forBob["proxyUser"] = "bob"

	type row struct {
		method, path string
		body         any
		want         map[string]int // by caller
	}
	rows := []row{
		{http.MethodGet, "/v1/jobs/" + j.ID, nil, map[string]int{"anonymous": 401, "alice": 200, "bob": 404, "dana": 200, "airflow": 404, "nightly": 404}},
		{http.MethodGet, "/v1/sessions/" + j.ID, nil, map[string]int{"anonymous": 401, "alice": 404, "bob": 404, "dana": 404}},
		// The log routes authorize as GET on the job: the owner and administrators, nobody else.
		{http.MethodGet, "/v1/jobs/" + j.ID + "/logs", nil, map[string]int{"anonymous": 401, "alice": 200, "bob": 404, "dana": 200, "airflow": 404}},
		{http.MethodGet, "/v1/jobs/" + j.ID + "/logs/container_1_0001_01_000001/jobmanager.log", nil, map[string]int{"anonymous": 401, "alice": 404, "bob": 404}},
		{http.MethodGet, "/v1/sessions/" + j.ID + "/logs", nil, map[string]int{"anonymous": 401, "alice": 404, "bob": 404}},
		{http.MethodGet, jar, nil, map[string]int{"anonymous": 401, "alice": 200, "bob": 404, "dana": 200, "airflow": 404, "nightly": 404}},
		{http.MethodDelete, jar, nil, map[string]int{"anonymous": 401, "alice": 409, "bob": 404, "airflow": 404, "nightly": 404}},
		{http.MethodPost, "/v1/jobs/" + j.ID + "/cancel", nil, map[string]int{"anonymous": 401, "bob": 404, "airflow": 404, "nightly": 404}},
		{http.MethodGet, "/v1/jobs/" + j.ID + "/savepoints", nil, map[string]int{"anonymous": 401, "alice": 200, "bob": 404, "dana": 200, "airflow": 404, "nightly": 404}},
		{http.MethodPost, "/v1/jobs/" + j.ID + "/savepoints", nil, map[string]int{"anonymous": 401, "bob": 404, "airflow": 404, "nightly": 404}},
		{http.MethodPost, "/v1/jobs/" + j.ID + "/stop", map[string]bool{"savepoint": true}, map[string]int{"anonymous": 401, "bob": 404, "airflow": 404, "nightly": 404}},
		{http.MethodPost, "/v1/jobs", forBob, map[string]int{"anonymous": 401, "alice": 403, "airflow": 403, "nightly": 403, "dana": 403}},
		// Registering a cluster is an administrator's (dana's gets past authorization to the unreachable URL).
		{http.MethodPost, "/v1/clusters", map[string]any{"id": "it-matrix", "rest": []string{"http://127.0.0.1:1"}},
			map[string]int{"anonymous": 401, "alice": 403, "bob": 403, "airflow": 403, "nightly": 403, "dana": 422}},
		{http.MethodGet, "/v1/clusters", nil, map[string]int{"anonymous": 401, "alice": 200, "dana": 200}},
		{http.MethodGet, "/v1/clusters/it-matrix", nil, map[string]int{"anonymous": 401, "alice": 404, "dana": 404}},
		{http.MethodDelete, "/v1/clusters/it-matrix", nil, map[string]int{"anonymous": 401, "alice": 404, "dana": 404}},
		{http.MethodGet, "/v1/openapi.yaml", nil, map[string]int{"anonymous": 401, "alice": 200, "nightly": 200}},
		{http.MethodGet, "/healthz", nil, map[string]int{"anonymous": 200, "alice": 200}},
	}
	for _, r := range rows {
		for who, want := range r.want {
			status, _, e, body := callers[who].on(t).do(r.method, r.path, nil, r.body)
			if status != want {
				t.Errorf("%s %s as %s = %d %.200s, want %d", r.method, r.path, who, status, body, want)
			}
			if status == 401 && e.Error.Code != "unauthenticated" || status == 403 && e.Error.Code != "forbidden" || status == 409 && e.Error.Code != "jar_in_use" {
				t.Errorf("%s %s as %s = %d with code %q", r.method, r.path, who, status, e.Error.Code)
			}
		}
	}
	// Lists show each caller their own.
	for who, sees := range map[string]bool{"alice": true, "bob": false, "dana": true, "airflow": false} {
		_, _, _, body := callers[who].on(t).do(http.MethodGet, "/v1/jobs", nil, nil)
		if strings.Contains(body, j.ID) != sees {
			t.Errorf("GET /v1/jobs as %s lists alice's job: %v, want %v", who, !sees, sees)
		}
	}
	// The administrator may act on alice's job.
	if status, _, _, body := callers["dana"].on(t).do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true}); status != 200 && status != 202 {
		t.Errorf("dana kills alice's job = %d %s", status, body)
	}
	if k := g.wait(j.ID, "KILLED", 2*time.Minute); !k.Terminal {
		t.Errorf("after the administrator's kill: %s", k.State)
	}
}
