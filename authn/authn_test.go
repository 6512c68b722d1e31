package authn

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func request(header string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/jobs", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	return r
}

// --- SPNEGO ---------------------------------------------------------------------------------------------

// serviceKeytab writes a keytab holding HTTP/localhost@EXAMPLE.COM under password.
func serviceKeytab(t *testing.T, password string) (string, *keytab.Keytab) {
	t.Helper()
	kt := keytab.New()
	if err := kt.AddEntry("HTTP/localhost", "EXAMPLE.COM", password, time.Now(), 1, etypeID.AES128_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "http.keytab")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, kt
}

// negotiateHeader returns "Negotiate <token>": an SPNEGO NegTokenInit with an AP-REQ of user@EXAMPLE.COM
// for a ticket to HTTP/localhost, encrypted with kt's key, as a KDC would issue it.
func negotiateHeader(t *testing.T, kt *keytab.Keytab, user string, end time.Time) string {
	t.Helper()
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, user)
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_HST, "HTTP/localhost")
	now := time.Now()
	tkt, key, err := messages.NewTicket(cname, "EXAMPLE.COM", sname, "EXAMPLE.COM", types.NewKrbFlags(), kt,
		etypeID.AES128_CTS_HMAC_SHA1_96, 1, now, now, end, end)
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewWithPassword(user, "EXAMPLE.COM", "unused", krbconfig.New())
	init, err := spnego.NewNegTokenInitKRB5(cl, tkt, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := (&spnego.SPNEGOToken{Init: true, NegTokenInit: init}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return "Negotiate " + base64.StdEncoding.EncodeToString(b)
}

func TestSPNEGO(t *testing.T) {
	path, kt := serviceKeytab(t, "service-key")
	_, otherKT := serviceKeytab(t, "another-key")
	clk := &clock{now: time.Now()}
	rules, err := ParseRules("RULE:[1:$1@$0](carol@EXAMPLE\\.COM)s/.*/guest/\nDEFAULT", "EXAMPLE.COM")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{
		Kerberos: &KerberosOptions{Keytab: path, Principal: "HTTP/localhost@EXAMPLE.COM"},
		Rules:    rules, Groups: map[string][]string{"alice": {"etl"}},
		Cookie: CookieOptions{Lifetime: time.Hour}, Logger: discard, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, header string
		wantUser     string
		wantGroups   []string
		wantName     string
	}{
		{name: "alice", header: negotiateHeader(t, kt, "alice", time.Now().Add(time.Hour)), wantUser: "alice", wantGroups: []string{"etl"}, wantName: "alice@EXAMPLE.COM"},
		{name: "mapped by a rule", header: negotiateHeader(t, kt, "carol", time.Now().Add(time.Hour)), wantUser: "guest", wantName: "carol@EXAMPLE.COM"},
		{name: "no credentials", header: ""},
		{name: "another key", header: negotiateHeader(t, otherKT, "alice", time.Now().Add(time.Hour))},
		{name: "expired ticket", header: negotiateHeader(t, kt, "alice", time.Now().Add(-time.Hour))},
		{name: "not base64", header: "Negotiate %%%"},
		{name: "not a token", header: "Negotiate " + base64.StdEncoding.EncodeToString([]byte("hello"))},
		{name: "basic", header: "Basic YWxpY2U6eA=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			p, err := a.Authenticate(w, request(tt.header))
			if tt.wantUser == "" {
				if !errors.Is(err, ErrUnauthenticated) {
					t.Fatalf("Authenticate = %+v, %v; want ErrUnauthenticated", p, err)
				}
				if got := w.Header().Values("WWW-Authenticate"); !slices.Equal(got, []string{"Negotiate"}) {
					t.Errorf("challenges %q, want Negotiate", got)
				}
				if len(w.Result().Cookies()) != 0 {
					t.Error("a cookie without authentication")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Principal{Name: tt.wantName, User: tt.wantUser, Groups: tt.wantGroups, Method: MethodKerberos}
			if p.Name != want.Name || p.User != want.User || !slices.Equal(p.Groups, want.Groups) || p.Method != want.Method {
				t.Fatalf("principal %+v, want %+v", p, want)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != "Negotiate "+negotiateAcceptCompleted {
				t.Errorf("WWW-Authenticate %q", got)
			}
		})
	}

	t.Run("session cookie", func(t *testing.T) {
		w := httptest.NewRecorder()
		if _, err := a.Authenticate(w, request(negotiateHeader(t, kt, "alice", time.Now().Add(time.Hour)))); err != nil {
			t.Fatal(err)
		}
		cookies := w.Result().Cookies()
		if len(cookies) != 1 || cookies[0].Name != CookieName || !cookies[0].HttpOnly {
			t.Fatalf("cookies %+v", cookies)
		}
		withCookie := func(v string) *http.Request {
			r := request("")
			r.AddCookie(&http.Cookie{Name: CookieName, Value: v})
			return r
		}
		p, err := a.Authenticate(httptest.NewRecorder(), withCookie(cookies[0].Value))
		if err != nil || p.User != "alice" || p.Name != "alice@EXAMPLE.COM" || !p.InGroup("etl") || p.Method != MethodKerberos {
			t.Fatalf("with the cookie: %+v, %v", p, err)
		}
		payload, sig, _ := strings.Cut(cookies[0].Value, ".")
		forged, _ := json.Marshal(cookiePayload{Name: "root@EXAMPLE.COM", User: "root", Method: MethodKerberos, Expires: clk.Now().Add(time.Hour).Unix()})
		for name, v := range map[string]string{
			"forged payload": base64.RawURLEncoding.EncodeToString(forged) + "." + sig,
			"no signature":   payload,
			"garbage":        "x.y",
		} {
			if _, err := a.Authenticate(httptest.NewRecorder(), withCookie(v)); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("%s: %v, want ErrUnauthenticated", name, err)
			}
		}
		clk.Add(time.Hour + time.Second)
		if _, err := a.Authenticate(httptest.NewRecorder(), withCookie(cookies[0].Value)); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("expired cookie: %v, want ErrUnauthenticated", err)
		}
	})

	t.Run("cookie ends with the ticket", func(t *testing.T) {
		end := time.Now().Add(10 * time.Minute)
		w := httptest.NewRecorder()
		if _, err := a.Authenticate(w, request(negotiateHeader(t, kt, "alice", end))); err != nil {
			t.Fatal(err)
		}
		if c := w.Result().Cookies(); len(c) != 1 || c[0].Expires.After(end) || c[0].Expires.Before(end.Add(-2*time.Second)) {
			t.Fatalf("cookie %+v, want it to expire with the ticket at %v", c, end)
		}
	})

	t.Run("keytab without the principal", func(t *testing.T) {
		_, err := New(Options{Kerberos: &KerberosOptions{Keytab: path, Principal: "HTTP/elsewhere"}, Logger: discard})
		if err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("short cookie secret", func(t *testing.T) {
		_, err := New(Options{Kerberos: &KerberosOptions{Keytab: path, Principal: "HTTP/localhost"}, Logger: discard,
			Cookie: CookieOptions{Secret: []byte("short")}})
		if err == nil {
			t.Fatal("accepted")
		}
	})
}

// --- static tokens -------------------------------------------------------------------------------------

func sum(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStaticTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	writeFile(t, path, "tokens:\n"+
		"  - sha256: "+sum("airflow-secret")+"\n    principal: airflow\n    groups: [etl, schedulers]\n"+
		"  - sha256: "+strings.ToUpper(sum("bob-secret"))+"\n    principal: bob@EXAMPLE.COM\n")
	tokens, err := LoadStaticTokens(path, discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Tokens: tokens, Rules: DefaultRules("EXAMPLE.COM"), Groups: map[string][]string{"bob": {"analysts"}}, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, header string
		want         *Principal
	}{
		{name: "token with groups", header: "Bearer airflow-secret", want: &Principal{Name: "airflow", User: "airflow", Groups: []string{"etl", "schedulers"}, Method: MethodToken}},
		{name: "groups from the mapping", header: "bearer bob-secret", want: &Principal{Name: "bob@EXAMPLE.COM", User: "bob", Groups: []string{"analysts"}, Method: MethodToken}},
		{name: "unknown token", header: "Bearer nope"},
		{name: "empty token", header: "Bearer "},
		{name: "no credentials", header: ""},
		{name: "negotiate not configured", header: "Negotiate YWJj"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			p, err := a.Authenticate(w, request(tt.header))
			if tt.want == nil {
				if !errors.Is(err, ErrUnauthenticated) {
					t.Fatalf("Authenticate = %+v, %v; want ErrUnauthenticated", p, err)
				}
				if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="yarngate"`) {
					t.Errorf("challenge %q", got)
				}
				return
			}
			if err != nil || p.Name != tt.want.Name || p.User != tt.want.User || !slices.Equal(p.Groups, tt.want.Groups) || p.Method != tt.want.Method {
				t.Fatalf("Authenticate = %+v, %v; want %+v", p, err, *tt.want)
			}
		})
	}

	t.Run("reload", func(t *testing.T) {
		writeFile(t, path, "tokens:\n  - sha256: "+sum("new-secret")+"\n    principal: carol\n")
		future := time.Now().Add(time.Minute)
		os.Chtimes(path, future, future)
		tokens.mu.Lock()
		tokens.checked = time.Time{} // as if the check interval had passed
		tokens.mu.Unlock()
		if p, err := a.Authenticate(httptest.NewRecorder(), request("Bearer new-secret")); err != nil || p.User != "carol" {
			t.Fatalf("new token: %+v, %v", p, err)
		}
		if _, err := a.Authenticate(httptest.NewRecorder(), request("Bearer airflow-secret")); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("removed token: %v", err)
		}
		writeFile(t, path, "tokens: [ {sha256: nothex, principal: x} ]\n")
		later := future.Add(time.Minute)
		os.Chtimes(path, later, later)
		tokens.mu.Lock()
		tokens.checked = time.Time{}
		tokens.mu.Unlock()
		if p, err := a.Authenticate(httptest.NewRecorder(), request("Bearer new-secret")); err != nil || p.User != "carol" {
			t.Fatalf("after an invalid file the tokens read before stay: %+v, %v", p, err)
		}
	})

	t.Run("invalid files", func(t *testing.T) {
		for name, content := range map[string]string{
			"bad hash":     "tokens: [{sha256: abc, principal: x}]",
			"no principal": "tokens: [{sha256: " + sum("a") + "}]",
			"duplicate":    "tokens: [{sha256: " + sum("a") + ", principal: x}, {sha256: " + sum("a") + ", principal: y}]",
			"unknown key":  "tokens: [{sha256: " + sum("a") + ", principal: x, token: a}]",
		} {
			p := filepath.Join(t.TempDir(), "t.yaml")
			writeFile(t, p, content)
			if _, err := LoadStaticTokens(p, discard); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		p := filepath.Join(t.TempDir(), "t.json")
		writeFile(t, p, `{"tokens": [{"sha256": "`+sum("j")+`", "principal": "json"}]}`)
		if s, err := LoadStaticTokens(p, discard); err != nil || s.Len() != 1 {
			t.Errorf("JSON file: %v", err)
		}
	})
}

// --- JWT ----------------------------------------------------------------------------------------------

// issuer is a local OIDC issuer: discovery document and JWKS over httptest.
type issuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/keys",
			"authorization_endpoint": is.srv.URL + "/auth", "token_endpoint": is.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// sign returns a JWT with claims, signed with key (the issuer's when nil) under key id k1.
func (is *issuer) sign(t *testing.T, claims map[string]any, key *rsa.PrivateKey) string {
	t.Helper()
	if key == nil {
		key = is.key
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestJWT(t *testing.T) {
	is := newIssuer(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	v, err := NewJWTVerifier(OIDCOptions{Issuer: is.srv.URL, Audience: "yarngate", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{OIDC: v, Groups: map[string][]string{"bob": {"mapped"}}, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": is.srv.URL, "aud": "yarngate", "sub": "alice", "groups": []string{"etl", "ops"},
			"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	b64 := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	algNone := b64(map[string]string{"alg": "none", "typ": "JWT", "kid": "k1"}) + "." + b64(claims(nil)) + "."
	valid := is.sign(t, claims(nil), nil)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64(claims(func(c map[string]any) { c["sub"] = "root" })) + "." + parts[2]

	tests := []struct {
		name  string
		token string
		want  *Principal
	}{
		{name: "valid", token: valid, want: &Principal{Name: "alice", User: "alice", Groups: []string{"etl", "ops"}, Method: MethodJWT}},
		{name: "groups from the mapping", token: is.sign(t, claims(func(c map[string]any) { c["sub"] = "bob"; delete(c, "groups") }), nil),
			want: &Principal{Name: "bob", User: "bob", Groups: []string{"mapped"}, Method: MethodJWT}},
		{name: "audience in a list", token: is.sign(t, claims(func(c map[string]any) { c["aud"] = []string{"other", "yarngate"} }), nil),
			want: &Principal{Name: "alice", User: "alice", Groups: []string{"etl", "ops"}, Method: MethodJWT}},
		{name: "expired", token: is.sign(t, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), nil)},
		{name: "wrong audience", token: is.sign(t, claims(func(c map[string]any) { c["aud"] = "someone-else" }), nil)},
		{name: "wrong issuer", token: is.sign(t, claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), nil)},
		{name: "wrong signature", token: is.sign(t, claims(nil), other)},
		{name: "tampered payload", token: tampered},
		{name: "alg none", token: algNone},
		{name: "no subject", token: is.sign(t, claims(func(c map[string]any) { delete(c, "sub") }), nil)},
		{name: "not a JWT", token: "a.b.c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			p, err := a.Authenticate(w, request("Bearer "+tt.token))
			if tt.want == nil {
				if !errors.Is(err, ErrUnauthenticated) {
					t.Fatalf("Authenticate = %+v, %v; want ErrUnauthenticated", p, err)
				}
				if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="yarngate", error="invalid_token"` {
					t.Errorf("challenge %q", got)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil || p.Name != tt.want.Name || p.User != tt.want.User || !slices.Equal(p.Groups, tt.want.Groups) || p.Method != tt.want.Method {
				t.Fatalf("Authenticate = %+v, %v; want %+v", p, err, *tt.want)
			}
		})
	}

	t.Run("issuer down", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		v, _ := NewJWTVerifier(OIDCOptions{Issuer: dead.URL, Audience: "yarngate"})
		a, _ := New(Options{OIDC: v, Logger: discard})
		if _, err := a.Authenticate(httptest.NewRecorder(), request("Bearer "+valid)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
}

// --- both, none ---------------------------------------------------------------------------------------

func TestMethods(t *testing.T) {
	path, kt := serviceKeytab(t, "k")
	tokPath := filepath.Join(t.TempDir(), "tokens.yaml")
	writeFile(t, tokPath, "tokens: [{sha256: "+sum("s3cret")+", principal: airflow}]")
	tokens, err := LoadStaticTokens(tokPath, discard)
	if err != nil {
		t.Fatal(err)
	}
	both, err := New(Options{Kerberos: &KerberosOptions{Keytab: path, Principal: "HTTP/localhost"}, Tokens: tokens,
		Rules: DefaultRules("EXAMPLE.COM"), Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if _, err := both.Authenticate(w, request("")); !errors.Is(err, ErrUnauthenticated) {
		t.Fatal(err)
	}
	if got := w.Header().Values("WWW-Authenticate"); !slices.Equal(got, []string{"Negotiate", `Bearer realm="yarngate"`}) {
		t.Errorf("challenges %q", got)
	}
	for header, user := range map[string]string{"Bearer s3cret": "airflow", negotiateHeader(t, kt, "alice", time.Now().Add(time.Hour)): "alice"} {
		if p, err := both.Authenticate(httptest.NewRecorder(), request(header)); err != nil || p.User != user {
			t.Errorf("%s…: %+v, %v", header[:10], p, err)
		}
	}
	if got := both.Methods(); !slices.Equal(got, []Method{MethodKerberos, MethodToken}) {
		t.Errorf("Methods() = %v", got)
	}

	none, err := New(Options{NoneUser: "yarngate", Groups: map[string][]string{"yarngate": {"admins"}}, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	p, err := none.Authenticate(httptest.NewRecorder(), request("Bearer whatever"))
	if err != nil || p.User != "yarngate" || p.Method != MethodNone || !p.InGroup("admins") {
		t.Errorf("none: %+v, %v", p, err)
	}
	if _, err := New(Options{NoneUser: "x", Tokens: tokens, Logger: discard}); err == nil {
		t.Error("none with tokens accepted")
	}
	if _, err := New(Options{Logger: discard}); err == nil {
		t.Error("no method accepted")
	}
}
