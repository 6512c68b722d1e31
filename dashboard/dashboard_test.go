package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
)

var errNotFound = errors.New("not found")

// fakeJobs serves fixed jobs and sessions; owner-only visibility stands in for the service's authorization.
type fakeJobs struct {
	jobs     []api.Job
	sessions []api.Session
}

func (f *fakeJobs) visible(ctx context.Context, owner string) bool {
	p, _ := authn.FromContext(ctx)
	return p.User == owner
}

func (f *fakeJobs) Job(ctx context.Context, id string) (api.Job, error) {
	for _, j := range f.jobs {
		if j.ID == id && f.visible(ctx, j.Owner) {
			return j, nil
		}
	}
	return api.Job{}, errNotFound
}

func (f *fakeJobs) List(ctx context.Context, state api.JobState) ([]api.Job, error) {
	var out []api.Job
	for _, j := range f.jobs {
		if f.visible(ctx, j.Owner) && (state == "" || j.State == state) {
			out = append(out, j)
		}
	}
	return out, nil
}

func (f *fakeJobs) Session(ctx context.Context, id string) (api.Session, error) {
	for _, s := range f.sessions {
		if s.ID == id && f.visible(ctx, s.Owner) {
			return s, nil
		}
	}
	return api.Session{}, errNotFound
}

func (f *fakeJobs) ListSessions(ctx context.Context) ([]api.Session, error) {
	var out []api.Session
	for _, s := range f.sessions {
		if f.visible(ctx, s.Owner) {
			out = append(out, s)
		}
	}
	return out, nil
}

type fakeCluster struct{}

func (fakeCluster) View(context.Context) api.ClusterView {
	last := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	return api.ClusterView{ResourceManager: api.ClusterRM{Active: "rm1", URL: "http://rm.example:8088", HAEnabled: true, Source: "zookeeper"},
		ZooKeeper: api.ClusterZooKeeper{State: "StateHasSession"}, HDFS: api.ClusterHDFS{Reachable: true},
		Flink:    []api.ClusterFlink{{Version: "1.20.3"}, {Version: "2.2.1"}},
		Registry: &api.ClusterRegistry{Backend: "zookeeper", Instance: "gw-1", Reconciler: true, LastReconciled: &last, Records: 7}}
}

var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func testJob(i int, owner string, state api.JobState) api.Job {
	ui := "http://rm.example:8088/proxy/app/"
	return api.Job{ID: fmt.Sprintf("application_1767225600000_%04d", i), Name: fmt.Sprintf("job-%d", i), Target: "application",
		State: state, Terminal: state.Terminal(), Owner: owner, CreatedAt: t0.Add(time.Duration(i) * time.Minute), UpdatedAt: t0.Add(time.Duration(i)*time.Minute + 30*time.Second),
		Links:   api.JobLinks{YARN: fmt.Sprintf("http://rm.example:8088/cluster/app/application_1767225600000_%04d", i), FlinkUI: &ui},
		Flink:   api.JobFlink{Version: "1.20.3"},
		History: []api.StateChange{{State: "SUBMITTED", At: t0.Add(time.Duration(i) * time.Minute)}, {State: string(state), At: t0.Add(time.Duration(i)*time.Minute + 30*time.Second)}}}
}

