package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/testenv"
)

// spnegoAuthConfig is kerberosConfig with the gateway's own SPNEGO authentication on, as `make run` has it from
// cluster.env (YARNGATE_AUTH_*); a cluster started by an older cluster.sh has no http.keytab, and its service
// keytab (which holds HTTP/localhost) serves.
func spnegoAuthConfig(t *testing.T, c *testenv.Cluster) config.Config {
	t.Helper()
	cfg := kerberosConfig(t, c, c.Keytab)
	cfg.Auth.Methods = []string{config.AuthKerberos}
	cfg.Auth.Kerberos.Keytab = c.Env["YARNGATE_AUTH_KEYTAB"]
	if cfg.Auth.Kerberos.Keytab == "" {
		cfg.Auth.Kerberos.Keytab = filepath.Join(filepath.Dir(c.Keytab), "service.keytab")
	}
	cfg.Auth.Kerberos.Principal = c.Env["YARNGATE_AUTH_PRINCIPAL"]
	if cfg.Auth.Kerberos.Principal == "" {
		cfg.Auth.Kerberos.Principal = "HTTP/localhost@" + c.Realm
	}
	cfg.Auth.Groups = map[string][]string{"alice": {"etl"}}
	return cfg
}

// spnegoAuthentication proves the gateway's SPNEGO authentication with MIT Kerberos clients: curl --negotiate as
// alice (kinit from her keytab) is served and logged as alice; a caller without credentials gets 401 with a
// Negotiate challenge; the session cookie of the first answer authenticates a second request without any
// Authorization header.
func spnegoAuthentication(t *testing.T, c *testenv.Cluster) {
	logs := &lockedBuffer{}
	r := startLogged(t, spnegoAuthConfig(t, c), logs)
	url := strings.Replace(r.url, "127.0.0.1", "localhost", 1) // curl asks for a ticket to HTTP/<host of the URL>
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	alice, err := c.Kinit(ctx, t.TempDir(), c.UserLogin("alice"))
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	curl := alice.HTTPClient()
	curl.Jar = jar
	began := time.Now()
	status, header, body := authCall(ctx, t, curl, url+"/v1/jars", nil)
	negotiated := time.Since(began)
	if status != 200 {
		t.Fatalf("GET /v1/jars as alice (curl --negotiate) = %d %s", status, body)
	}
	if !strings.Contains(logs.String(), "user=alice authMethod=kerberos") {
		t.Errorf("the access log does not name alice:\n%s", logs.String())
	}
	var cookie string
	for _, ck := range jar.Cookies(mustURL(t, url)) {
		if ck.Name == authn.CookieName {
			cookie = ck.Value
		}
	}
	if cookie == "" || !strings.HasPrefix(header.Get("WWW-Authenticate"), "Negotiate ") {
		t.Fatalf("no session cookie (%q) or final Negotiate token (%q) after SPNEGO", header.Values("Set-Cookie"), header.Get("WWW-Authenticate"))
	}

	status, header, body = authCall(ctx, t, http.DefaultClient, url+"/v1/jars", nil)
	var e api.ErrorBody
	json.Unmarshal([]byte(body), &e)
	if status != 401 || e.Error.Code != api.CodeUnauthenticated || header.Get("WWW-Authenticate") != "Negotiate" {
		t.Errorf("anonymous GET /v1/jars = %d %q %s", status, header.Get("WWW-Authenticate"), body)
	}
	if status, _, _ := authCall(ctx, t, http.DefaultClient, url+"/healthz", nil); status != 200 {
		t.Errorf("anonymous /healthz = %d", status)
	}

	before := strings.Count(logs.String(), "user=alice")
	began = time.Now()
	status, _, body = authCall(ctx, t, http.DefaultClient, url+"/v1/jars", http.Header{"Cookie": {authn.CookieName + "=" + cookie}})
	withCookie := time.Since(began)
	if status != 200 || strings.Count(logs.String(), "user=alice") != before+1 {
		t.Errorf("GET /v1/jars with the cookie only = %d %s", status, body)
	}
	status, _, _ = authCall(ctx, t, curl, url+"/v1/jars", nil) // curl again: the jar's cookie, no new negotiation
	if status != 200 {
		t.Errorf("second curl request = %d", status)
	}
	forged := cookie[:len(cookie)-2] + "AA"
	if status, _, _ := authCall(ctx, t, http.DefaultClient, url+"/v1/jars", http.Header{"Cookie": {authn.CookieName + "=" + forged}}); status != 401 {
		t.Errorf("a forged cookie = %d, want 401", status)
	}
	t.Logf("SPNEGO request (curl, kinit ticket) %v; cookie request (Go client) %v", negotiated.Round(time.Millisecond), withCookie.Round(time.Microsecond))
}

func authCall(ctx context.Context, t *testing.T, client *http.Client, url string, h http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func mustURL(t *testing.T, raw string) *neturl.URL {
	t.Helper()
	u, err := neturl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
