package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/testenv"
)

// kerberizedImpersonation is impersonation end to end over SPNEGO on the Kerberized cluster, with MIT
// Kerberos clients (curl --negotiate after kinit) as alice and bob: alice's bounded job runs as alice in YARN
// (doAs), with her delegation token, and its output in HDFS is hers; bob can neither see nor cancel it; bob,
// whom the gateway's rules let act for alice (a service principal's part), submits for her: the job is
// alice's, runs as alice, and its launch files are hers (written through WebHDFS with doas); alice may not
// submit for bob (403); after alice kills her job, the gateway removes her launch files as her.
func kerberizedImpersonation(t *testing.T, c *testenv.Cluster) {
	cfg := spnegoAuthConfig(t, c)
	cfg.Flink.Homes = []string{c.FlinkHome, c.Flink2Home}
	cfg.Flink.DefaultVersion = "1.20"
	cfg.Flink.LibRoot = "/user/" + c.User + "/it-flink-krb"
	cfg.Jars.MaxSize = 64 << 20
	cfg.Auth.ProxyUsers = map[string]config.AuthProxyRule{"bob": {Users: []string{"alice"}}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// What jobs left as their users (HA data, archives) the gateway's principal cannot remove: as its
		// owners first (the gateway acting for them, doas), as the gateway's garbage collection does.
		for _, dir := range []string{".flink", "archive", "ha"} {
			entries, _ := c.ListHDFS(ctx, cfg.HDFS.StagingRoot+"/"+dir)
			for _, e := range entries {
				if e.Owner != c.User {
					if err := c.As(e.Owner).DeleteHDFS(ctx, cfg.HDFS.StagingRoot+"/"+dir+"/"+e.PathSuffix); err != nil {
						t.Errorf("remove %s's %s: %v", e.Owner, e.PathSuffix, err)
					}
				}
			}
		}
		if err := c.DeleteHDFS(ctx, cfg.HDFS.StagingRoot); err != nil {
			t.Errorf("remove the staging root: %v", err)
		}
	})
	r := start(t, cfg)
	url := strings.Replace(r.url, "127.0.0.1", "localhost", 1) // curl asks for a ticket to HTTP/<host of the URL>
	// The subtests run in parallel after this function returned: ctx ends with the test, not with it.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	t.Cleanup(cancel)
	tickets := map[string]*http.Client{}
	for _, u := range []string{"alice", "bob"} {
		tk, err := c.Kinit(ctx, t.TempDir(), c.UserLogin(u))
		if err != nil {
			t.Fatal(err)
		}
		tickets[u] = tk.HTTPClient()
	}
	g := &jobGateway{t: t, url: url, cluster: c, root: &hdfstest.Root{Path: cfg.HDFS.StagingRoot, Cluster: c}, client: tickets["alice"]}
	alice, bob := g, g.with(tickets["bob"])
	jar, err := os.ReadFile(c.ExampleJar)
	if err != nil {
		t.Fatalf("example jar (make example-jar): %v", err)
	}
	g.jarID = g.uploadJar(jar)
	bob.uploadJar(jar) // jars are their uploaders': bob runs the same content as his own
	outDir := cfg.HDFS.StagingRoot + "/out"
	if err := c.MkdirHDFS(ctx, outDir, "777"); err != nil {
		t.Fatal(err)
	}
	const v = "1.20"

	// gone waits until the launch files of job id are gone (Flink's AM or the gateway removes them), looking
	// at the job as g meanwhile: an observation triggers the clean-up.
	gone := func(t *testing.T, g *jobGateway, id string) {
		t.Helper()
		p := cfg.HDFS.StagingRoot + "/.flink/" + id
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
			_, err := c.StatHDFS(ctx, p)
			if errors.Is(err, fs.ErrNotExist) {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s still exists (%v)", p, err)
				return
			}
			g.do(http.MethodGet, "/v1/jobs/"+id, nil, nil)
		}
	}

	t.Run("alice's bounded job", func(t *testing.T) {
		t.Parallel()
		alice, bob := alice.on(t), bob.on(t)
		out := outDir + "/krb-imp-sum"
		const n = 500
		j := alice.submit(alice.spec("it-krb-imp-bounded", v, "--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://"+out), nil)
		checkCredentials(t, j)
		if status, _, _, body := bob.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil); status != http.StatusNotFound {
			t.Errorf("bob GET = %d %s, want 404", status, body)
		}
		if status, _, _, body := bob.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true}); status != http.StatusNotFound {
			t.Errorf("bob cancel = %d %s, want 404", status, body)
		}
		j = alice.wait(j.ID, "FINISHED", 6*time.Minute)
		if j.State == "FINISHED" {
			j = alice.waitYARNEnd(j.ID)
		}
		if j.State != "FINISHED" || j.YARN.User != "alice" {
			t.Fatalf("job ended %s as %q (yarn %s/%s): %s %v", j.State, j.YARN.User, j.YARN.State, j.YARN.FinalStatus, j.YARN.Diagnostics, j.Flink.Failure)
		}
		if got, want := strings.TrimSpace(readHDFS(t, c, out)), fmt.Sprintf("count=%d sum=%d", n, sumOfSquares(n)); got != want {
			t.Errorf("result %q, want %q", got, want)
		}
		if st, err := c.StatHDFS(ctx, out); err != nil || st.Owner != "alice" {
			t.Errorf("output %s: %+v, %v; want owned by alice", out, st, err)
		}
		gone(t, alice, j.ID)
	})

	t.Run("bob submits for alice", func(t *testing.T) {
		t.Parallel()
		alice, bob := alice.on(t), bob.on(t)
		spec := alice.spec("it-krb-imp-proxied", v, "--mode", "unbounded", "--rate", "20")
		spec["proxyUser"] = "bob"
		if status, _, _, body := alice.do(http.MethodPost, "/v1/jobs", nil, spec); status != http.StatusForbidden {
			t.Errorf("alice for bob = %d %s, want 403", status, body)
		}
		spec["proxyUser"] = "alice"
		status, j, _, body := bob.do(http.MethodPost, "/v1/jobs", nil, spec)
		if status != http.StatusAccepted {
			t.Fatalf("bob for alice = %d %s", status, body)
		}
		t.Cleanup(func() { alice.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true}) })
		var view struct {
			Owner       string `json:"owner"`
			SubmittedBy string `json:"submittedBy"`
		}
		if _, _, _, raw := alice.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil); !decodeInto(raw, &view) || view.Owner != "alice" || view.SubmittedBy != "bob@"+c.Realm {
			t.Errorf("alice sees %s", raw)
		}
		if status, _, _, _ := bob.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil); status != http.StatusNotFound {
			t.Errorf("bob GET = %d, want 404 (the job is alice's)", status)
		}
		j = alice.wait(j.ID, "RUNNING", 5*time.Minute)
		if j.State != "RUNNING" || j.YARN.User != "alice" {
			t.Fatalf("job %s as %q: %s", j.State, j.YARN.User, j.YARN.Diagnostics)
		}
		appDir := cfg.HDFS.StagingRoot + "/.flink/" + j.ID
		if st, err := c.StatHDFS(ctx, appDir); err != nil || st.Owner != "alice" || st.Permission != "700" {
			t.Errorf("launch files %s: %+v, %v; want alice's, 700", appDir, st, err)
		}
		if st, err := c.StatHDFS(ctx, cfg.HDFS.StagingRoot+"/.flink"); err != nil || st.Permission != "1777" {
			t.Errorf(".flink: %+v, %v; want 1777", st, err)
		}
		if status, _, _, body := alice.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true}); status != http.StatusAccepted && status != http.StatusOK {
			t.Fatalf("alice kill = %d %s", status, body)
		}
		if app, err := c.WaitApp(ctx, j.ID); err != nil || app.State != "KILLED" {
			t.Errorf("YARN application after the kill: %+v, %v", app, err)
		}
		gone(t, alice, j.ID)
	})
}
