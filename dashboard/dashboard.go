// Package dashboard is yarngate's web UI, served by the gateway under /ui/: server-rendered pages
// (html/template) of the jobs and sessions the caller may see, with filters, a job's detail (state history,
// links to the YARN and Flink UIs, failure, the JobManager log's tail), a session's detail and the cluster
// view. Templates, a stylesheet and one small script are embedded in the binary (embed.FS); nothing is built
// with a Node toolchain.
//
// Dependency rule: dashboard imports api and authn only (and the standard library). It reads what it shows
// through the interfaces it declares (JobReader, SessionReader, ClusterReader), which *job.Service and
// *job.ClusterService implement, so a caller sees exactly what the API shows them: the service authorizes on
// the principal httpapi's authentication middleware put in the request's context. The dashboard never
// authenticates itself: httpapi routes every page through the same middleware as /v1 (the static assets and
// the sign-in page excepted) and owns the sign-in cookie; it calls Login for the 401 page.
//
// Security: html/template escapes every value; every answer carries a Content-Security-Policy without
// inline scripts or styles (script-src 'self'), Cache-Control: no-store, X-Content-Type-Options: nosniff,
// frame-ancestors 'none' and Referrer-Policy: same-origin. The pages only read: cancelling and submitting stay
// with the API.
//
// The browser script (static/dashboard.js) refreshes the regions of a page marked data-refresh while the tab
// is visible, and fills the job page's log tail from the logs API (GET /v1/jobs/{id}/logs, then the
// JobManager container's jobmanager.log from offset -65536); when that API answers anything but 200 the page
// says the log is not available and stays as it is.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/yarngate/yarngate/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// JobReader is what the dashboard reads of jobs; *job.Service implements it. Both calls return only what
// the caller in ctx may see.
type JobReader interface {
	Job(ctx context.Context, id string) (api.Job, error)
	List(ctx context.Context, state api.JobState) ([]api.Job, error)
}

// SessionReader is what the dashboard reads of sessions; *job.Service implements it.
type SessionReader interface {
	Session(ctx context.Context, id string) (api.Session, error)
	ListSessions(ctx context.Context) ([]api.Session, error)
}

// ClusterReader is the cluster view (*job.ClusterService).
type ClusterReader interface {
	View(ctx context.Context) api.ClusterView
}

// Options configures New.
type Options struct {
	// Jobs and Sessions read jobs and sessions; nil on a gateway without job launching (the pages say so).
	Jobs     JobReader
	Sessions SessionReader
	// Cluster is the cluster view; nil: the cluster page says it is not configured.
	Cluster ClusterReader
	// Classify renders a service error as the API would: its HTTP status and error (code, client-safe
	// message). app passes httpapi.Classify, the one mapping of errors to statuses. Default: 500 internal.
	Classify func(error) (int, api.Error)
	// TokenLogin shows the sign-in form for a bearer token (auth.methods token); Kerberos explains SPNEGO
	// sign-in (auth.methods kerberos).
	TokenLogin, Kerberos bool
	// Logger receives the errors of the pages (5xx at error level, with the request id). Required.
	Logger *slog.Logger
	// PageSize is the number of rows of a list page. Default 50.
	PageSize int
	// RefreshInterval is how often the browser refreshes lists and states. Default 5s.
	RefreshInterval time.Duration
	// Now is the clock (relative times). Default time.Now.
	Now func() time.Time
}

