package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/jarfile/jartest"
	"github.com/yarngate/yarngate/testenv"
)

// The operations side of a Kerberized cluster, on the cluster TestKerberizedGateway uses: the gateway's ticket
// kept fresh over several of the KDC's short ticket lifetimes (kerberosTicketSeconds), bad credentials, the KDC
// stopped and started again, and no secret in any log line or response body throughout.

// kerberosTicketSeconds is the longest ticket the KDC of the private Kerberized cluster issues: short, so that
// the gateway's ticket must be renewed or replaced several times during TestKerberizedGateway.
const kerberosTicketSeconds = 120

// capture collects everything a test gateway writes to its log and every response body the test reads, for the
// secret scan.
type capture struct {
	mu  sync.Mutex
	log bytes.Buffer
	// bodies holds every response body read through get and post.
	bodies []string
}

// Write appends a log record.
func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.Write(p)
}

// texts returns the log and the bodies read so far, named for the scan's report.
func (c *capture) texts() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{"log": c.log.String()}
	for i, b := range c.bodies {
		out[fmt.Sprintf("response body %d", i)] = b
	}
	return out
}

// logger returns a logger that writes everything, debug included, into c.
func (c *capture) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// size is the length of the log so far.
func (c *capture) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.Len()
}

// get is get, keeping the body.
func (c *capture) get(t *testing.T, url string) (int, string) {
	t.Helper()
	status, body := get(t, url)
	c.mu.Lock()
	c.bodies = append(c.bodies, body)
	c.mu.Unlock()
	return status, body
}

// upload posts a small jar and keeps the answer.
func (c *capture) upload(t *testing.T, url string, seed uint64) (int, string) {
	t.Helper()
	data := jartest.Bytes(t, jartest.Options{MainClass: "com.example.Refresh", PayloadSize: 64 << 10, Seed: seed})
	status, _, body := post(t, url+"/v1/jars?name=refresh.jar", "application/java-archive", bytes.NewReader(data))
	c.mu.Lock()
	c.bodies = append(c.bodies, body)
	c.mu.Unlock()
	return status, body
}

// startCaptured is start with the gateway's whole log, debug included, going to c.
func startCaptured(t *testing.T, cfg config.Config, c *capture) *running {
	t.Helper()
	return startWithLogger(t, cfg, c.logger())
}

// secrets is what must never appear in a log line or a response body: every key of the cluster's keytabs
// (raw, base64, hex), the keytab files themselves (raw and base64), SPNEGO tokens, hadoop.auth cookie values and
// delegation tokens.
type secrets struct {
	// literals are exact strings, named for the report.
	literals map[string]string
	// patterns are shapes of secrets whose value the test cannot know (an AP-REQ, a cookie the RM signed).
	patterns map[string]*regexp.Regexp
}

// clusterSecrets collects the secrets of the cluster's keytabs.
func clusterSecrets(t *testing.T, keytabs ...string) secrets {
	t.Helper()
	s := secrets{literals: map[string]string{}, patterns: map[string]*regexp.Regexp{
		"a SPNEGO token":          regexp.MustCompile(`Negotiate [A-Za-z0-9+/]{16,}`),
		"a hadoop.auth value":     regexp.MustCompile(`hadoop\.auth=\\?"?[^";\s\\]`),
		"a delegation token":      regexp.MustCompile(`urlString\\?"\s*:\s*\\?"[A-Za-z0-9_-]{16,}`),
		"an Authorization header": regexp.MustCompile(`(?i)authorization\\?"?\s*[:=]\s*\\?"?\[?\\?"?(Negotiate|Basic|Bearer) \S`),
	}}
	for _, path := range keytabs {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		s.addBytes(name+" (the file)", raw)
		kt := keytab.New()
		if err := kt.Unmarshal(raw); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for i, e := range kt.Entries {
			s.addBytes(fmt.Sprintf("%s key %d (%s, etype %d)", name, i, strings.Join(e.Principal.Components, "/"), e.Key.KeyType), e.Key.KeyValue)
		}
	}
	return s
}

