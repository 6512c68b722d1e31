package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/testenv"
)

// dashboardGateway starts a gateway on the test cluster whose callers sign in with bearer tokens (alice and
// bob; impersonation off, so jobs run as the gateway's user while alice owns them). It returns the gateway,
// calling as alice, and the tokens by user.
func dashboardGateway(t *testing.T) (*jobGateway, map[string]string) {
	t.Helper()
	root := hdfstest.New(t)
	c := root.Cluster
	tokens := map[string]string{}
	var file strings.Builder
	file.WriteString("tokens:\n")
	for _, u := range []string{"alice", "bob"} {
		tokens[u] = rand.Text()
		sum := sha256.Sum256([]byte(tokens[u]))
		fmt.Fprintf(&file, "  - sha256: %s\n    principal: %s\n", hex.EncodeToString(sum[:]), u)
	}
	tokensFile := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(tokensFile, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := clusterConfig(t, root)
	cfg.Flink.Homes = []string{c.FlinkHome, c.Flink2Home}
	cfg.Flink.DefaultVersion = "1.20"
	cfg.Flink.LibRoot = "/user/" + c.User + "/it-flink" // shared: uploads are content-addressed
	cfg.Jars.MaxSize = 64 << 20
	cfg.Auth.Methods, cfg.Auth.TokensFile = []string{config.AuthToken}, tokensFile
	cfg.Auth.Impersonation.Enabled = false
	r := start(t, cfg)
	g := &jobGateway{t: t, url: r.url, cluster: c, root: root, token: tokens["alice"]}
	jar, err := os.ReadFile(c.ExampleJar)
	if err != nil {
		t.Fatalf("example jar (make example-jar): %v", err)
	}
	g.jarID = g.uploadJar(jar)
	return g, tokens
}

// browser is a headless Chromium driven through chromedp, with the screenshots it saved.
type browser struct {
	t         *testing.T
	ctx       context.Context // a tab
	artifacts string
	shots     []string
}

// newBrowser starts Chromium (headless; without its sandbox when running as root, which it refuses
// otherwise) and opens a tab; the browser is stopped at the end of the test.
func newBrowser(t *testing.T, path, artifacts string) *browser {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]), chromedp.ExecPath(path),
		chromedp.WindowSize(1360, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// The first call starts the browser, which lives as long as that call's context: no timeout on it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return &browser{t: t, ctx: ctx, artifacts: artifacts}
}

// incognito returns a tab in a new browser context of the same browser: no cookies shared.
func (b *browser) incognito() *browser {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		b.t.Fatalf("open a tab in a new browser context: %v", err)
	}
	return &browser{t: b.t, ctx: ctx, artifacts: b.artifacts}
}

// run runs actions within limit; a failure ends the test, saying what was being done.
func (b *browser) run(limit time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	runAs(b, limit, what, chromedp.Steps(actions...))
}

