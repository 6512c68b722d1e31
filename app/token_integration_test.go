package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	krbkeytab "github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/yarngate/yarngate/testenv"
)

// tokenPorts keep the private cluster of the token lifetime test clear of the shared one and of the other
// private clusters (HA 21xxx-22xxx, registry 23xxx-24xxx, Kerberos 25xxx-27xxx), below 32768.
var tokenPorts = []string{
	"KERBEROS=1", "YARNGATE_TE_KDC_PORT=31800",
	"YARNGATE_TE_NN_PORT=31000", "YARNGATE_TE_NN_HTTP_PORT=31870", "YARNGATE_TE_RM_PORT=31030",
	"YARNGATE_TE_RM_WEB_PORT=31088", "YARNGATE_TE_ZK_PORT=32181", "YARNGATE_TE_NM_WEB_PORT=31042",
	"YARNGATE_TE_NM_LOCALIZER_PORT=31040", "YARNGATE_TE_NM_MEMORY_MB=8192",
}

// The NameNode's delegation token lifetimes on the token test's cluster: a token dies tokenMaxLifetime after
// it was issued, however often the ResourceManager renews it (at ~90 % of each renew interval).
const (
	tokenMaxLifetime   = 4 * time.Minute
	tokenRenewInterval = time.Minute
)

// keytabObj is the part of the keytab object the tests read.
type keytabObj struct {
	ID        string `json:"id"`
	Principal string `json:"principal"`
	Owner     string `json:"owner"`
	Keys      []struct {
		Version        int    `json:"version"`
		EncryptionType string `json:"encryptionType"`
	} `json:"keys"`
}

// credentialsObj is a job object's credentials.
type credentialsObj struct {
	HDFSTokenExpiresAt time.Time  `json:"hdfsTokenExpiresAt"`
	HDFSAccessUntil    *time.Time `json:"hdfsAccessUntil"`
	KeytabPrincipal    *string    `json:"keytabPrincipal"`
}