// addBytes adds b in every encoding a log or a JSON body could show it in.
func (s secrets) addBytes(name string, b []byte) {
	s.literals[name+" raw"] = string(b)
	s.literals[name+" base64"] = base64.StdEncoding.EncodeToString(b)
	s.literals[name+" base64url"] = base64.RawURLEncoding.EncodeToString(b)
	s.literals[name+" hex"] = hex.EncodeToString(b)
	s.literals[name+" HEX"] = strings.ToUpper(hex.EncodeToString(b))
}

// find returns one line per secret found in texts.
func (s secrets) find(texts map[string]string) []string {
	var found []string
	for where, text := range texts {
		for name, lit := range s.literals {
			if lit != "" && strings.Contains(text, lit) {
				found = append(found, where+" holds "+name)
			}
		}
		for name, re := range s.patterns {
			if m := re.FindString(text); m != "" {
				found = append(found, fmt.Sprintf("%s holds %s: %.40q…", where, name, m))
			}
		}
	}
	return found
}

// checkNoSecrets fails t when the captures hold a secret.
func checkNoSecrets(t *testing.T, s secrets, caps ...*capture) {
	t.Helper()
	size, bodies := 0, 0
	for _, c := range caps {
		texts := c.texts()
		for _, f := range s.find(texts) {
			t.Errorf("secret: %s", f)
		}
		for _, text := range texts {
			size += len(text)
		}
		bodies += len(texts) - 1
	}
	t.Logf("secret scan: %d bytes of logs and %d response bodies, %d literals and %d patterns", size, bodies, len(s.literals), len(s.patterns))
}

// checkScanFindsPlanted proves the scan can fail: secrets planted in a captured log and a response body, the
// way a careless log call or error body would show them, are each found.
func checkScanFindsPlanted(t *testing.T, s secrets, keytabPath string) {
	raw, err := os.ReadFile(keytabPath)
	if err != nil {
		t.Fatal(err)
	}
	kt := keytab.New()
	if err := kt.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	key := kt.Entries[0].Key.KeyValue
	planted := []struct {
		name  string
		plant func(l *slog.Logger, c *capture)
	}{
		{"a key in base64 in a log attribute", func(l *slog.Logger, _ *capture) { l.Info("login", "key", key) }}, // slog renders []byte as base64
		{"a key in hex in a message", func(l *slog.Logger, _ *capture) { l.Error(fmt.Sprintf("decrypt failed with key %x", key)) }},
		{"the keytab in a response body", func(_ *slog.Logger, c *capture) {
			c.bodies = append(c.bodies, `{"keytab":"`+base64.StdEncoding.EncodeToString(raw)+`"}`)
		}},
		{"a request's headers in a log", func(l *slog.Logger, _ *capture) {
			h := http.Header{"Authorization": {"Negotiate YIIC+AYGKwYBBQUCoIIC7DCCAuigDTALBgkqhkiG9xIBAgKiggLVBIIC0W"}}
			l.Debug("request", "headers", h)
		}},
		{"a hadoop.auth cookie in an error", func(l *slog.Logger, _ *capture) {
			l.Warn("cookie refused", "cookie", `hadoop.auth="u=yarngate&p=yarngate@EXAMPLE.COM&t=kerberos&e=1&s=abc="`)
		}},
		{"a delegation token in a body", func(_ *slog.Logger, c *capture) {
			c.bodies = append(c.bodies, `{"Token":{"urlString":"JQAEYWxpY2UEeWFybgCKAZS2c5ZlKgPZ"}}`)
		}},
	}
	for _, p := range planted {
		c := &capture{}
		c.logger().Info("an innocent line", "readyz", "kerberos: the KDC cannot be reached")
		p.plant(c.logger(), c)
		if found := s.find(c.texts()); len(found) == 0 {
			t.Errorf("the scan misses %s", p.name)
		} else {
			t.Logf("planted %s: found (%s)", p.name, found[0])
		}
	}
	if found := s.find((&capture{}).texts()); len(found) != 0 {
		t.Errorf("the scan finds secrets in nothing: %v", found)
	}
}

