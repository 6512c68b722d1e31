package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/testenv"
)

// kerberizedJobGateway is a gateway with job launching on the Kerberized cluster, configured as make run
// configures it there (the gateway's principal, keytab and krb5.conf from cluster.env), with both Flink
// distributions and the example jar staged.
func kerberizedJobGateway(t *testing.T, c *testenv.Cluster) *jobGateway {
	t.Helper()
	cfg := kerberosConfig(t, c, c.Keytab)
	cfg.Flink.Homes = []string{c.FlinkHome, c.Flink2Home}
	cfg.Flink.DefaultVersion = "1.20"
	cfg.Flink.LibRoot = "/user/" + c.User + "/it-flink-krb"
	cfg.Jars.MaxSize = 64 << 20
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c.DeleteHDFS(ctx, cfg.HDFS.StagingRoot)
	})
	r := start(t, cfg)
	// The staging root holds the tests' outputs too; the test's own HDFS client is WebHDFS over SPNEGO
	// (c.ReadHDFS), not a raw client.
	g := &jobGateway{t: t, url: r.url, cluster: c, root: &hdfstest.Root{Path: cfg.HDFS.StagingRoot, Cluster: c}}
	jar, err := os.ReadFile(c.ExampleJar)
	if err != nil {
		t.Fatalf("example jar (make example-jar): %v", err)
	}
	g.jarID = g.uploadJar(jar)
	return g
}

// on returns a copy of g that reports to t, for use in a subtest.
func (g *jobGateway) on(t *testing.T) *jobGateway {
	c := *g
	c.t = t
	return &c
}

// kerberizedFlink launches Flink through the gateway on the Kerberized cluster, for each Flink version: a
// bounded application job that must finish with the right output in HDFS, an unbounded one that must run
// with working links (the JobManager directly, the Flink UI through the ResourceManager's SPNEGO-protected
// proxy) and cancel, and a session running three jobs at once. Each cluster gets its user's HDFS delegation
// token and krb5.conf from the launch; the job object says until when HDFS stays reachable.
func kerberizedFlink(t *testing.T, c *testenv.Cluster) {
	g := kerberizedJobGateway(t, c)
	for _, v := range flinkVersions {
		t.Run("flink-"+v, func(t *testing.T) {
			t.Parallel()
			t.Run("applications", func(t *testing.T) {
				t.Run("bounded", func(t *testing.T) { t.Parallel(); kerberizedBounded(t, g.on(t), v) })
				t.Run("unbounded", func(t *testing.T) { t.Parallel(); kerberizedUnbounded(t, g.on(t), v) })
			})
			t.Run("session", func(t *testing.T) { kerberizedSession(t, g.on(t), v) })
		})
	}
}

// checkCredentials checks a Kerberized job object's credentials: a token of the cluster's default
// lifetime (7 days), no keytab.
func checkCredentials(t *testing.T, j jobObj) {
	t.Helper()
	cr := j.Credentials
	if cr == nil || cr.HDFSAccessUntil == nil || cr.KeytabPrincipal != nil || !cr.HDFSAccessUntil.Equal(cr.HDFSTokenExpiresAt) {
		t.Errorf("job %s credentials %+v, want a token's max date as hdfsAccessUntil and no keytab", j.ID, cr)
		return
	}
	if left := time.Until(cr.HDFSTokenExpiresAt); left < 6*24*time.Hour || left > 7*24*time.Hour {
		t.Errorf("job %s: HDFS token expires in %v, want about 7 days", j.ID, left)
	}
}

func kerberizedBounded(t *testing.T, g *jobGateway, v string) {
	out := g.hdfsPath("krb-sum-" + v)
	const n = 700
	j := g.submit(g.spec("it-krb-bounded-"+v, v, "--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://"+out), nil)
	checkCredentials(t, j)
	j = g.wait(j.ID, "FINISHED", 5*time.Minute)
	if j.State == "FINISHED" {
		j = g.waitYARNEnd(j.ID)
	}
	if j.State != "FINISHED" || j.YARN.FinalStatus != "SUCCEEDED" || j.YARN.User != g.cluster.User {
		t.Errorf("bounded job ended %s (yarn %s/%s, user %s): %s %v", j.State, j.YARN.State, j.YARN.FinalStatus, j.YARN.User, j.YARN.Diagnostics, j.Flink.Failure)
		return
	}
	if got, want := strings.TrimSpace(readHDFS(t, g.cluster, out)), fmt.Sprintf("count=%d sum=%d", n, sumOfSquares(n)); got != want {
		t.Errorf("bounded job result %q, want %q", got, want)
	}
}