func (o *Options) validate() error {
	if o.Logger == nil {
		return errors.New("dashboard: no logger")
	}
	if o.Classify == nil {
		o.Classify = func(error) (int, api.Error) {
			return http.StatusInternalServerError, api.Error{Code: api.CodeInternal, Message: "internal error"}
		}
	}
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Dashboard serves the web UI. It is safe for concurrent use.
type Dashboard struct {
	opts   Options
	pages  map[string]*template.Template
	mux    *http.ServeMux
	static http.Handler
}

// Paths of the dashboard. httpapi routes them.
const (
	// Prefix is where the dashboard is served.
	Prefix = "/ui/"
	// LoginPath is the sign-in page (GET) and form target (POST, httpapi).
	LoginPath = "/ui/login"
	// LogoutPath signs out (POST, httpapi).
	LogoutPath = "/ui/logout"
)

// pageNames are the templates rendered as whole pages, each with layout.html.
var pageNames = []string{"jobs", "job", "sessions", "session", "cluster", "login", "error"}

// New parses the templates and returns the dashboard.
func New(opts Options) (*Dashboard, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	d := &Dashboard{opts: opts, pages: map[string]*template.Template{}}
	funcs := template.FuncMap{
		"ts":      formatTime,
		"ago":     func(t time.Time) string { return ago(opts.Now(), t) },
		"lower":   strings.ToLower,
		"deref":   deref,
		"stateOf": stateClass,
		"durationBetween": func(a, b time.Time) string {
			return formatDuration(b.Sub(a))
		},
	}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		d.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	d.static = http.StripPrefix(Prefix+"static/", http.FileServerFS(static))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui/{$}", d.jobsPage)
	mux.HandleFunc("GET /ui/jobs", d.jobsPage)
	mux.HandleFunc("GET /ui/jobs/{id}", d.jobPage)
	mux.HandleFunc("GET /ui/sessions", d.sessionsPage)
	mux.HandleFunc("GET /ui/sessions/{id}", d.sessionPage)
	mux.HandleFunc("GET /ui/cluster", d.clusterPage)
	mux.HandleFunc("GET /ui/static/", d.serveStatic)
	mux.HandleFunc("GET /ui/login", func(w http.ResponseWriter, r *http.Request) { d.Login(w, r, http.StatusOK, "") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.renderError(w, r, http.StatusNotFound, api.Error{Code: api.CodeNotFound, Message: "no such page"}, nil)
	})
	d.mux = mux
	return d, nil
}

// ServeHTTP serves the pages and the static assets under /ui/. The pages expect an authenticated caller
// (httpapi's middleware ran); the assets and the sign-in page are open.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SetHeaders(w.Header())
	d.mux.ServeHTTP(w, r)
}

// contentSecurityPolicy allows the dashboard's own script, stylesheet and API calls, and nothing inline.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// SetHeaders sets the security headers of every dashboard answer: the Content-Security-Policy, no caching,
// no MIME sniffing, no framing, and referrers only to the gateway itself.
func SetHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
}

// serveStatic serves the embedded stylesheet and script.
func (d *Dashboard) serveStatic(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/") {
		http.NotFound(w, r) // no directory listings
		return
	}
	d.static.ServeHTTP(w, r)
}

// loginView is the sign-in page's data.
type loginView struct {
	Problem              string
	TokenLogin, Kerberos bool
	Next                 string
}

// Login renders the sign-in page with status: 401 when httpapi's middleware refused the request (it has set
// the WWW-Authenticate challenges, so a browser that can negotiate Kerberos does), 200 for GET /ui/login.
// problem, when not empty, says what went wrong (a token that was not accepted).
func (d *Dashboard) Login(w http.ResponseWriter, r *http.Request, status int, problem string) {
	SetHeaders(w.Header())
	next := r.URL.Query().Get("next")
	if r.URL.Path != LoginPath {
		next = r.URL.RequestURI()
	}
	d.render(w, r, status, "login", page{Title: "Sign in", Data: loginView{Problem: problem,
		TokenLogin: d.opts.TokenLogin, Kerberos: d.opts.Kerberos, Next: safeNext(next)}})
}

// safeNext returns next when it is a path of the dashboard, else the dashboard's home: where to go after
// signing in, never another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, LoginPath) || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, "//") {
		return Prefix
	}
	return next
}

// Error renders err as an error page, with the status and message Classify gives it.
func (d *Dashboard) Error(w http.ResponseWriter, r *http.Request, err error) {
	status, e := d.opts.Classify(err)
	d.renderError(w, r, status, e, err)
}