// kerberosOperations runs the operations subtests of TestKerberizedGateway, after its others: bad credentials,
// the ticket refresh watched since the start (tr, from startTicketRefresh), the KDC stopped and started again,
// and the secret scan of every log line and response body of these gateways.
func kerberosOperations(t *testing.T, c *testenv.Cluster, tr *ticketRefresh) {
	badCap, kdcCap := &capture{}, &capture{}
	scan := clusterSecrets(t, c.Keytab, c.UserKeytab)
	t.Run("the secret scan finds planted secrets", func(t *testing.T) { checkScanFindsPlanted(t, scan, c.Keytab) })
	t.Run("bad credentials", func(t *testing.T) { badKerberosCredentials(t, c, badCap) })
	t.Run("ticket refresh over more than three lifetimes", tr.check)
	t.Run("KDC down and back", func(t *testing.T) { kdcDownAndBack(t, c, kdcCap) })
	t.Run("no secret in logs or response bodies", func(t *testing.T) {
		caps := []*capture{badCap, kdcCap}
		if tr != nil {
			caps = append(caps, tr.cap)
		}
		checkNoSecrets(t, scan, caps...)
	})
}

// ticketRefresh is a gateway that TestKerberizedGateway starts first and watches, while its other subtests run,
// for more than three of the KDC's ticket lifetimes: readiness every second; every 15 s an upload (HDFS write
// and read back over Kerberos RPC and SASL data transfer), the cluster view (the RM over SPNEGO) and the ticket's
// expiry.
type ticketRefresh struct {
	c        *testenv.Cluster
	r        *running
	jars     [][]byte // one per upload: a new jar each time
	cap      *capture
	cfg      config.Config
	lifetime time.Duration
	runFor   time.Duration
	done     chan struct{}

	// Written by the watching goroutine, read after done.
	polls, uploads int
	failures       []string
	expiries       map[float64]bool
	logins         float64
}

// startTicketRefresh starts the gateway and its watch when the cluster's KDC issues short tickets, else returns
// nil (the shared cluster's KDC issues tickets of a day).
func startTicketRefresh(t *testing.T, c *testenv.Cluster) *ticketRefresh {
	t.Helper()
	secs, _ := strconv.Atoi(c.Env["YARNGATE_KDC_MAX_TICKET_LIFETIME"])
	if secs <= 0 || secs > 300 {
		t.Logf("the KDC issues tickets of %q s: no ticket refresh check", c.Env["YARNGATE_KDC_MAX_TICKET_LIFETIME"])
		return nil
	}
	cfg := kerberosConfig(t, c, c.Keytab)
	tr := &ticketRefresh{c: c, cap: &capture{}, cfg: cfg, lifetime: time.Duration(secs) * time.Second, done: make(chan struct{}),
		expiries: map[float64]bool{}}
	tr.runFor = 3*tr.lifetime + tr.lifetime/4
	for seed := range uint64(tr.runFor/(15*time.Second)) + 2 {
		tr.jars = append(tr.jars, jartest.Bytes(t, jartest.Options{MainClass: "com.example.Refresh", PayloadSize: 64 << 10, Seed: 1000 + seed}))
	}
	tr.r = startCaptured(t, cfg, tr.cap)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); <-tr.done })
	go tr.watch(ctx)
	return tr
}

