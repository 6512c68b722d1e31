package client

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
)

// newKeytab returns a keytab holding principal@EXAMPLE.COM's AES128 key derived from password.
func newKeytab(t *testing.T, principal, password string) *keytab.Keytab {
	t.Helper()
	kt := keytab.New()
	if err := kt.AddEntry(principal, "EXAMPLE.COM", password, time.Now(), 1, etypeID.AES128_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	return kt
}

// ccacheWriter writes an MIT credentials cache, version 4 (the format kinit writes and gokrb5 reads).
type ccacheWriter struct{ bytes.Buffer }

func (w *ccacheWriter) u16(v int)        { binary.Write(w, binary.BigEndian, uint16(v)) }
func (w *ccacheWriter) u32(v int)        { binary.Write(w, binary.BigEndian, uint32(v)) }
func (w *ccacheWriter) data(b []byte)    { w.u32(len(b)); w.Write(b) }
func (w *ccacheWriter) time(t time.Time) { w.u32(int(t.Unix())) }
func (w *ccacheWriter) principal(p types.PrincipalName) {
	w.u32(int(p.NameType))
	w.u32(len(p.NameString))
	w.data([]byte("EXAMPLE.COM"))
	for _, c := range p.NameString {
		w.data([]byte(c))
	}
}

// credential appends a ticket of client for server, encrypted with kt, and its session key.
func (w *ccacheWriter) credential(t *testing.T, client, server types.PrincipalName, kt *keytab.Keytab, start, end time.Time) {
	t.Helper()
	tkt, key, err := messages.NewTicket(client, "EXAMPLE.COM", server, "EXAMPLE.COM", types.NewKrbFlags(), kt,
		etypeID.AES128_CTS_HMAC_SHA1_96, 1, start, start, end, end)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tkt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	w.principal(client)
	w.principal(server)
	w.u16(int(key.KeyType))
	w.data(key.KeyValue)
	w.time(start)
	w.time(start)
	w.time(end)
	w.time(end)
	w.WriteByte(0) // not a user-to-user ticket
	w.u32(0)       // flags
	w.u32(0)       // addresses
	w.u32(0)       // authorization data
	w.data(raw)
	w.data(nil) // second ticket
}

// writeCCache writes a ticket cache of alice@EXAMPLE.COM holding a TGT and a service ticket to HTTP/localhost
// encrypted with serviceKT, as kinit and a first request to the gateway would leave it, valid until end.
func writeCCache(t *testing.T, serviceKT *keytab.Keytab, end time.Time) string {
	t.Helper()
	alice := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")
	w := &ccacheWriter{}
	w.Write([]byte{5, 4}) // version 4
	w.u16(0)              // no header fields
	w.principal(alice)
	start := time.Now().Add(-time.Minute)
	w.credential(t, alice, types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/EXAMPLE.COM"),
		newKeytab(t, "krbtgt/EXAMPLE.COM", "kdc-key"), start, end)
	w.credential(t, alice, types.NewPrincipalName(nametype.KRB_NT_SRV_HST, "HTTP/localhost"), serviceKT, start, end)
	path := filepath.Join(t.TempDir(), "krb5cc")
	if err := os.WriteFile(path, w.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// spnegoGateway is an httptest server that authenticates as the gateway does (authn, SPNEGO with the
// HTTP/localhost keytab and the session cookie) and answers GET /v1/jobs/{id} with a job owned by the
// caller. It records the Authorization scheme of every request.
func spnegoGateway(t *testing.T, serviceKT *keytab.Keytab) (*httptest.Server, func() []string) {
	t.Helper()
	b, err := serviceKT.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ktPath := filepath.Join(t.TempDir(), "http.keytab")
	os.WriteFile(ktPath, b, 0o600)
	a, err := authn.New(authn.Options{
		Kerberos: &authn.KerberosOptions{Keytab: ktPath, Principal: "HTTP/localhost"},
		Rules:    authn.DefaultRules("EXAMPLE.COM"),
		Cookie:   authn.CookieOptions{Lifetime: time.Hour},
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var schemes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if _, err := r.Cookie(authCookie); scheme == "" && err == nil {
			scheme = "cookie"
		}
		mu.Lock()
		schemes = append(schemes, scheme)
		mu.Unlock()
		p, err := a.Authenticate(w, r)
		if err != nil {
			writeJSON(w, 401, api.ErrorBody{Error: api.Error{Code: api.CodeUnauthenticated, Message: "authentication required"}})
			return
		}
		writeJSON(w, 200, api.Job{ID: strings.TrimPrefix(r.URL.Path, "/v1/jobs/"), Owner: p.User, SubmittedBy: p.Name})
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), schemes...)
	}
}

// TestKerberosFromTicketCache authenticates against the gateway's own SPNEGO acceptor (package authn) with the
// service ticket in a credentials cache, as kinit leaves it: no KDC is asked, since the ticket is cached.
func TestKerberosFromTicketCache(t *testing.T) {
	serviceKT := newKeytab(t, "HTTP/localhost", "service-key")
	krb5Conf := filepath.Join(t.TempDir(), "krb5.conf")
	os.WriteFile(krb5Conf, []byte("[libdefaults]\n default_realm = EXAMPLE.COM\n dns_lookup_kdc = false\n"+
		"[realms]\n EXAMPLE.COM = {\n  kdc = 127.0.0.1:1\n }\n"), 0o600)
	tests := []struct {
		name        string
		eager       bool
		ccacheKT    *keytab.Keytab
		end         time.Duration
		wantOK      bool
		wantSchemes []string
	}{
		{name: "lazy: challenged, then negotiated, then the cookie", ccacheKT: serviceKT, end: time.Hour, wantOK: true,
			wantSchemes: []string{"", "Negotiate", "cookie"}},
		{name: "eager: negotiated at once, then the cookie", eager: true, ccacheKT: serviceKT, end: time.Hour, wantOK: true,
			wantSchemes: []string{"Negotiate", "cookie"}},
		{name: "a ticket under another key is refused", ccacheKT: newKeytab(t, "HTTP/localhost", "other"), end: time.Hour,
			wantSchemes: []string{"", "Negotiate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, schemes := spnegoGateway(t, serviceKT)
			cc := writeCCache(t, tc.ccacheKT, time.Now().Add(tc.end))
			// The loopback address is asked for as HTTP/localhost, the gateway's principal in tests.
			c, err := New(Options{Addr: srv.URL, Kerberos: &KerberosOptions{CCache: cc, Krb5Conf: krb5Conf, Eager: tc.eager}})
			if err != nil {
				t.Fatal(err)
			}
			j, err := c.GetJob(t.Context(), "j1")
			if !tc.wantOK {
				if !IsCode(err, api.CodeUnauthenticated) {
					t.Errorf("GetJob = %+v, %v; want unauthenticated", j, err)
				}
				if got := schemes(); strings.Join(got, ",") != strings.Join(tc.wantSchemes, ",") {
					t.Errorf("schemes %q, want %q", got, tc.wantSchemes)
				}
				return
			}
			if err != nil || j.Owner != "alice" || j.SubmittedBy != "alice@EXAMPLE.COM" {
				t.Fatalf("GetJob = %+v, %v", j, err)
			}
			if _, err := c.GetJob(t.Context(), "j2"); err != nil {
				t.Fatal(err)
			}
			if got := schemes(); strings.Join(got, ",") != strings.Join(tc.wantSchemes, ",") {
				t.Errorf("schemes %q, want %q", got, tc.wantSchemes)
			}
		})
	}
}

// TestKerberosExpiredTicketCache: with an expired ticket (and no KDC to ask), the command fails with a
// Kerberos error instead of sending the request unauthenticated.
func TestKerberosExpiredTicketCache(t *testing.T) {
	serviceKT := newKeytab(t, "HTTP/localhost", "service-key")
	krb5Conf := filepath.Join(t.TempDir(), "krb5.conf")
	os.WriteFile(krb5Conf, []byte("[libdefaults]\n default_realm = EXAMPLE.COM\n udp_preference_limit = 1\n"+
		"[realms]\n EXAMPLE.COM = {\n  kdc = 127.0.0.1:1\n }\n"), 0o600)
	srv, _ := spnegoGateway(t, serviceKT)
	cc := writeCCache(t, serviceKT, time.Now().Add(-time.Second))
	c, err := New(Options{Addr: srv.URL, Kerberos: &KerberosOptions{CCache: cc, Krb5Conf: krb5Conf, Eager: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetJob(t.Context(), "j1"); err == nil || !strings.Contains(err.Error(), "kerberos") {
		t.Errorf("GetJob with an expired ticket = %v, want a Kerberos error", err)
	}
}
