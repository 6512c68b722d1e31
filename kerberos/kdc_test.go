package kerberos

import (
	"errors"
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

// TestGokrb5LoginFailures runs the real login path up to the KDC: Check and a login find the same problems in
// krb5.conf and the keytab; Check names the setting and says what is wrong for the operator, the login gives
// the client-safe reason; a KDC that does not answer is for the login alone.
func TestGokrb5LoginFailures(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	realm := func(name string, port int) string {
		return fmt.Sprintf("  %s = {\n    kdc = 127.0.0.1:%d\n  }\n", name, port)
	}
	port := closedPort(t)
	krb5 := write("krb5.conf", "[libdefaults]\n  default_realm = EXAMPLE.COM\n  udp_preference_limit = 1\n[realms]\n"+realm("EXAMPLE.COM", port))
	otherDefault := write("other-default.conf", "[libdefaults]\n  default_realm = OTHER.ORG\n[realms]\n"+realm("OTHER.ORG", port)+realm("EXAMPLE.COM", port))
	noDefault := write("no-default.conf", "[realms]\n"+realm("EXAMPLE.COM", port))
	noKDC := write("no-kdc.conf", "[libdefaults]\n  default_realm = EXAMPLE.COM\n[realms]\n"+realm("OTHER.ORG", port))
	garbage := write("garbage.conf", "this is not a krb5.conf\n")
	unclosed := write("unclosed.conf", "[libdefaults\n  default_realm = EXAMPLE.COM\n")
	badLine := write("bad-line.conf", "[realms]\n  EXAMPLE.COM = {\n    kdc 127.0.0.1:88\n  }\n")
	aes256Only := write("aes256.conf", "[libdefaults]\n  default_realm = EXAMPLE.COM\n  default_tkt_enctypes = aes256-cts-hmac-sha1-96\n[realms]\n"+realm("EXAMPLE.COM", port))
	good := writeKeytab(t, dir, "yarngate")
	others := writeKeytab(t, t.TempDir(), "alice", "bob")
	notKeytab := write("garbage.keytab", "not a keytab")
	tests := []struct {
		name             string
		principal        string
		keytab, krb5Conf string
		wantSetting      Setting // "" when Check passes
		wantProblem      string  // a part of the SetupError's problem
		wantReason       string
	}{
		{name: "no krb5.conf", keytab: good, krb5Conf: filepath.Join(dir, "missing.conf"),
			wantSetting: SettingKrb5Conf, wantProblem: "does not exist", wantReason: "krb5.conf does not exist"},
		{name: "krb5.conf is a directory", keytab: good, krb5Conf: dir,
			wantSetting: SettingKrb5Conf, wantProblem: "is a directory, not a krb5.conf file", wantReason: "krb5.conf cannot be read"},
		{name: "krb5.conf is not a krb5.conf", keytab: good, krb5Conf: garbage,
			wantSetting: SettingKrb5Conf, wantProblem: "holds neither a default_realm", wantReason: "krb5.conf cannot be parsed"},
		{name: "krb5.conf with an unclosed section header", keytab: good, krb5Conf: unclosed,
			wantSetting: SettingKrb5Conf, wantProblem: "syntax error", wantReason: "krb5.conf cannot be parsed"},
		{name: "krb5.conf with a line gokrb5 rejects", keytab: good, krb5Conf: badLine,
			wantSetting: SettingKrb5Conf, wantProblem: "cannot be parsed", wantReason: "krb5.conf cannot be parsed"},
		{name: "no realm anywhere", keytab: good, krb5Conf: noDefault,
			wantSetting: SettingKrb5Conf, wantProblem: `has no default_realm in [libdefaults], and the principal "yarngate" names no realm`,
			wantReason: "the principal names no realm and krb5.conf has no default_realm"},
		{name: "no KDC for the realm", keytab: good, krb5Conf: noKDC,
			wantSetting: SettingKrb5Conf, wantProblem: "names no KDC for the realm EXAMPLE.COM and dns_lookup_kdc is off ([realms] has OTHER.ORG",
			wantReason: "krb5.conf names no KDC for the principal's realm"},
		{name: "principal of a realm without KDC", principal: "yarngate@NOWHERE.ORG", keytab: good, krb5Conf: krb5,
			wantSetting: SettingKrb5Conf, wantProblem: "names no KDC for the realm NOWHERE.ORG",
			wantReason: "krb5.conf names no KDC for the principal's realm"},
		{name: "default realm not the keytab's", keytab: good, krb5Conf: otherDefault,
			wantSetting: SettingKeytab, wantProblem: "holds no key for yarngate@OTHER.ORG (the realm is krb5.conf's default_realm); it holds keys for yarngate@EXAMPLE.COM",
			wantReason: "the keytab holds no key for the configured principal"},
		{name: "no keytab", keytab: filepath.Join(dir, "missing.keytab"), krb5Conf: krb5,
			wantSetting: SettingKeytab, wantProblem: "does not exist", wantReason: "the keytab file does not exist"},
		{name: "not a keytab", keytab: notKeytab, krb5Conf: krb5,
			wantSetting: SettingKeytab, wantProblem: "is not a keytab", wantReason: "the keytab cannot be parsed"},
		{name: "keytab of other principals", principal: "yarngate@EXAMPLE.COM", keytab: others, krb5Conf: krb5,
			wantSetting: SettingKeytab, wantProblem: "holds no key for yarngate@EXAMPLE.COM; it holds keys for alice@EXAMPLE.COM, bob@EXAMPLE.COM",
			wantReason: "the keytab holds no key for the configured principal"},
		{name: "keytab of an encryption type krb5.conf forbids", keytab: good, krb5Conf: aes256Only,
			wantSetting: SettingKeytab, wantProblem: "only of encryption types aes128-cts-hmac-sha1-96, and krb5.conf's default_tkt_enctypes permits aes256-cts-hmac-sha1-96",
			wantReason: "the keytab has no key of an encryption type krb5.conf allows"},
		{name: "KDC down", keytab: good, krb5Conf: krb5,
			wantReason: "the KDC cannot be reached (it is down or unreachable, or krb5.conf names the wrong host or port)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.principal == "" {
				tc.principal = "yarngate"
			}
			l, err := New(Options{Principal: tc.principal, Keytab: tc.keytab, Krb5Conf: tc.krb5Conf})
			if err != nil {
				t.Fatal(err)
			}
			err = l.Check()
			var se *SetupError
			switch {
			case tc.wantSetting == "" && err != nil:
				t.Errorf("Check() = %v, want nil", err)
			case tc.wantSetting != "" && !errors.As(err, &se):
				t.Errorf("Check() = %v, want a *SetupError", err)
			case tc.wantSetting != "":
				if se.Setting != tc.wantSetting || !strings.Contains(se.Problem, tc.wantProblem) {
					t.Errorf("Check() = %s %q, want %s with %q", se.Setting, se.Problem, tc.wantSetting, tc.wantProblem)
				}
				if strings.Contains(se.Problem, "not-a-real-password") {
					t.Errorf("the problem names the password: %s", se.Problem)
				}
			}
			_, err = l.kdc.login()
			le, ok := err.(*LoginError)
			if !ok {
				t.Fatalf("login() error %v (%T), want a *LoginError", err, err)
			}
			if le.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q (cause %v)", le.Reason, tc.wantReason, le.Err)
			}
		})
	}
	t.Run("unreadable files", func(t *testing.T) {
		if os.Getuid() == 0 {
			t.Skip("root reads every file")
		}
		unreadable := write("unreadable.keytab", "")
		os.Chmod(unreadable, 0)
		l, _ := New(Options{Principal: "yarngate", Keytab: unreadable, Krb5Conf: krb5})
		var se *SetupError
		if err := l.Check(); !errors.As(err, &se) || !strings.Contains(se.Problem, "is not readable by the gateway's user") {
			t.Errorf("Check() = %v", err)
		}
	})
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
		{krberror.Errorf(fmt.Errorf("dial tcp: refused"), krberror.NetworkingError, "sending"), "the KDC cannot be reached (it is down or unreachable, or krb5.conf names the wrong host or port)"},
		{krberror.Errorf(fmt.Errorf("error reading response size header: EOF"), krberror.NetworkingError, "sending"),
			"the KDC closed the connection without answering (does it serve the principal's realm?)"},
		{kdcSays(68), "the KDC does not serve the principal's realm (krb5.conf sends the realm to another realm's KDC?)"},
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
