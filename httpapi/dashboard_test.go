package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
)

// fakeUI stands in for the dashboard: a page names its caller, the sign-in page its status and problem.
type fakeUI struct{}

func (fakeUI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, _ := authn.FromContext(r.Context())
	w.Write([]byte("page " + r.URL.Path + " for " + p.User))
}

func (fakeUI) Login(w http.ResponseWriter, r *http.Request, status int, problem string) {
	w.WriteHeader(status)
	w.Write([]byte("sign in: " + problem))
}

func (fakeUI) Error(w http.ResponseWriter, r *http.Request, err error) {
	status, e := Classify(err)
	w.WriteHeader(status)
	w.Write([]byte("error: " + e.Code))
}

// TestDashboardRoutes: the dashboard's pages pass the authentication middleware (a bearer header, or the
// token cookie the sign-in form sets), its assets and sign-in page are open, and the cookie authenticates
// reads under /v1 but never writes; sign-in accepts only good tokens, from the same site, and goes on only
// to pages of the dashboard.
func TestDashboardRoutes(t *testing.T) {
	jobs := &fakeJobs{t: t}
	jobs.job = func(context.Context, string) (api.Job, error) { return testJob(), nil }
	jobs.cancel = func(context.Context, string, bool) (api.Job, error) { return testJob(), nil }
	s := newTestServerWith(t, func(o *Options) { o.Jobs = jobs; o.Auth = fakeAuth{}; o.Dashboard = fakeUI{} })
	good, bad := "yarngate_token=good", "yarngate_token=bad"
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, method, target, cookie, auth, origin, body string
		want                                             int
		wantBody, wantLocation, wantCookie               string
		wantChallenge                                    bool
	}{
		{name: "page without credentials", method: "GET", target: "/ui/jobs", want: 401, wantBody: "sign in: ", wantChallenge: true},
		{name: "page with a bearer header", method: "GET", target: "/ui/jobs", auth: "Bearer good", want: 200, wantBody: "page /ui/jobs for alice"},
		{name: "page with the cookie", method: "GET", target: "/ui/jobs/" + testAppID, cookie: good, want: 200, wantBody: "for alice"},
		{name: "home", method: "GET", target: "/ui/", cookie: good, want: 200, wantBody: "page /ui/ for alice"},
		{name: "cluster", method: "GET", target: "/ui/cluster", cookie: good, want: 200},
		{name: "refused cookie is removed", method: "GET", target: "/ui/sessions", cookie: bad, want: 401,
			wantBody: "no longer accepted", wantCookie: "yarngate_token=; Path=/; Max-Age=0"},
		{name: "issuer down", method: "GET", target: "/ui/jobs", auth: "Bearer issuer-down", want: 503, wantBody: "error: unavailable"},
		{name: "ui redirects", method: "GET", target: "/ui", want: 302, wantLocation: "/ui/"},
		{name: "assets are open", method: "GET", target: "/ui/static/dashboard.css", want: 200, wantBody: "page /ui/static/dashboard.css for "},
		{name: "sign-in page is open", method: "GET", target: "/ui/login", want: 200},
		{name: "cookie reads under v1", method: "GET", target: "/v1/jobs/" + testAppID, cookie: good, want: 200},
		{name: "cookie never writes under v1", method: "POST", target: "/v1/jobs/" + testAppID + "/cancel", cookie: good, want: 401},
		{name: "sign in", method: "POST", target: "/ui/login", origin: "http://example.com", body: "token=good&next=%2Fui%2Fjobs%2F" + testAppID,
			want: 303, wantLocation: "/ui/jobs/" + testAppID, wantCookie: "yarngate_token=good; Path=/; HttpOnly; SameSite=Strict"},
		{name: "sign in goes nowhere else", method: "POST", target: "/ui/login", body: "token=good&next=%2F%2Fevil.example%2F", want: 303, wantLocation: "/ui/"},
		{name: "bad token", method: "POST", target: "/ui/login", body: "token=bad", want: 401, wantBody: "sign in: The token was not accepted."},
		{name: "no token", method: "POST", target: "/ui/login", body: "next=%2Fui%2F", want: 401, wantBody: "not accepted"},
		{name: "from another site", method: "POST", target: "/ui/login", origin: "https://evil.example", body: "token=good", want: 403},
		{name: "sign out", method: "POST", target: "/ui/logout", cookie: good, origin: "http://example.com", want: 303, wantLocation: "/ui/login",
			wantCookie: "yarngate_token=; Path=/; Max-Age=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.cookie != "" {
				h.Set("Cookie", tt.cookie)
			}
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			if tt.method == "POST" && strings.HasPrefix(tt.target, "/ui/") {
				h.Set("Content-Type", form)
			}
			rec := s.do(t, tt.method, tt.target, strings.NewReader(tt.body), h)
			if rec.Code != tt.want {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.target, rec.Code, rec.Body, tt.want)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %q, want %q", rec.Body, tt.wantBody)
			}
			if loc := rec.Header().Get("Location"); loc != tt.wantLocation && tt.wantLocation != "" {
				t.Errorf("Location %q, want %q", loc, tt.wantLocation)
			}
			if c := rec.Header().Get("Set-Cookie"); tt.wantCookie != "" && !strings.HasPrefix(c, tt.wantCookie) {
				t.Errorf("Set-Cookie %q, want %q", c, tt.wantCookie)
			}
			if got := rec.Header().Get("WWW-Authenticate") != ""; got != tt.wantChallenge && tt.wantChallenge {
				t.Errorf("challenge %v", got)
			}
		})
	}
	// Sign-in and sign-out are audited, with the principal that signed in.
	logs := s.log.String()
	for _, want := range []string{`"action":"ui.login","object":"","outcome":"ok"`, `"action":"ui.logout"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("no audit line with %s", want)
		}
	}
	if !strings.Contains(logs, `"principal":"alice@EXAMPLE.COM","user":"alice","action":"ui.login"`) {
		t.Errorf("the sign-in's audit line names no principal")
	}
}
