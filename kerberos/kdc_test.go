package kerberos

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/krberror"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func writeKeytab(t *testing.T, dir string, principals ...string) string {
	t.Helper()
	kt := keytab.New()
	for _, p := range principals {
		if err := kt.AddEntry(p, "EXAMPLE.COM", "not-a-real-password", time.Now(), 1, etypeID.AES128_CTS_HMAC_SHA1_96); err != nil {
			t.Fatal(err)
		}
	}
	data, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "test.keytab")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGokrb5LoginFailures runs the real login path up to the KDC and checks the reason of each failure.
func TestGokrb5LoginFailures(t *testing.T) {
	dir := t.TempDir()
	krb5 := filepath.Join(dir, "krb5.conf")
	conf := fmt.Sprintf(`[libdefaults]
  default_realm = EXAMPLE.COM
  dns_lookup_kdc = false
  udp_preference_limit = 1
[realms]
  EXAMPLE.COM = {
    kdc = 127.0.0.1:%d
  }
`, closedPort(t))
	if err := os.WriteFile(krb5, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	good := writeKeytab(t, dir, "yarngate")
	others := writeKeytab(t, t.TempDir(), "alice", "bob")
	garbage := filepath.Join(dir, "garbage.keytab")
	os.WriteFile(garbage, []byte("not a keytab"), 0o600)
	tests := []struct {
		name             string
		principal        string
		keytab, krb5Conf string
		wantReason       string
	}{
		{name: "no krb5.conf", principal: "yarngate", keytab: good, krb5Conf: filepath.Join(dir, "missing.conf"), wantReason: "krb5.conf does not exist"},
		{name: "no keytab", principal: "yarngate", keytab: filepath.Join(dir, "missing.keytab"), krb5Conf: krb5, wantReason: "the keytab file does not exist"},
		{name: "not a keytab", principal: "yarngate", keytab: garbage, krb5Conf: krb5, wantReason: "the keytab cannot be parsed"},
		{name: "keytab of other principals", principal: "yarngate@EXAMPLE.COM", keytab: others, krb5Conf: krb5, wantReason: "the keytab holds no key for the configured principal"},
		{name: "realm not in the keytab", principal: "yarngate@OTHER.ORG", keytab: good, krb5Conf: krb5, wantReason: "the keytab holds no key for the configured principal"},
		{name: "KDC down", principal: "yarngate", keytab: good, krb5Conf: krb5, wantReason: "no KDC of the realm answered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := &gokrb5KDC{principal: tc.principal, keytab: tc.keytab, krb5Conf: tc.krb5Conf}
			_, err := k.login()
			le, ok := err.(*LoginError)
			if !ok {
				t.Fatalf("login() error %v (%T), want a *LoginError", err, err)
			}
			if le.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q (cause %v)", le.Reason, tc.wantReason, le.Err)
			}
		})
	}
}

func TestExchangeErrorReasons(t *testing.T) {
	kdcSays := func(code int32) error {
		return krberror.Errorf(messages.KRBError{ErrorCode: code}, krberror.KDCError, "AS Exchange Error: kerberos error response from KDC")
	}
	tests := []struct {
		err  error
		want string
	}{
		{kdcSays(24), "the KDC rejected the keytab's key (an outdated key version, or the principal's key changed)"},
		{kdcSays(6), "the KDC does not know the principal"},
		{kdcSays(37), "the clocks of the gateway and the KDC differ too much"},
		{kdcSays(61), "the KDC refused the login (Kerberos error 61)"},
		{krberror.Errorf(fmt.Errorf("dial tcp: refused"), krberror.NetworkingError, "sending"), "no KDC of the realm answered"},
		{krberror.Errorf(fmt.Errorf("checksum"), krberror.KRBMsgError, "AS_REP is not valid"), "the KDC's answer does not decrypt with the keytab's key (an outdated keytab?)"},
		{fmt.Errorf("something else"), "the login failed"},
	}
	for _, tc := range tests {
		if got := exchangeError("login", tc.err).Reason; got != tc.want {
			t.Errorf("exchangeError(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestNewTicketClient: the consumers' client holds the ticket as a session of the principal's realm.
func TestNewTicketClient(t *testing.T) {
	conf, err := krbconfig.NewFromString(`[libdefaults]
  default_realm = EXAMPLE.COM
[realms]
  EXAMPLE.COM = {
    kdc = localhost:88
  }
`)
	if err != nil {
		t.Fatal(err)
	}
	cname := types.PrincipalName{NameType: nametype.KRB_NT_PRINCIPAL, NameString: []string{"yarngate"}}
	tgt := messages.Ticket{TktVNO: 5, Realm: "EXAMPLE.COM",
		SName:   types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", "EXAMPLE.COM"}},
		EncPart: types.EncryptedData{EType: 17, KVNO: 1, Cipher: []byte("opaque")}}
	now := time.Now().UTC().Truncate(time.Second)
	tk, err := newTicket(&renewal{conf: conf, cname: cname, realm: "EXAMPLE.COM", tgt: tgt,
		sessionKey: types.EncryptionKey{KeyType: 17, KeyValue: make([]byte, 16)}, authTime: now},
		now, now.Add(time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if u := tk.client.Credentials.UserName(); u != "yarngate" {
		t.Errorf("client user %q, want yarngate", u)
	}
	if ok, err := tk.client.IsConfigured(); !ok {
		t.Errorf("client not configured: %v", err)
	}
	var diag strings.Builder
	tk.client.Print(&diag)
	if !strings.Contains(diag.String(), `"Realm": "EXAMPLE.COM"`) {
		t.Errorf("client holds no session for EXAMPLE.COM:\n%s", diag.String())
	}
}