// runAs runs one action within limit and returns its value; a failure ends the test.
func runAs[T any](b *browser, limit time.Duration, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, limit)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	return runAs(b, 30*time.Second, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// text returns the text of the first element matching a CSS selector, "" when there is none.
func (b *browser) text(selector string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.textContent.trim() : ""; })()`, selector))
}

// screenshot saves the viewport as <name>.png in the artifacts directory.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	buf := runAs(b, time.Minute, "screenshot "+name, chromedp.CaptureScreenshot())
	p := filepath.Join(b.artifacts, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.shots = append(b.shots, p)
}

// signIn opens page, which answers with the sign-in form, and signs in with token.
func (b *browser) signIn(page, token string) {
	b.t.Helper()
	b.run(time.Minute, "sign in", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#user")))
}

// TestDashboardInBrowser drives the dashboard in a real headless Chromium against the real cluster: alice
// signs in with her token through the form; a bounded job she submits through the API appears in the open
// jobs page and changes state there up to FINISHED without the page being reloaded (the dashboard's
// refresh); its detail opens from the list with the links to YARN and Flink, the state history and the log
// section (which says when the logs API does not answer); the filters and the cluster page show what the
// API does. bob, signed in in another browser context, neither sees her job in the list nor can open it.
// Screenshots of every step are saved in the artifacts directory named in the log, and decoded.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	chromium := testenv.RequireChromium(t)
	g, tokens := dashboardGateway(t)
	artifacts := testenv.ArtifactsDir(t)
	b := newBrowser(t, chromium, artifacts)

	b.signIn(g.url+"/ui/", tokens["alice"])
	if u := b.text("#user"); u != "alice" {
		t.Fatalf("signed in as %q, want alice", u)
	}
	b.screenshot("01-jobs-signed-in")
	eval[int](b, `window.yarngateMarker = 42`) // gone if the page is ever reloaded

	j := g.submit(g.spec("it-dashboard", "1.20", "--mode", "bounded", "--n", "2000", "--output", "hdfs://"+g.hdfsPath("sum-dashboard")), nil)
	stateJS := fmt.Sprintf(`(() => { const e = document.querySelector('tr[data-job-id=%q] [data-state]'); return e ? e.dataset.state : ""; })()`, j.ID)
	var seen []string
	running := false
	// Generous: the job waits for its ApplicationMaster while the shared cluster runs the other tests' jobs.
	for deadline := time.Now().Add(10 * time.Minute); ; {
		state := eval[string](b, stateJS)
		if state != "" && (len(seen) == 0 || seen[len(seen)-1] != state) {
			seen = append(seen, state)
			t.Logf("the jobs page shows %s %s", j.ID, state)
			if len(seen) == 1 {
				b.screenshot("02-job-appears")
			}
			if state == "RUNNING" && !running {
				running = true
				b.screenshot("03-job-running")
				runningDetail(t, b, g, j.ID)
			}
		}
		if st, ok := api.ParseJobState(state); ok && st.Terminal() {
			break
		}
		if time.Now().After(deadline) {
			_, now, _, _ := g.do("GET", "/v1/jobs/"+j.ID, nil, nil)
			t.Fatalf("the jobs page showed %v of %s within 10 minutes; the API says %s", seen, j.ID, now.State)
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.screenshot("04-job-finished")
	marker := eval[int](b, `window.yarngateMarker || 0`)
	if marker != 42 {
		t.Errorf("the jobs page was reloaded: its states must come from the refresh")
	}
	if len(seen) < 2 || api.JobState(seen[0]).Terminal() || seen[len(seen)-1] != "FINISHED" {
		t.Errorf("the jobs page showed %v, want a state before the job ended, then FINISHED", seen)
	}
	final := g.wait(j.ID, "FINISHED", time.Minute)

	// The job's page, opened from the list.
	b.run(time.Minute, "open the job", chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-job-id=%q] a`, j.ID))),
		chromedp.WaitVisible(chromedp.CSS("#job-state")))
	if s := b.text("#job-state"); s != "FINISHED" {
		t.Errorf("job page state %q", s)
	}
	yarnLink := eval[string](b, `document.querySelector("#link-yarn").href`)
	if yarnLink != g.cluster.RMURL+"/cluster/app/"+j.ID || yarnLink != final.Links.YARN {
		t.Errorf("YARN link %q, want %q", yarnLink, final.Links.YARN)
	}
	flinkLink := eval[string](b, `(() => { const e = document.querySelector("#link-flink"); return e ? e.href : document.querySelector("#link-flink-none").textContent; })()`)
	if final.Links.FlinkUI != nil && flinkLink != *final.Links.FlinkUI || final.Links.FlinkUI == nil && !strings.Contains(flinkLink, "no JobManager") {
		t.Errorf("Flink link %q, want %v", flinkLink, final.Links.FlinkUI)
	}
	history := eval[[]string](b, `[...document.querySelectorAll("#history li[data-state]")].map(e => e.dataset.state)`)
	if len(history) < 2 || history[len(history)-1] != "FINISHED" {
		t.Errorf("history %v, want states ending FINISHED", history)
	}
	if id := b.text("#job-id"); id != j.ID {
		t.Errorf("job id %q", id)
	}
	// The log tail: the logs API's answer, or a note when it does not answer; the page stays whole.
	logStatus := runAs(b, time.Minute, "wait for the log tail", chromedp.Poll[string](`(() => { const s = document.querySelector("#log-status").textContent; return s.startsWith("Loading") ? null : s; })()`,
		chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(50*time.Second)))
	logText := eval[string](b, `document.querySelector("#log").hidden ? "" : document.querySelector("#log").textContent`)
	if status, _, _, _ := g.do("GET", "/v1/jobs/"+j.ID+"/logs", nil, nil); status == 200 {
		// A gateway with the logs API: the tail shows, once the log is listed (Reload asks again).
		for deadline := time.Now().Add(2 * time.Minute); logText == "" && time.Now().Before(deadline); {
			time.Sleep(3 * time.Second)
			b.run(time.Minute, "reload the log", chromedp.Click(chromedp.CSS("#log-reload")))
			logStatus = runAs(b, time.Minute, "wait for the log tail", chromedp.Poll[string](`(() => { const s = document.querySelector("#log-status").textContent; return s.startsWith("Loading") ? null : s; })()`,
				chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(50*time.Second)))
			logText = eval[string](b, `document.querySelector("#log").hidden ? "" : document.querySelector("#log").textContent`)
		}
		if logText == "" {
			t.Errorf("the logs API answers, but the log section says %q", logStatus)
		}
	} else if !strings.Contains(logStatus, "not available") {
		t.Errorf("without the logs API (%d) the log section says %q", status, logStatus)
	}
	t.Logf("log section: %q (%d bytes of log)", logStatus, len(logText))
	b.screenshot("05-job-detail")

	// Filters.
	for _, f := range []struct {
		query string
		lists bool
	}{{"state=FINISHED", true}, {"state=RUNNING", false}, {"owner=alice&q=it-dashboard", true}, {"owner=bob", false}, {"q=" + j.ID[len(j.ID)-4:], true}} {
		b.run(time.Minute, "filter "+f.query, chromedp.Navigate(g.url+"/ui/jobs?"+f.query), chromedp.WaitVisible(chromedp.CSS("#jobs")))
		n := eval[int](b, fmt.Sprintf(`document.querySelectorAll('tr[data-job-id=%q]').length`, j.ID))
		if (n == 1) != f.lists {
			t.Errorf("jobs?%s lists the job %d times, want %v", f.query, n, f.lists)
		}
	}
	b.screenshot("06-jobs-filtered")

	// The cluster page.
	b.run(time.Minute, "cluster page", chromedp.Navigate(g.url+"/ui/cluster"), chromedp.WaitVisible(chromedp.CSS("#flink-versions")))
	view := getClusterAs(t, g)
	if rm := b.text("#rm-active"); view.ResourceManager.URL == "" || !strings.Contains(rm, view.ResourceManager.URL) {
		t.Errorf("cluster page RM %q, API %q", rm, view.ResourceManager.URL)
	}
	versions := b.text("#flink-versions")
	for _, v := range view.Flink {
		if !strings.Contains(versions, v.Version) {
			t.Errorf("cluster page lists Flink %q, API has %s", versions, v.Version)
		}
	}
	if zk := b.text("#zk-state"); zk != view.ZooKeeper.State {
		t.Errorf("cluster page ZooKeeper %q, API %q", zk, view.ZooKeeper.State)
	}
	b.screenshot("07-cluster")
	b.run(time.Minute, "sessions page", chromedp.Navigate(g.url+"/ui/sessions"), chromedp.WaitVisible(chromedp.CSS("#sessions")))
	b.screenshot("08-sessions")

	// bob, in a browser context of his own: a wrong token first, then his.
	bob := b.incognito()
	bob.run(time.Minute, "bad sign-in", chromedp.Navigate(g.url+"/ui/jobs"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token"), chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#login-problem")))
	bob.screenshot("09-bob-bad-token")
	bob.signIn(g.url+"/ui/jobs", tokens["bob"])
	if u := bob.text("#user"); u != "bob" {
		t.Fatalf("signed in as %q, want bob", u)
	}
	bobSees := eval[int](bob, fmt.Sprintf(`document.querySelectorAll('tr[data-job-id=%q]').length + (document.body.textContent.includes(%q) ? 1 : 0)`, j.ID, j.ID))
	if bobSees != 0 {
		t.Errorf("bob's jobs page shows alice's job %s", j.ID)
	}
	bob.screenshot("10-bob-jobs")
	bob.run(time.Minute, "bob opens alice's job", chromedp.Navigate(g.url+"/ui/jobs/"+j.ID), chromedp.WaitVisible(chromedp.CSS("#error-message")))
	if msg := bob.text("#error-message"); !strings.Contains(msg, "no job with this id") {
		t.Errorf("bob's page of alice's job says %q", msg)
	}
	bob.screenshot("11-bob-not-found")

	// Signing out removes the cookie: the next page is the sign-in form.
	b.run(time.Minute, "sign out", chromedp.Navigate(g.url+"/ui/jobs"), chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.Click(chromedp.CSS(`form[action="/ui/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.Navigate(g.url+"/ui/jobs"), chromedp.WaitVisible(chromedp.CSS("#token")))

	for _, p := range append(b.shots, bob.shots...) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		size, err := testenv.CheckScreenshot(data, 800, 600)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		t.Logf("%s: %dx%d, %d bytes", filepath.Base(p), size.X, size.Y, len(data))
	}
}

// runningDetail opens the page of a running job in another tab: its Flink link is the API's links.flinkUi.
func runningDetail(t *testing.T, b *browser, g *jobGateway, id string) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx) // a tab of the same browser context: signed in
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tab := &browser{t: t, ctx: ctx, artifacts: b.artifacts}
	tab.run(time.Minute, "open the running job", chromedp.Navigate(g.url+"/ui/jobs/"+id), chromedp.WaitVisible(chromedp.CSS("#job-state")))
	_, obj, _, _ := g.do("GET", "/v1/jobs/"+id, nil, nil)
	state := tab.text("#job-state")
	flink := eval[string](tab, `(() => { const e = document.querySelector("#link-flink"); return e ? e.href : ""; })()`)
	t.Logf("the running job's page: %s, Flink link %q (API %s, %q)", state, flink, obj.State, deref(obj.Links.FlinkUI))
	switch {
	case state == "RUNNING" && obj.State == "RUNNING" && obj.Links.FlinkUI != nil && flink != *obj.Links.FlinkUI:
		t.Errorf("Flink link %q, API %q", flink, *obj.Links.FlinkUI)
	case state == "RUNNING" && flink == "":
		t.Errorf("a RUNNING job's page has no Flink link")
	}
	tab.screenshot("03b-job-detail-running")
	b.shots = append(b.shots, tab.shots...)
}

// getClusterAs reads GET /v1/cluster with g's token.
func getClusterAs(t *testing.T, g *jobGateway) api.ClusterView {
	t.Helper()
	status, _, _, body := g.do("GET", "/v1/cluster", nil, nil)
	var v api.ClusterView
	if status != 200 || !decodeInto(body, &v) {
		t.Fatalf("GET /v1/cluster = %d %s", status, body)
	}
	return v
}