// watch polls the gateway until runFor has passed or ctx ends. It reports through the fields (check reads them
// after done), never through a testing.T: it runs beside the subtests.
func (tr *ticketRefresh) watch(ctx context.Context) {
	defer close(tr.done)
	client := &http.Client{Timeout: 30 * time.Second}
	fetch := func(method, url string, body []byte) (int, string, error) {
		req, _ := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if body != nil {
			req.Header.Set("Content-Type", "application/java-archive")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		tr.cap.mu.Lock()
		tr.cap.bodies = append(tr.cap.bodies, string(b))
		tr.cap.mu.Unlock()
		return resp.StatusCode, string(b), nil
	}
	began := time.Now()
	fail := func(format string, args ...any) {
		tr.failures = append(tr.failures, fmt.Sprintf("%v in: ", time.Since(began).Round(time.Second))+fmt.Sprintf(format, args...))
	}
	for time.Since(began) < tr.runFor {
		select {
		case <-ctx.Done():
			fail("stopped early")
			return
		case <-time.After(time.Second):
		}
		tr.polls++
		if status, body, err := fetch(http.MethodGet, tr.r.url+"/readyz", nil); status != 200 {
			fail("readyz = %d %s %v", status, body, err)
		}
		if tr.polls%15 != 0 {
			continue
		}
		data := tr.jars[tr.uploads%len(tr.jars)]
		tr.uploads++
		if status, body, err := fetch(http.MethodPost, tr.r.url+"/v1/jars?name=refresh.jar", data); status != 201 {
			fail("upload = %d %s %v", status, body, err)
		}
		if status, body, err := fetch(http.MethodGet, tr.r.url+"/v1/cluster", nil); status != 200 || !strings.Contains(body, `"reachable":true`) {
			fail("cluster view = %d %s %v", status, body, err)
		}
		if _, metrics, err := fetch(http.MethodGet, tr.r.url+"/metrics", nil); err == nil {
			if v, ok := metricIn(metrics, "yarngate_kerberos_tgt_expiry_timestamp_seconds"); ok {
				tr.expiries[v] = true
			}
			tr.logins, _ = metricIn(metrics, `yarngate_kerberos_exchanges_total{kind="login",result="ok"}`)
		}
	}
}

// metricIn returns the value of the series named exactly series in a text exposition.
func metricIn(exposition, series string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(exposition)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// check waits for the watch to end and reports it: no failed poll, an upload or cluster view every 15 s, and a
// new ticket (login or renewal) before each one expired.
func (tr *ticketRefresh) check(t *testing.T) {
	if tr == nil {
		t.Skip("the cluster's KDC issues long tickets (the shared cluster's); the private one issues short ones")
	}
	select {
	case <-tr.done:
	case <-time.After(tr.runFor + 2*time.Minute):
		t.Fatal("the watch did not end")
	}
	for i, f := range tr.failures {
		if i == 10 {
			t.Errorf("and %d more failures", len(tr.failures)-i)
			break
		}
		t.Error(f)
	}
	// One new ticket per 70 % of a lifetime: the expiry metric must have taken as many values.
	if least := int(tr.runFor / (tr.lifetime * 7 / 10)); len(tr.expiries) < least {
		t.Errorf("%d distinct ticket expiries in %v, want at least %d (a new ticket at 70 %% of each %v one)", len(tr.expiries), tr.runFor, least, tr.lifetime)
	}
	t.Logf("%v (%.2f lifetimes of %v) beside the other subtests: %v logins, %d distinct ticket expiries, %d readiness polls, %d uploads and cluster views, %d failures",
		tr.runFor, float64(tr.runFor)/float64(tr.lifetime), tr.lifetime, tr.logins, len(tr.expiries), tr.polls, tr.uploads, len(tr.failures))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr.c.DeleteHDFS(ctx, tr.cfg.HDFS.StagingRoot)
}

// privateRunDir returns the run directory of c when c is a private cluster this test process started, else "".
func privateRunDir(c *testenv.Cluster) string {
	dir := c.Env["YARNGATE_CLUSTER_RUN_DIR"]
	if !strings.HasPrefix(filepath.Base(dir), "yarngate-private-") { // startPrivateCluster's os.MkdirTemp pattern
		return ""
	}
	return dir
}

// clusterCommand runs testenv/cluster.sh cmd on the private cluster in runDir.
func clusterCommand(t *testing.T, runDir, cmd string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "../testenv/cluster.sh", cmd)
	c.Env = append(os.Environ(), "YARNGATE_RUN_DIR="+runDir)
	began := time.Now()
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("cluster.sh %s: %v\n%s", cmd, err, out)
	}
	return time.Since(began)
}