// uploadKeytab posts a keytab raw, with the principal in the query.
func uploadKeytab(t *testing.T, url string, data []byte, principal string) (int, keytabObj, apiErr, string) {
	t.Helper()
	resp, err := http.Post(url+"/v1/keytabs?principal="+principal, "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var k keytabObj
	var e apiErr
	if resp.StatusCode < 300 {
		json.Unmarshal(raw, &k)
	} else {
		json.Unmarshal(raw, &e)
	}
	return resp.StatusCode, k, e, string(raw)
}

// credentialsOf reads a job's credentials.
func (g *jobGateway) credentialsOf(id string) credentialsObj {
	g.t.Helper()
	status, body := get(g.t, g.url+"/v1/jobs/"+id)
	var j struct {
		Credentials *credentialsObj `json:"credentials"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &j) != nil || j.Credentials == nil {
		g.t.Fatalf("job %s = %d %s: no credentials", id, status, body)
	}
	return *j.Credentials
}

// checkpoints is what the JobManager says of a job's checkpoints.
type checkpoints struct {
	Counts struct {
		Completed int `json:"completed"`
		Failed    int `json:"failed"`
	} `json:"counts"`
	Latest struct {
		Completed *struct {
			ID              int   `json:"id"`
			LatestAckMillis int64 `json:"latest_ack_timestamp"`
		} `json:"completed"`
		Failed *struct {
			FailureMessage string `json:"failure_message"`
		} `json:"failed"`
	} `json:"latest"`
}

// checkpointsOf asks the job's JobManager (links.jobManager) about its checkpoints.
func (g *jobGateway) checkpointsOf(j jobObj) (checkpoints, error) {
	var cp checkpoints
	if j.Links.JobManager == nil {
		return cp, fmt.Errorf("job %s has no JobManager link (%s)", j.ID, j.State)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, *j.Links.JobManager+"/jobs/"+j.Flink.JobID+"/checkpoints", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return cp, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return cp, fmt.Errorf("GET checkpoints = %d", resp.StatusCode)
	}
	return cp, json.NewDecoder(resp.Body).Decode(&cp)
}

// jobManagerLog fetches the JobManager's log through its REST API ("" when it does not answer).
func jobManagerLog(j jobObj) string {
	if j.Links.JobManager == nil {
		return ""
	}
	resp, err := http.Get(*j.Links.JobManager + "/jobmanager/log")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// createdTokens are the JobManager log lines of HDFS tokens it obtained itself (DFSClient), renewable by the
// ResourceManager.
var createdTokens = regexp.MustCompile(`(?m)Created token for .*HDFS_DELEGATION_TOKEN .*renewer=yarn,`)

// tokenLines are the JobManager log lines about delegation tokens.
var tokenLines = regexp.MustCompile(`(?m)^.*(?:[Dd]elegation [Tt]oken|[Tt]okens? update|[Tt]okens obtained|HDFS_DELEGATION_TOKEN).*$`)

// TestKerberizedJobOutlivesToken launches the unbounded example job twice on a private Kerberized cluster
// whose NameNode issues delegation tokens that live only tokenMaxLifetime: once with a keytab of the job's
// user, uploaded through POST /v1/keytabs, and once without. The job object of the one without says when it
// loses HDFS (the token's maximum date); the one with the keytab logs in, obtains new tokens itself (Flink's
// delegation token manager, renewer the ResourceManager) and keeps completing checkpoints in HDFS after the
// first token died, RUNNING throughout. The keytab API's refusals (another user's principal, a principal the
// keytab lacks, keys the KDC refuses) are checked on the way.
//
// It needs a cluster of its own (a short token lifetime would cut short the jobs of the other Kerberized
// tests, which share TestKerberizedGateway's cluster) and runs for a token lifetime and a half per Flink
// version: about eleven minutes with the cluster's start for both. It runs under make test and CI
// (testenv.Required), or with YARNGATE_TEST_TOKEN_LIFETIME=1, with Flink 1.20 and 2;
// YARNGATE_TEST_TOKEN_FLINK (such as 1.20) picks the versions.
func TestKerberizedJobOutlivesToken(t *testing.T) {
	if os.Getenv("YARNGATE_TEST_TOKEN_LIFETIME") != "1" && !testenv.Required() {
		t.Skip("runs a private Kerberized cluster with short-lived tokens: runs under make test, CI or YARNGATE_TEST_TOKEN_LIFETIME=1")
	}
	versions := flinkVersions
	if v := os.Getenv("YARNGATE_TEST_TOKEN_FLINK"); v != "" {
		versions = strings.Split(v, ",")
	}
	c := startPrivateCluster(t, append(slices.Clone(tokenPorts),
		"YARNGATE_TE_DT_MAX_LIFETIME_MS="+strconv.FormatInt(tokenMaxLifetime.Milliseconds(), 10),
		"YARNGATE_TE_DT_RENEW_INTERVAL_MS="+strconv.FormatInt(tokenRenewInterval.Milliseconds(), 10))).Cluster
	cfg := kerberosConfig(t, c, c.Keytab)
	cfg.Flink.Homes = []string{c.FlinkHome, c.Flink2Home}
	cfg.Flink.DefaultVersion = "1.20"
	cfg.Flink.LibRoot = "/user/" + c.User + "/it-flink"
	cfg.Jars.MaxSize = 64 << 20
	r := start(t, cfg)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		if status, body := get(t, r.url+"/readyz"); status == 200 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("readyz = %d %s", status, body)
		}
	}
	defer c.DeleteHDFS(context.WithoutCancel(t.Context()), cfg.HDFS.StagingRoot)
	g := &jobGateway{t: t, url: r.url, cluster: c}
	jar, err := os.ReadFile(c.ExampleJar)
	if err != nil {
		t.Fatalf("example jar (make example-jar): %v", err)
	}
	g.jarID = g.uploadJar(jar)

	keytabID := keytabAPI(t, g, c, cfg.HDFS.StagingRoot)
	for _, v := range versions {
		t.Run("flink-"+v, func(t *testing.T) { outlivesToken(t, g, c, cfg.HDFS.StagingRoot, v, keytabID) })
	}
	if status, body := g.deleteKeytab(keytabID); status != http.StatusNoContent {
		t.Errorf("delete keytab = %d %s", status, body)
	}
}

func (g *jobGateway) deleteKeytab(id string) (int, string) {
	req, _ := http.NewRequest(http.MethodDelete, g.url+"/v1/keytabs/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// keytabAPI checks uploads against the cluster's KDC and returns the id of a keytab of the job's user (the
// gateway's user, yarngate: jobs run as the gateway's user for now).
func keytabAPI(t *testing.T, g *jobGateway, c *testenv.Cluster, root string) string {
	// A keytab of the job's user: the gateway principal's keys copied into a keytab of their own.
	gw, err := krbkeytab.Load(c.Keytab)
	if err != nil {
		t.Fatal(err)
	}
	own := krbkeytab.New()
	for _, e := range gw.Entries {
		if strings.Join(e.Principal.Components, "/")+"@"+e.Principal.Realm == c.Principal {
			own.Entries = append(own.Entries, e)
		}
	}
	userKeytab, err := own.Marshal()
	if err != nil || len(own.Entries) == 0 {
		t.Fatalf("copy the keys of %s: %d entries, %v", c.Principal, len(own.Entries), err)
	}
	status, kt, _, body := uploadKeytab(t, g.url, userKeytab, c.Principal)
	if status != http.StatusCreated || kt.Principal != c.Principal || len(kt.Keys) != len(own.Entries) {
		t.Fatalf("upload the job user's keytab = %d %s", status, body)
	}
	// The uploader owns it: without authentication (auth.methods none on loopback) the caller is the
	// gateway's user.
	if kt.Owner != c.User {
		t.Errorf("keytab owner = %q, want the caller %s", kt.Owner, c.User)
	}
	if strings.Contains(body, "keyValue") || strings.Contains(body, "KeyValue") {
		t.Errorf("the keytab object carries key material: %s", body)
	}
	t.Logf("keytab %s: %s", kt.ID, body)

	// Stored as a secret: 0600 in a 0700 directory of the gateway's user.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ticket, err := c.GatewayTicket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := c.HadoopFS(ctx, ticket, nil, "-ls", "-d", root+"/keytabs", root+"/keytabs/"+kt.ID+".keytab")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(ls)), "\n"); len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "drwx------ ") || !strings.HasPrefix(lines[1], "-rw------- ") {
		t.Errorf("keytab storage modes:\n%s\nwant drwx------ and -rw-------", ls)
	}

	alice := "alice@" + c.Realm
	userKeytabs, err := os.ReadFile(c.UserKeytab)
	if err != nil {
		t.Fatal(err)
	}
	stale := krbkeytab.New()
	if err := stale.AddEntry(c.User, c.Realm, "not the password", time.Now(), 1, 18); err != nil {
		t.Fatal(err)
	}
	staleData, _ := stale.Marshal()
	for _, tc := range []struct {
		name, principal string
		data            []byte
		status          int
		code            string
	}{
		{"a principal the keytab lacks", "carol@" + c.Realm, userKeytabs, 400, "invalid_keytab"},
		{"several principals, none named", "", userKeytabs, 400, "invalid_keytab"},
		{"keys the KDC refuses", c.Principal, staleData, 422, "keytab_rejected"},
		{"not a keytab", alice, []byte("PK\x03\x04"), 400, "invalid_keytab"},
	} {
		status, _, e, body := uploadKeytab(t, g.url, tc.data, tc.principal)
		if status != tc.status || e.Error.Code != tc.code {
			t.Errorf("%s: upload = %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
		t.Logf("%s: %d %s", tc.name, status, strings.TrimSpace(body))
	}

	// Another user's keytab is refused for a job of the gateway's user, before anything is launched.
	status, aliceKt, _, body := uploadKeytab(t, g.url, userKeytabs, alice)
	if status != http.StatusCreated || aliceKt.Principal != alice {
		t.Fatalf("upload alice's keytab = %d %s", status, body)
	}
	spec := g.spec("it-keytab-mismatch", "1.20", "--mode", "unbounded")
	spec["keytabId"] = aliceKt.ID
	if status, _, e, body := g.do(http.MethodPost, "/v1/jobs", nil, spec); status != http.StatusUnprocessableEntity || e.Error.Code != "keytab_user_mismatch" {
		t.Errorf("job with alice's keytab = %d %s, want 422 keytab_user_mismatch", status, body)
	}
	if status, body := get(t, g.url+"/v1/jobs"); status != 200 || strings.Contains(body, "it-keytab-mismatch") {
		t.Errorf("jobs after the refused launch = %d %s", status, body)
	}
	if status, body := g.deleteKeytab(aliceKt.ID); status != http.StatusNoContent {
		t.Errorf("delete alice's keytab = %d %s", status, body)
	}
	if status, body := get(t, g.url+"/v1/keytabs/"+aliceKt.ID); status != http.StatusNotFound {
		t.Errorf("alice's keytab after delete = %d %s", status, body)
	}
	if status, body := get(t, g.url+"/v1/keytabs"); status != 200 || !strings.Contains(body, kt.ID) || strings.Contains(body, aliceKt.ID) {
		t.Errorf("list = %d %s", status, body)
	}
	return kt.ID
}

// outlivesToken runs the two jobs of one Flink version past the maximum lifetime of their tokens.
func outlivesToken(t *testing.T, g *jobGateway, c *testenv.Cluster, root, version, keytabID string) {
	// Checkpoints every 20 s: longer than Hadoop's idle connection timeout (ipc.client.connection.maxidletime,
	// 10 s), so that each checkpoint opens a new NameNode connection and authenticates again. With shorter
	// intervals a connection authenticated before the token died stays open and usable, and even a cluster
	// without a keytab goes on checkpointing past hdfsAccessUntil — until its connection drops.
	flinkConfig := func(name string) map[string]any {
		return map[string]any{
			"execution.checkpointing.interval": "20s",
			"state.checkpoints.dir":            c.Env["YARNGATE_HDFS_URL"] + root + "/checkpoints/" + name,
		}
	}
	spec := func(name string) map[string]any {
		s := g.spec(name, version, "--mode", "unbounded", "--rate", "10")
		s["flinkConfig"] = flinkConfig(name)
		s["jobManager"] = map[string]any{"memory": "1024m"}
		s["taskManager"] = map[string]any{"memory": "1024m", "slots": 1}
		return s
	}
	began := time.Now()
	withKT := spec("it-token-keytab-" + version)
	withKT["keytabId"] = keytabID
	kj := g.submit(withKT, nil)
	plain := g.submit(spec("it-token-plain-"+version), nil)
	submitted := time.Now()

	kc, pc := g.credentialsOf(kj.ID), g.credentialsOf(plain.ID)
	t.Logf("keytab job %s: token until %v, access until %v, principal %v", kj.ID, kc.HDFSTokenExpiresAt, kc.HDFSAccessUntil, deref(kc.KeytabPrincipal))
	t.Logf("plain job %s: token until %v, access until %v, principal %v", plain.ID, pc.HDFSTokenExpiresAt, pc.HDFSAccessUntil, deref(pc.KeytabPrincipal))
	if kc.HDFSAccessUntil != nil || kc.KeytabPrincipal == nil || *kc.KeytabPrincipal != c.Principal {
		t.Errorf("the keytab job's credentials %+v: want keytabPrincipal %s and hdfsAccessUntil null", kc, c.Principal)
	}
	// The token is issued during the launch: its maximum date is issue + max-lifetime (the NameNode's
	// clock is the machine's), so within the launch's time frame, with a second of rounding either side.
	if pc.KeytabPrincipal != nil || pc.HDFSAccessUntil == nil || !pc.HDFSAccessUntil.Equal(pc.HDFSTokenExpiresAt) ||
		pc.HDFSAccessUntil.Before(began.Add(tokenMaxLifetime-time.Second)) || pc.HDFSAccessUntil.After(submitted.Add(tokenMaxLifetime+time.Second)) {
		t.Errorf("the plain job's credentials %+v: want hdfsAccessUntil = hdfsTokenExpiresAt within [%v, %v] (launch + %v)",
			pc, began.Add(tokenMaxLifetime).UTC(), submitted.Add(tokenMaxLifetime).UTC(), tokenMaxLifetime)
	}

	kj = g.wait(kj.ID, "RUNNING", 5*time.Minute)
	plain = g.wait(plain.ID, "RUNNING", 5*time.Minute)
	if kj.State != "RUNNING" || plain.State != "RUNNING" {
		t.Fatalf("keytab job %s (%s), plain job %s (%s)", kj.State, kj.YARN.Diagnostics, plain.State, plain.YARN.Diagnostics)
	}
	t.Logf("both RUNNING %v after the launch", time.Since(began).Round(time.Second))
	// Before the expiry, both checkpoint, and the plain job's object still says when it loses HDFS.
	var kBefore, pBefore checkpoints
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Second) {
		kBefore, _ = g.checkpointsOf(kj)
		pBefore, _ = g.checkpointsOf(plain)
		if kBefore.Counts.Completed > 0 && pBefore.Counts.Completed > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint completed: keytab job %+v, plain job %+v", kBefore.Counts, pBefore.Counts)
		}
	}
	expiry := pc.HDFSTokenExpiresAt
	if time.Now().After(expiry) {
		t.Fatalf("the jobs took until after the tokens' maximum date %v to checkpoint: make tokenMaxLifetime longer", expiry)
	}
	if again := g.credentialsOf(plain.ID); again.HDFSAccessUntil == nil || !again.HDFSAccessUntil.Equal(expiry) {
		t.Errorf("while it runs, the plain job's hdfsAccessUntil = %v, want %v", again.HDFSAccessUntil, expiry)
	}
	t.Logf("before the expiry (%v to go): keytab job %d completed / %d failed, plain job %d / %d", time.Until(expiry).Round(time.Second),
		kBefore.Counts.Completed, kBefore.Counts.Failed, pBefore.Counts.Completed, pBefore.Counts.Failed)

	// After the expiry: the keytab job keeps completing checkpoints, acknowledged after the first token died.
	time.Sleep(time.Until(expiry.Add(time.Minute)))
	var kAfter checkpoints
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Second) {
		kAfter, err := g.checkpointsOf(kj)
		if err == nil && kAfter.Latest.Completed != nil && time.UnixMilli(kAfter.Latest.Completed.LatestAckMillis).After(expiry.Add(30*time.Second)) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("keytab job: no checkpoint completed since the token expired at %v: %+v, %v", expiry, kAfter, err)
			break
		}
	}
	kAfter, _ = g.checkpointsOf(kj)
	if kAfter.Counts.Completed <= kBefore.Counts.Completed {
		t.Errorf("keytab job: %d completed checkpoints after the expiry, %d before", kAfter.Counts.Completed, kBefore.Counts.Completed)
	}
	_, kNow, _, _ := g.do(http.MethodGet, "/v1/jobs/"+kj.ID, nil, nil)
	if kNow.State != "RUNNING" || kNow.Flink.State == nil || *kNow.Flink.State != "RUNNING" {
		t.Errorf("keytab job after the expiry: %s (flink %v) %s", kNow.State, deref(kNow.Flink.State), kNow.YARN.Diagnostics)
	}
	jmLog := jobManagerLog(kj)
	obtained := tokenLines.FindAllString(jmLog, -1)
	t.Logf("keytab job %s after the expiry: %s, %d completed / %d failed checkpoints (%d before); JobManager token log lines (%d):\n%s",
		kj.ID, kNow.State, kAfter.Counts.Completed, kAfter.Counts.Failed, kBefore.Counts.Completed, len(obtained), strings.Join(obtained, "\n"))
	// Flink's delegation token manager obtained tokens at start and again before they expired, renewable by
	// the ResourceManager (yarn, its principal's short name).
	if created := createdTokens.FindAllString(jmLog, -1); len(created) < 2 {
		t.Errorf("the keytab job's JobManager obtained %d HDFS tokens renewable by yarn, want at least 2 (at start, then before they expire)", len(created))
	}

	// The plain job: what happens to it is recorded, not asserted (Flink decides: failed checkpoints, restarts).
	pAfter, perr := g.checkpointsOf(plain)
	_, pNow, _, _ := g.do(http.MethodGet, "/v1/jobs/"+plain.ID, nil, nil)
	failure := ""
	if pAfter.Latest.Failed != nil {
		failure = pAfter.Latest.Failed.FailureMessage
	}
	t.Logf("plain job %s after the expiry: %s (flink %v), checkpoints %d completed / %d failed (%d / %d before; %v), latest failure %.300q; token log lines:\n%s",
		plain.ID, pNow.State, deref(pNow.Flink.State), pAfter.Counts.Completed, pAfter.Counts.Failed,
		pBefore.Counts.Completed, pBefore.Counts.Failed, perr, failure, strings.Join(tokenLines.FindAllString(jobManagerLog(plain), -1), "\n"))
}
