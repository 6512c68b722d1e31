package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/delegation"
	"github.com/yarngate/yarngate/jarfile/jartest"
	"github.com/yarngate/yarngate/kerberos"
	"github.com/yarngate/yarngate/testenv"
	"github.com/yarngate/yarngate/yarnclient"
)

// kerberosPorts keep the private Kerberized cluster clear of the shared one (1xxxx), the HA test's (21xxx-22xxx)
// and the registry test's (23xxx-24xxx). Every private port stays below 32768, out of Linux's ephemeral range,
// where an outgoing connection once took a ResourceManager's port first.
var kerberosPorts = []string{
	"KERBEROS=1", "YARNGATE_TE_KDC_PORT=25800",
	"YARNGATE_TE_NN_PORT=26000", "YARNGATE_TE_NN_HTTP_PORT=26870", "YARNGATE_TE_RM_PORT=26030",
	"YARNGATE_TE_RM_WEB_PORT=26088", "YARNGATE_TE_ZK_PORT=27181", "YARNGATE_TE_NM_WEB_PORT=26042",
	"YARNGATE_TE_NM_LOCALIZER_PORT=26040", "YARNGATE_TE_NM_MEMORY_MB=10240",
	// The DataNode offers privacy first: colinmarc alone would negotiate it (and fail to read), the gateway
	// configured for authentication (the cluster's hdfs-site.xml) negotiates authentication, one configured
	// for privacy negotiates privacy and reads through WebHDFS.
	"YARNGATE_TE_DATA_TRANSFER_PROTECTION=privacy,authentication",
	"YARNGATE_TE_KDC_MAX_TICKET_LIFETIME=" + strconv.Itoa(kerberosTicketSeconds), // short: see startTicketRefresh
}

// kerberizedCluster returns the shared test cluster when it is Kerberized, else a private Kerberized one.
func kerberizedCluster(t *testing.T) *testenv.Cluster {
	t.Helper()
	if c, err := testenv.Load(); err == nil && c.Kerberos {
		return testenv.RequireKerberos(t)
	}
	return startPrivateCluster(t, kerberosPorts).Cluster
}