// writeKrb5Conf writes a copy of the cluster's krb5.conf changed by edit.
func writeKrb5Conf(t *testing.T, c *testenv.Cluster, edit func(string) string) string {
	t.Helper()
	orig, err := os.ReadFile(c.KRB5Conf)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "krb5.conf")
	if err := os.WriteFile(p, []byte(edit(string(orig))), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// badKerberosCredentials starts gateways with credentials that cannot work, on the real cluster, and checks what
// the operator is told: a start-up error naming the key and the file, or a readiness reason (the wrong KDC port,
// an outsider realm the KDC does not serve). Logs and bodies go to cap.
func badKerberosCredentials(t *testing.T, c *testenv.Cluster, cap *capture) {
	kdcPort := c.Env["YARNGATE_KDC"][strings.LastIndex(c.Env["YARNGATE_KDC"], ":")+1:]
	wrongPort := writeKrb5Conf(t, c, func(s string) string { return strings.ReplaceAll(s, ":"+kdcPort, ":"+closedPortString(t)) })
	wrongRealm := writeKrb5Conf(t, c, func(s string) string {
		return strings.Replace(s, "default_realm = "+c.Realm, "default_realm = OTHER.ORG", 1)
	})
	noRealms := writeKrb5Conf(t, c, func(s string) string { return s[:strings.Index(s, "[realms]")] })
	unparsable := writeKrb5Conf(t, c, func(s string) string { return strings.Replace(s, "kdc = localhost", "kdc localhost", 1) })
	// A realm the KDC does not serve, sent to it by krb5.conf, with a keytab for that realm.
	outsider := writeKrb5Conf(t, c, func(s string) string {
		return strings.Replace(s, "[realms]", "[realms]\n    OTHER.ORG = {\n        kdc = localhost:"+kdcPort+"\n    }", 1)
	})
	outsiderKeytab := filepath.Join(t.TempDir(), "other.keytab")
	kt := keytab.New()
	kt.AddEntry(c.User, "OTHER.ORG", "not-a-real-password", time.Now(), 1, etypeID.AES128_CTS_HMAC_SHA1_96)
	if b, err := kt.Marshal(); err != nil || os.WriteFile(outsiderKeytab, b, 0o600) != nil {
		t.Fatalf("outsider keytab: %v", err)
	}
	unreadable := filepath.Join(t.TempDir(), "keytab-dir")
	os.Mkdir(unreadable, 0o700)

	tests := []struct {
		name                        string
		principal, keytab, krb5Conf string
		wantErr                     string // a start-up error with this text ("%k" the keytab, "%c" krb5.conf)
		wantReason                  string // else a readiness reason
		wantLog                     string // and a log line with this text
	}{
		{name: "keytab without the principal", keytab: c.UserKeytab,
			wantErr: "kerberos.keytab: %k holds no key for " + c.Principal + "; it holds keys for alice@" + c.Realm + ", bob@" + c.Realm},
		{name: "no keytab file", keytab: filepath.Join(t.TempDir(), "gone.keytab"), wantErr: "kerberos.keytab: %k does not exist"},
		{name: "keytab path is a directory", keytab: unreadable, wantErr: "kerberos.keytab: %k is a directory, not a keytab file"},
		{name: "krb5.conf does not parse", krb5Conf: unparsable, wantErr: "kerberos.krb5Conf: %c cannot be parsed"},
		{name: "krb5.conf names no KDC for the realm", krb5Conf: noRealms,
			wantErr: "kerberos.krb5Conf: %c names no KDC for the realm " + c.Realm + " and dns_lookup_kdc is off"},
		{name: "krb5.conf of the wrong realm", principal: c.User, krb5Conf: wrongRealm,
			wantErr: "kerberos.krb5Conf: %c names no KDC for the realm OTHER.ORG and dns_lookup_kdc is off ([realms] has " + c.Realm + ";"},
		{name: "wrong KDC port", krb5Conf: wrongPort,
			wantReason: "kerberos: the KDC cannot be reached (it is down or unreachable, or krb5.conf names the wrong host or port)",
			wantLog:    "connection refused"},
		{name: "a realm the KDC does not serve", principal: c.User + "@OTHER.ORG", keytab: outsiderKeytab, krb5Conf: outsider,
			wantReason: "kerberos: the KDC closed the connection without answering (does it serve the principal's realm?)",
			wantLog:    "error reading response size header: EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kerberosConfig(t, c, c.Keytab)
			if tc.principal != "" {
				cfg.Kerberos.Principal = tc.principal
			}
			if tc.keytab != "" {
				cfg.Kerberos.Keytab = tc.keytab
			}
			if tc.krb5Conf != "" {
				cfg.Kerberos.Krb5Conf = tc.krb5Conf
			}
			mark := cap.size()
			if tc.wantErr != "" {
				want := strings.NewReplacer("%k", cfg.Kerberos.Keytab, "%c", cfg.Kerberos.Krb5Conf).Replace(tc.wantErr)
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				err := Run(ctx, Options{Config: cfg, Logger: cap.logger()})
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Run() = %v\nwant a start-up error with %q", err, want)
				} else {
					t.Logf("start-up error: %v", err)
				}
				cap.Write([]byte(fmt.Sprint(err)))
				return
			}
			r := startCaptured(t, cfg, cap)
			status, body := cap.get(t, r.url+"/readyz")
			if status != 503 || !strings.Contains(body, `"field":"kerberos","reason":"`+tc.wantReason) {
				t.Errorf("readyz = %d %s; want 503 with the reason %q", status, body, tc.wantReason)
			} else {
				t.Logf("readyz: %s", body)
			}
			for _, leak := range []string{cfg.Kerberos.Principal, cfg.Kerberos.Keytab, cfg.Kerberos.Krb5Conf, "OTHER.ORG", kdcPort} {
				if strings.Contains(body, leak) {
					t.Errorf("readyz names %q: %s", leak, body)
				}
			}
			cap.mu.Lock()
			logged := cap.log.String()[mark:]
			cap.mu.Unlock()
			if !strings.Contains(logged, tc.wantLog) {
				t.Errorf("the log lacks %q:\n%s", tc.wantLog, logged)
			}
			if i := strings.Index(logged, `"msg":"kerberos login failed"`); i >= 0 {
				line := logged[i:]
				t.Logf("log: %.400s", line[:strings.IndexByte(line+"\n", '\n')])
			}
		})
	}
}