func kerberizedUnbounded(t *testing.T, g *jobGateway, v string) {
	j := g.submit(g.spec("it-krb-unbounded-"+v, v, "--mode", "unbounded", "--rate", "20"), nil)
	j = g.wait(j.ID, "RUNNING", 5*time.Minute)
	if j.State != "RUNNING" || j.Links.JobManager == nil || j.Links.FlinkUI == nil {
		t.Errorf("unbounded job = %s, links %+v: %s", j.State, j.Links, j.YARN.Diagnostics)
		return
	}
	checkCredentials(t, j)
	if status, body := get(t, *j.Links.JobManager+"/jobs/"+j.Flink.JobID); status != 200 || !strings.Contains(body, `"state":"RUNNING"`) {
		t.Errorf("JobManager link: GET /jobs/%s = %d %.200s", j.Flink.JobID, status, body)
	}
	// The UI link goes through the ResourceManager's web proxy, which demands SPNEGO like every RM page. The
	// ticket is taken now: the test KDC's tickets may live two minutes only.
	ticket, err := g.cluster.GatewayTicket(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	spnego := ticket.HTTPClient() // curl --negotiate, as a user opens the proxy link
	if resp, err := http.Get(*j.Links.FlinkUI); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Flink UI link without a ticket: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}
	if status, body := getWith(t, spnego, *j.Links.FlinkUI); status != 200 || !strings.Contains(body, "Apache Flink") {
		t.Errorf("Flink UI link with a ticket = %d %.200s", status, body)
	}
	if status, body := getWith(t, spnego, strings.TrimSuffix(*j.Links.FlinkUI, "/")+"/jobs/"+j.Flink.JobID); status != 200 || !strings.Contains(body, `"state":"RUNNING"`) {
		t.Errorf("the JobManager's REST API through the proxy = %d %.200s", status, body)
	}
	if status, _, _, body := g.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, nil); status != http.StatusAccepted && status != http.StatusOK {
		t.Errorf("cancel = %d %s", status, body)
		return
	}
	if c := g.wait(j.ID, "CANCELED", 3*time.Minute); c.State != "CANCELED" {
		t.Errorf("after cancel: %s (yarn %s/%s) %s", c.State, c.YARN.State, c.YARN.FinalStatus, c.YARN.Diagnostics)
	}
}

func kerberizedSession(t *testing.T, g *jobGateway, v string) {
	s := g.startSession(t, "it-krb-session-"+v, v, 3)
	type run struct {
		j   jobObj
		out string
		n   int64
	}
	runs := make([]run, 3)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			n := int64(40 + i)
			out := g.hdfsPath(fmt.Sprintf("krb-session-%s-%d", v, i))
			j := g.submit(g.sessionSpec(s.ID, fmt.Sprintf("it-krb-session-job-%s-%d", v, i),
				"--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://"+out), nil)
			runs[i] = run{j, out, n}
		})
	}
	wg.Wait()
	submitted := time.Now()
	for i, r := range runs {
		f := g.wait(r.j.ID, "FINISHED", 4*time.Minute)
		if f.State != "FINISHED" || f.YARN.ApplicationID != s.ID {
			// Once seen ending the session a second after its jobs were submitted (a DELETE /cluster, so
			// these waits had returned): the whole object, and when, say more next time.
			t.Errorf("session job %d (%s) = %s in %s, %v after the submissions: %v; job %+v", i, f.ID, f.State,
				f.YARN.ApplicationID, time.Since(submitted).Round(time.Millisecond), f.Flink.Failure, f)
			continue
		}
		checkCredentials(t, f) // the session's
		if got, want := strings.TrimSpace(readHDFS(t, g.cluster, r.out)), fmt.Sprintf("count=%d sum=%d", r.n, sumOfSquares(r.n)); got != want {
			t.Errorf("session job %d result %q, want %q", i, got, want)
		}
	}
	if t.Failed() {
		return // leave the session to the clean-up: stopping it now would hide what its jobs did
	}
	if status, _, _, body := g.sessionDo(http.MethodDelete, "/v1/sessions/"+s.ID, nil); status >= 300 {
		t.Errorf("stop session = %d %s", status, body)
	}
}

// getWith is get with client.
func getWith(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
