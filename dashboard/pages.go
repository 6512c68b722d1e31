package dashboard

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
)

// page is what every template gets: the layout's data and the page's own.
type page struct {
	// Title is the page's title.
	Title string
	// Nav names the active section (jobs, sessions, cluster).
	Nav string
	// User is the signed-in user, empty on the sign-in page; SignOut says whether signing out means anything
	// (a token sign-in).
	User    string
	SignOut bool
	// Refresh is the auto-refresh interval in seconds (0: none).
	Refresh int
	// Data is the page's own.
	Data any
}

// RequestIDHeader is the response header httpapi sets to the request id; error pages show it.
const RequestIDHeader = "X-Request-Id"

// newPage fills the layout's data for r's caller.
func (d *Dashboard) newPage(r *http.Request, title, nav string, data any) page {
	p := page{Title: title, Nav: nav, Data: data, Refresh: int(d.opts.RefreshInterval / time.Second)}
	if pr, ok := authn.FromContext(r.Context()); ok {
		p.User, p.SignOut = pr.User, pr.Method == authn.MethodToken || pr.Method == authn.MethodJWT
	}
	return p
}

// render executes a page template into a buffer first, so a template error never leaves half a page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := d.pages[name].Execute(&buf, p); err != nil {
		d.opts.Logger.ErrorContext(r.Context(), "dashboard template failed", "page", name,
			"requestId", w.Header().Get(RequestIDHeader), "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorView is the error page's data.
type errorView struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

// renderError renders an error page; cause (may be nil) is logged, at error level for 5xx.
func (d *Dashboard) renderError(w http.ResponseWriter, r *http.Request, status int, e api.Error, cause error) {
	rid := w.Header().Get(RequestIDHeader)
	if cause != nil {
		level := slogDebug
		if status >= 500 {
			level = slogError
		}
		d.opts.Logger.Log(r.Context(), level, "dashboard page failed", "requestId", rid, "path", r.URL.Path,
			"status", status, "code", e.Code, "error", cause.Error())
	}
	d.render(w, r, status, "error", d.newPage(r, http.StatusText(status), "",
		errorView{Status: status, Code: e.Code, Message: e.Message, RequestID: rid}))
}

// unavailable is the error of a page whose service the gateway runs without.
func (d *Dashboard) unavailable(w http.ResponseWriter, r *http.Request, what string) {
	d.renderError(w, r, http.StatusServiceUnavailable, api.Error{Code: api.CodeUnavailable,
		Message: what + " not configured on this gateway (no ResourceManager or Flink distribution)"}, nil)
}

// filter is a list page's filters, from its query.
type filter struct {
	// State is the state asked for ("" for any); Owner the owner (exact); Text a substring of the id or
	// name (case-insensitive); Cursor where the page starts (see cursorOf).
	State, Owner, Text, Cursor string
}

func filterOf(r *http.Request) filter {
	q := r.URL.Query()
	return filter{State: strings.ToUpper(strings.TrimSpace(q.Get("state"))), Owner: strings.TrimSpace(q.Get("owner")),
		Text: strings.TrimSpace(q.Get("q")), Cursor: q.Get("cursor")}
}

// matches says whether an object of owner, id and name passes the owner and text filters.
func (f filter) matches(owner, id, name string) bool {
	if f.Owner != "" && owner != f.Owner {
		return false
	}
	t := strings.ToLower(f.Text)
	return t == "" || strings.Contains(strings.ToLower(id), t) || strings.Contains(strings.ToLower(name), t)
}

// query is the list page's query with cursor set ("" for none).
func (f filter) query(cursor string) string {
	v := url.Values{}
	for k, s := range map[string]string{"state": f.State, "owner": f.Owner, "q": f.Text, "cursor": cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

// cursorOf names the position after an object in a list ordered newest first (created, then id, both
// descending): the page after it starts with the next older object.
func cursorOf(created time.Time, id string) string {
	return strconv.FormatInt(created.UnixNano(), 10) + "_" + id
}

// paginate returns the page of items (ordered newest first) that starts after cursor, and the cursor of the
// next page ("" when this is the last). A cursor that does not parse starts at the beginning.
//
// The services list everything the caller may see; when the API's list pagination (?limit=&cursor=) reaches
// the service, this is where the dashboard switches to it.
func paginate[T any](items []T, cursor string, size int, key func(T) (time.Time, string)) ([]T, string) {
	start := 0
	if ns, id, ok := strings.Cut(cursor, "_"); ok {
		if n, err := strconv.ParseInt(ns, 10, 64); err == nil {
			at := time.Unix(0, n)
			start = len(items)
			for i, it := range items {
				c, iid := key(it)
				if c.Before(at) || c.Equal(at) && iid < id {
					start = i
					break
				}
			}
		}
	}
	end := min(start+size, len(items))
	next := ""
	if end < len(items) {
		c, id := key(items[end-1])
		next = cursorOf(c, id)
	}
	return items[start:end], next
}

// listView is a list page's data.
type listView[T any] struct {
	Filter filter
	// States are the states the filter offers.
	States []string
	Items  []T
	// Total counts the objects that pass the filters; More is the address of the next page, "" on the last
	// (built by url.Values.Encode, so safe as it is).
	Total int
	More  template.URL
	// Unfiltered says whether no filter is set.
	Unfiltered bool
}

// jobsPage renders the jobs list (GET /ui/ and /ui/jobs): ?state=&owner=&q=&cursor=.
func (d *Dashboard) jobsPage(w http.ResponseWriter, r *http.Request) {
	if d.opts.Jobs == nil {
		d.unavailable(w, r, "job launching is")
		return
	}
	f := filterOf(r)
	var state api.JobState
	if f.State != "" {
		st, ok := api.ParseJobState(f.State)
		if !ok {
			d.renderError(w, r, http.StatusBadRequest, api.Error{Code: api.CodeInvalidRequest, Message: "state=" + strconv.Quote(f.State) + " is not a job state"}, nil)
			return
		}
		state = st
	}
	jobs, err := d.opts.Jobs.List(r.Context(), state)
	if err != nil {
		d.Error(w, r, err)
		return
	}
	jobs = slices.DeleteFunc(jobs, func(j api.Job) bool { return !f.matches(j.Owner, j.ID, j.Name) })
	v := listView[api.Job]{Filter: f, Total: len(jobs), Unfiltered: f.State == "" && f.Owner == "" && f.Text == ""}
	for _, s := range api.JobStates() {
		v.States = append(v.States, string(s))
	}
	var next string
	v.Items, next = paginate(jobs, f.Cursor, d.opts.PageSize, func(j api.Job) (time.Time, string) { return j.CreatedAt, j.ID })
	if next != "" {
		v.More = template.URL("/ui/jobs?" + f.query(next))
	}
	d.render(w, r, http.StatusOK, "jobs", d.newPage(r, "Jobs", "jobs", v))
}

// jobView is the job page's data.
type jobView struct {
	Job api.Job
	// LogsURL is the path of the job's logs API.
	LogsURL string
}

// jobPage renders one job (GET /ui/jobs/{id}).
func (d *Dashboard) jobPage(w http.ResponseWriter, r *http.Request) {
	if d.opts.Jobs == nil {
		d.unavailable(w, r, "job launching is")
		return
	}
	j, err := d.opts.Jobs.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		d.Error(w, r, err)
		return
	}
	p := d.newPage(r, j.Name+" · "+j.ID, "jobs", jobView{Job: j, LogsURL: "/v1/jobs/" + url.PathEscape(j.ID) + "/logs"})
	d.render(w, r, http.StatusOK, "job", p)
}

// sessionsPage renders the sessions list (GET /ui/sessions): ?state=&owner=&q=&cursor=.
func (d *Dashboard) sessionsPage(w http.ResponseWriter, r *http.Request) {
	if d.opts.Sessions == nil {
		d.unavailable(w, r, "session clusters are")
		return
	}
	f := filterOf(r)
	if f.State != "" {
		st, ok := api.ParseSessionState(f.State)
		if !ok {
			d.renderError(w, r, http.StatusBadRequest, api.Error{Code: api.CodeInvalidRequest, Message: "state=" + strconv.Quote(f.State) + " is not a session state"}, nil)
			return
		}
		f.State = string(st)
	}
	sessions, err := d.opts.Sessions.ListSessions(r.Context())
	if err != nil {
		d.Error(w, r, err)
		return
	}
	sessions = slices.DeleteFunc(sessions, func(s api.Session) bool {
		return f.State != "" && string(s.State) != f.State || !f.matches(s.Owner, s.ID, s.Name)
	})
	v := listView[api.Session]{Filter: f, Total: len(sessions), Unfiltered: f.State == "" && f.Owner == "" && f.Text == ""}
	for _, s := range api.SessionStates() {
		v.States = append(v.States, string(s))
	}
	var next string
	v.Items, next = paginate(sessions, f.Cursor, d.opts.PageSize, func(s api.Session) (time.Time, string) { return s.CreatedAt, s.ID })
	if next != "" {
		v.More = template.URL("/ui/sessions?" + f.query(next))
	}
	d.render(w, r, http.StatusOK, "sessions", d.newPage(r, "Sessions", "sessions", v))
}

// sessionView is the session page's data.
type sessionView struct {
	Session api.Session
	// Jobs are the session's jobs the caller may see, newest first.
	Jobs []api.Job
	// LogsURL is the path of the session's logs API.
	LogsURL string
}

// sessionPage renders one session (GET /ui/sessions/{id}) with its jobs.
func (d *Dashboard) sessionPage(w http.ResponseWriter, r *http.Request) {
	if d.opts.Sessions == nil {
		d.unavailable(w, r, "session clusters are")
		return
	}
	s, err := d.opts.Sessions.Session(r.Context(), r.PathValue("id"))
	if err != nil {
		d.Error(w, r, err)
		return
	}
	v := sessionView{Session: s, LogsURL: "/v1/sessions/" + url.PathEscape(s.ID) + "/logs"}
	if d.opts.Jobs != nil {
		jobs, err := d.opts.Jobs.List(r.Context(), "")
		if err != nil {
			d.Error(w, r, err)
			return
		}
		v.Jobs = slices.DeleteFunc(jobs, func(j api.Job) bool { return !strings.HasPrefix(j.ID, s.ID+".") })
	}
	d.render(w, r, http.StatusOK, "session", d.newPage(r, s.Name+" · "+s.ID, "sessions", v))
}

// clusterPage renders the cluster view (GET /ui/cluster).
func (d *Dashboard) clusterPage(w http.ResponseWriter, r *http.Request) {
	if d.opts.Cluster == nil {
		d.unavailable(w, r, "the cluster view is")
		return
	}
	d.render(w, r, http.StatusOK, "cluster", d.newPage(r, "Cluster", "cluster", d.opts.Cluster.View(r.Context())))
}