// closedPortString returns a loopback port nothing listens on.
func closedPortString(t *testing.T) string {
	_, port, _ := net.SplitHostPort(unusedAddr(t))
	return port
}

// kdcDownAndBack stops the KDC of the private cluster, starts a gateway, which serves but is not ready and says
// that the KDC cannot be reached, starts the KDC again (same keys) and waits for the same gateway to become ready
// by itself. Logs and bodies go to cap.
func kdcDownAndBack(t *testing.T, c *testenv.Cluster, cap *capture) {
	runDir := privateRunDir(c)
	if runDir == "" {
		t.Skip("stops the KDC: runs on a private Kerberized cluster only, never on the shared one")
	}
	cfg := kerberosConfig(t, c, c.Keytab)
	took := clusterCommand(t, runDir, "kdc-stop")
	t.Logf("KDC stopped in %v", took.Round(time.Millisecond))
	kdcBack := false
	t.Cleanup(func() {
		if !kdcBack {
			clusterCommand(t, runDir, "kdc-start")
		}
	})
	r := startCaptured(t, cfg, cap)
	status, body := cap.get(t, r.url+"/readyz")
	want := `"field":"kerberos","reason":"kerberos: the KDC cannot be reached (it is down or unreachable, or krb5.conf names the wrong host or port)"`
	if status != 503 || !strings.Contains(body, want) {
		t.Errorf("readyz with the KDC down = %d %s; want 503 with %s", status, body, want)
	} else {
		t.Logf("readyz with the KDC down: %d %s", status, body)
	}
	if status, body := cap.get(t, r.url+"/healthz"); status != 200 {
		t.Errorf("healthz with the KDC down = %d %s; the gateway must stay live", status, body)
	}
	took = clusterCommand(t, runDir, "kdc-start")
	kdcBack = true
	back := time.Now()
	t.Logf("KDC started again in %v", took.Round(time.Millisecond))
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		status, body = cap.get(t, r.url+"/readyz")
		if status == 200 || time.Now().After(deadline) {
			break
		}
	}
	if status != 200 {
		t.Fatalf("readyz 2 minutes after the KDC came back = %d %s", status, body)
	}
	t.Logf("ready again %v after the KDC answered, without a restart", time.Since(back).Round(time.Millisecond))
	if status, _ := cap.upload(t, r.url, 77); status != 201 {
		t.Errorf("upload after the KDC came back = %d", status)
	}
	if status, body := cap.get(t, r.url+"/v1/cluster"); status != 200 || !strings.Contains(body, `"reachable":true`) {
		t.Errorf("cluster view after the KDC came back = %d %s", status, body)
	}
	_, metrics := cap.get(t, r.url+"/metrics")
	failed, _ := metricIn(metrics, `yarngate_kerberos_exchanges_total{kind="login",result="error"}`)
	ok, _ := metricIn(metrics, `yarngate_kerberos_exchanges_total{kind="login",result="ok"}`)
	if failed < 1 || ok < 1 {
		t.Errorf("logins: %v failed, %v ok; want both", failed, ok)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
	defer cancel()
	c.DeleteHDFS(ctx, cfg.HDFS.StagingRoot)
}