// kerberosConfig is the configuration `make run` uses on a Kerberized cluster (cluster.env's YARNGATE_PRINCIPAL,
// YARNGATE_KEYTAB and YARNGATE_KRB5_CONF), with a staging root and registry of its own.
func kerberosConfig(t *testing.T, c *testenv.Cluster, keytab string) config.Config {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	env := []string{"HADOOP_CONF_DIR=" + c.HadoopConfDir, "YARNGATE_USER=" + c.User,
		"YARNGATE_HDFS_STAGING_ROOT=/user/" + c.User + "/.yarngate-krb-" + hex.EncodeToString(b),
		"YARNGATE_PRINCIPAL=" + c.Principal, "YARNGATE_KEYTAB=" + keytab, "YARNGATE_KRB5_CONF=" + c.KRB5Conf}
	cfg, err := config.Load(config.LoadOptions{File: "../configs/dev.yaml", Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Jars.MaxSize = 8 * config.MiB
	isolateRegistry(t, &cfg, c.Env["YARNGATE_ZK"])
	return cfg
}

// TestKerberizedGateway proves the gateway as a Kerberos client of a Kerberized cluster: it logs in from its
// keytab, is ready (HDFS over Kerberos RPC and SASL data transfer, the ResourceManager over SPNEGO), names the
// RM, stages a jar in HDFS and lists it; launches Flink (application jobs and a session, both Flink versions,
// see kerberizedFlink); where the DataNode offers privacy first, colinmarc alone cannot read under privacy,
// and a gateway whose hdfs-site.xml says privacy stages a jar reading it back through WebHDFS; with a keytab
// that lacks its principal, it refuses to start; then the operations side (kerberosOperations: ticket refresh,
// bad credentials, the KDC down and back, the secret scan). The test starts a private Kerberized cluster (a KDC,
// HDFS, an RM, a NodeManager and ZooKeeper, about a minute) unless the shared one is Kerberized, so it runs wherever
// a cluster is required (CI, make test) or with YARNGATE_TEST_KERBEROS=1.
func TestKerberizedGateway(t *testing.T) {
	if os.Getenv("YARNGATE_TEST_KERBEROS") != "1" && !testenv.Required() {
		t.Skip("starts a private Kerberized cluster: runs under make test, CI or YARNGATE_TEST_KERBEROS=1")
	}
	c := kerberizedCluster(t)
	refresh := startTicketRefresh(t, c) // watched while the subtests run, checked by kerberosOperations

	t.Run("spnego figures", func(t *testing.T) { spnegoFigures(t, c) })
	t.Run("webhdfs delegation token for alice", func(t *testing.T) { webHDFSDelegationToken(t, c) })
	t.Run("flink", func(t *testing.T) { kerberizedFlink(t, c) })
	t.Run("spnego authentication", func(t *testing.T) { spnegoAuthentication(t, c) })
	t.Run("impersonation", func(t *testing.T) { kerberizedImpersonation(t, c) })

	t.Run("serves", func(t *testing.T) {
		cfg := kerberosConfig(t, c, c.Keytab)
		began := time.Now()
		r := start(t, cfg)
		var status int
		var body string
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
			if status, body = get(t, r.url+"/readyz"); status == 200 || time.Now().After(deadline) {
				break
			}
		}
		if status != 200 || !strings.Contains(body, `"kerberos":"ok"`) || !strings.Contains(body, `"hdfs":"ok"`) || !strings.Contains(body, `"yarn":"ok"`) {
			t.Fatalf("readyz = %d %s", status, body)
		}
		t.Logf("ready %v after Run started", time.Since(began).Round(time.Millisecond))

		v := getCluster(t, r.url)
		if v.ResourceManager.URL != strings.TrimRight(c.RMURL, "/") || !v.HDFS.Reachable {
			t.Errorf("cluster view %+v, want the RM %s and HDFS reachable", v, c.RMURL)
		}

		data := jartest.Bytes(t, jartest.Options{MainClass: "com.example.Kerberized", PayloadSize: 2 << 20, Seed: 88})
		status, created, body := post(t, r.url+"/v1/jars?name=kerberized.jar", "application/java-archive", bytes.NewReader(data))
		if status != 201 || created.Size != int64(len(data)) || created.MainClass == nil || *created.MainClass != "com.example.Kerberized" {
			t.Fatalf("upload = %d %s", status, body)
		}
		if status, body := get(t, r.url+"/v1/jars"); status != 200 || !strings.Contains(body, created.ID) {
			t.Errorf("list = %d %s", status, body)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		path := strings.TrimPrefix(created.Path, strings.TrimRight(c.Env["YARNGATE_HDFS_URL"], "/"))
		staged, err := c.ReadHDFS(ctx, path)
		if err != nil || !bytes.Equal(staged, data) {
			t.Errorf("the staged jar read back through WebHDFS (%d bytes, %v) differs from the upload", len(staged), err)
		}
		defer c.DeleteHDFS(context.WithoutCancel(ctx), cfg.HDFS.StagingRoot)

		_, metrics := get(t, r.url+"/metrics")
		expiry := metricValue(t, metrics, "yarngate_kerberos_tgt_expiry_timestamp_seconds")
		if until := time.Until(time.Unix(int64(expiry), 0)); until <= 0 {
			t.Errorf("yarngate_kerberos_tgt_expiry_timestamp_seconds = %v, not in the future", expiry)
		} else {
			t.Logf("ticket valid for another %v", until.Round(time.Second))
		}
		sum := metricValue(t, metrics, `yarngate_kerberos_exchange_duration_seconds_sum{kind="login"}`)
		count := metricValue(t, metrics, `yarngate_kerberos_exchange_duration_seconds_count{kind="login"}`)
		if count < 1 {
			t.Errorf("no login recorded in the metrics")
		} else {
			t.Logf("login from the keytab (AS exchange): %v on average over %v", time.Duration(sum/count*float64(time.Second)).Round(time.Microsecond), count)
		}
		if err := r.wait(t, 30*time.Second); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})

	t.Run("colinmarc cannot read under privacy", func(t *testing.T) { colinmarcPrivacyReads(t, c) })
	t.Run("privacy: reads through WebHDFS", func(t *testing.T) { privacyGateway(t, c) })

	t.Run("keytab without the principal", func(t *testing.T) {
		cfg := kerberosConfig(t, c, c.UserKeytab) // alice's and bob's keys only
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		err := Run(ctx, Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
		want := "kerberos.keytab: " + c.UserKeytab + " holds no key for " + c.Principal
		if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Run() = %v; want a configuration error with %q", err, want)
		}
	})

	kerberosOperations(t, c, refresh)
}

// spnegoFigures measures the login and SPNEGO against the cluster's ResourceManager with the gateway's own
// clients: a login from the keytab, the first call (an AP-REQ), and calls that send the hadoop.auth cookie.
func spnegoFigures(t *testing.T, c *testenv.Cluster) {
	login, err := kerberos.New(kerberos.Options{Principal: c.Principal, Keytab: c.Keytab, Krb5Conf: c.KRB5Conf,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	began := time.Now()
	go func() { login.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-login.FirstAttempt()
	loginTook := time.Since(began)
	if err := login.Ready(ctx); err != nil {
		t.Fatalf("login: %v", err)
	}
	yc, err := yarnclient.New(yarnclient.Options{RMs: []yarnclient.RM{{URL: c.RMURL}}, User: c.User,
		HTTPClient: login.NewHTTPClient(nil)})
	if err != nil {
		t.Fatal(err)
	}
	timed := func() time.Duration {
		t0 := time.Now()
		if _, err := yc.ClusterInfo(ctx); err != nil {
			t.Fatalf("cluster info over SPNEGO: %v", err)
		}
		return time.Since(t0)
	}
	first := timed()
	var later []time.Duration
	for range 20 {
		later = append(later, timed())
	}
	sort.Slice(later, func(i, j int) bool { return later[i] < later[j] })
	// The same call without credentials is refused: the RM really demands SPNEGO.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.RMURL, "/")+"/ws/v1/cluster/info", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated cluster info = %d, want 401", resp.StatusCode)
	}
	t.Logf("login %v; GET /ws/v1/cluster/info over SPNEGO: first (TGS exchange + AP-REQ) %v, then with the cookie median %v, max %v",
		loginTook.Round(time.Microsecond), first.Round(time.Microsecond), later[len(later)/2].Round(time.Microsecond), later[len(later)-1].Round(time.Microsecond))
}

// webHDFSDelegationToken checks that the gateway's principal, over its own SPNEGO client, may get an HDFS
// delegation token for another user (alice) from WebHDFS, with the ResourceManager's principal as renewer:
// what launches as the caller will need.
func webHDFSDelegationToken(t *testing.T, c *testenv.Cluster) {
	login, err := kerberos.New(kerberos.Options{Principal: c.Principal, Keytab: c.Keytab, Krb5Conf: c.KRB5Conf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { login.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-login.FirstAttempt()
	hc := login.NewHTTPClient(nil)
	u := strings.TrimRight(c.WebHDFSURL, "/") + "/webhdfs/v1/?op=GETDELEGATIONTOKEN&renewer=yarn&kind=HDFS_DELEGATION_TOKEN&doas=alice"
	t0 := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Token struct {
			URLString string `json:"urlString"`
		} `json:"Token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GETDELEGATIONTOKEN = %d, %v", resp.StatusCode, err)
	}
	tok, err := delegation.Decode(got.Token.URLString)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Kind != delegation.KindHDFS || tok.Owner != "alice" || tok.Renewer != "yarn" || tok.Service == "" {
		t.Errorf("token %+v, want an HDFS_DELEGATION_TOKEN of alice renewable by yarn with a service", tok)
	}
	t.Logf("WebHDFS delegation token in %v: %s, real user %q", time.Since(t0).Round(time.Microsecond), tok, tok.RealUser)
}

// metricValue returns the value of the series named exactly series (name{labels}) in a text exposition.
func metricValue(t *testing.T, exposition, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(exposition)
	if m == nil {
		t.Errorf("metrics lack %s", series)
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Errorf("%s = %q: %v", series, m[1], err)
	}
	return v
}