func newTestDashboard(t *testing.T, f *fakeJobs) *Dashboard {
	t.Helper()
	d, err := New(Options{Jobs: f, Sessions: f, Cluster: fakeCluster{}, Logger: slog.New(slog.DiscardHandler), PageSize: 3,
		TokenLogin: true, Now: func() time.Time { return t0.Add(time.Hour) },
		Classify: func(err error) (int, api.Error) {
			if errors.Is(err, errNotFound) {
				return 404, api.Error{Code: api.CodeNotFound, Message: "no job with this id"}
			}
			return 500, api.Error{Code: api.CodeInternal, Message: "internal error"}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func get(t *testing.T, h http.Handler, user, target string) (*http.Response, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if user != "" {
		r = r.WithContext(authn.WithPrincipal(r.Context(), authn.Principal{Name: user, User: user, Method: authn.MethodToken}))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return w.Result(), string(body)
}

func TestPages(t *testing.T) {
	f := &fakeJobs{}
	for i := 1; i <= 5; i++ {
		f.jobs = append(f.jobs, testJob(i, "alice", api.StateRunning))
	}
	f.jobs = append(f.jobs, testJob(6, "bob", api.StateFinished))
	evil := testJob(7, "alice", api.StateFailed)
	evil.Name = `<script>alert("x")</script>`
	failure := `java.lang.RuntimeException: <img src=x onerror=alert(1)>`
	evil.Flink.Failure = &failure
	evil.History = append(evil.History, api.StateChange{State: "FAILED", At: t0.Add(9 * time.Minute), Reason: "boom <b>"})
	f.jobs = append(f.jobs, evil)
	f.sessions = []api.Session{{ID: "application_1767225600000_0100", Name: "s1", State: api.SessionRunning, Owner: "alice", CreatedAt: t0,
		Links: api.JobLinks{YARN: "http://rm.example:8088/cluster/app/application_1767225600000_0100"}}}
	// Jobs of slices and maps are ordered newest first by the service; the fake lists them as given.
	reverse(f.jobs)
	d := newTestDashboard(t, f)

	cases := []struct {
		name, user, target string
		status             int
		want, notWant      []string
	}{
		{"jobs list", "alice", "/ui/jobs", 200, []string{"application_1767225600000_0007", "application_1767225600000_0005", "6 jobs",
			`href="/ui/jobs?cursor=`, "&lt;script&gt;"}, []string{"application_1767225600000_0006", "<script>alert"}},
		{"home is the jobs list", "alice", "/ui/", 200, []string{"Jobs", "application_1767225600000_0007"}, nil},
		{"state filter", "alice", "/ui/jobs?state=failed", 200, []string{"1 job<", "application_1767225600000_0007"}, []string{"application_1767225600000_0005"}},
		{"text filter", "alice", "/ui/jobs?q=JOB-2", 200, []string{"application_1767225600000_0002"}, []string{"application_1767225600000_0003"}},
		{"owner filter", "alice", "/ui/jobs?owner=bob", 200, []string{"No jobs match these filters"}, nil},
		{"second page", "alice", "/ui/jobs?cursor=" + cursorOf(t0.Add(5*time.Minute), "application_1767225600000_0005"), 200,
			[]string{"application_1767225600000_0004", "application_1767225600000_0002", `id="more"`}, []string{"application_1767225600000_0005", "application_1767225600000_0001"}},
		{"last page", "alice", "/ui/jobs?cursor=" + cursorOf(t0.Add(2*time.Minute), "application_1767225600000_0002"), 200,
			[]string{"application_1767225600000_0001"}, []string{"application_1767225600000_0002", `id="more"`}},
		{"bad state", "alice", "/ui/jobs?state=nope", 400, []string{"is not a job state"}, nil},
		{"job", "alice", "/ui/jobs/application_1767225600000_0007", 200, []string{"&lt;script&gt;", "&lt;img src=x", "boom &lt;b&gt;",
			`href="http://rm.example:8088/cluster/app/application_1767225600000_0007"`, `data-logs-url="/v1/jobs/application_1767225600000_0007/logs"`, "History"},
			[]string{"<script>alert", "<img src=x", "data-refresh-region"}},
		{"running job refreshes", "alice", "/ui/jobs/application_1767225600000_0001", 200, []string{"data-refresh-region", "+30s"}, nil},
		{"another's job is not found", "alice", "/ui/jobs/application_1767225600000_0006", 404, []string{"no job with this id"}, []string{"job-6"}},
		{"sessions", "alice", "/ui/sessions", 200, []string{"application_1767225600000_0100", "1 session<"}, nil},
		{"sessions of bob", "bob", "/ui/sessions", 200, []string{"No sessions"}, []string{"application_1767225600000_0100"}},
		{"session", "alice", "/ui/sessions/application_1767225600000_0100", 200, []string{"s1", "No jobs you may see", `data-logs-url="/v1/sessions/application_1767225600000_0100/logs"`}, nil},
		{"cluster", "alice", "/ui/cluster", 200, []string{"rm1", "http://rm.example:8088", "StateHasSession", "1.20.3", "2.2.1", "gw-1", "zookeeper"}, nil},
		{"login", "", "/ui/login?next=/ui/jobs/x", 200, []string{`name="token"`, `value="/ui/jobs/x"`}, nil},
		{"login never sends elsewhere", "", "/ui/login?next=//evil.example/", 200, []string{`value="/ui/"`}, []string{"evil"}},
		{"stylesheet", "", "/ui/static/dashboard.css", 200, []string{".state-running"}, nil},
		{"script", "", "/ui/static/dashboard.js", 200, []string{"data-refresh-region"}, nil},
		{"no listing", "", "/ui/static/", 404, nil, []string{"dashboard.js"}},
		{"unknown page", "alice", "/ui/nope", 404, []string{"no such page"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, d, tc.user, tc.target)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %.300s", resp.StatusCode, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("no %q in %s", w, body[max(0, len(body)-1500):])
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("%q in the page", w)
				}
			}
			h := resp.Header
			if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || h.Get("Cache-Control") != "no-store" ||
				h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v", h)
			}
		})
	}
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

func TestNoServices(t *testing.T) {
	d, err := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/ui/jobs", "/ui/sessions", "/ui/cluster", "/ui/jobs/application_1_0001"} {
		if resp, body := get(t, d, "alice", p); resp.StatusCode != 503 || !strings.Contains(body, "not configured") {
			t.Errorf("%s = %d %.200s", p, resp.StatusCode, body)
		}
	}
}

func TestPaginate(t *testing.T) {
	type item struct {
		at time.Time
		id string
	}
	var items []item
	for i := 9; i >= 0; i-- { // newest first; two share a time
		items = append(items, item{t0.Add(time.Duration(i/2) * time.Second), fmt.Sprint(i)})
	}
	key := func(it item) (time.Time, string) { return it.at, it.id }
	var seen []string
	cursor, pages := "", 0
	for {
		page, next := paginate(items, cursor, 3, key)
		for _, it := range page {
			seen = append(seen, it.id)
		}
		pages++
		if next == "" {
			break
		}
		cursor = next
	}
	if got := strings.Join(seen, ","); got != "9,8,7,6,5,4,3,2,1,0" || pages != 4 {
		t.Errorf("pages %d: %s", pages, got)
	}
	if page, _ := paginate(items, "garbage", 3, key); len(page) != 3 || page[0].id != "9" {
		t.Errorf("a bad cursor starts at the top: %v", page)
	}
}
