package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/yarngate/yarngate/config"
)

// kerberizedConfDir writes a Hadoop configuration directory of a Kerberized cluster whose NameNode and
// ResourceManager are at unused addresses, and a krb5.conf whose KDC is one too.
func kerberizedConfDir(t *testing.T) (confDir, krb5Conf string) {
	t.Helper()
	confDir = t.TempDir()
	site := func(name string, props map[string]string) {
		var b strings.Builder
		b.WriteString("<configuration>\n")
		for k, v := range props {
			fmt.Fprintf(&b, "<property><name>%s</name><value>%s</value></property>\n", k, v)
		}
		b.WriteString("</configuration>\n")
		if err := os.WriteFile(filepath.Join(confDir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	site("core-site.xml", map[string]string{"fs.defaultFS": "hdfs://" + unusedAddr(t),
		"hadoop.security.authentication": "kerberos"})
	site("hdfs-site.xml", map[string]string{"dfs.namenode.kerberos.principal": "hdfs/localhost@EXAMPLE.COM",
		"dfs.data.transfer.protection": "authentication"})
	site("yarn-site.xml", map[string]string{"yarn.resourcemanager.webapp.address": unusedAddr(t)})
	krb5Conf = filepath.Join(t.TempDir(), "krb5.conf")
	conf := fmt.Sprintf("[libdefaults]\n  default_realm = EXAMPLE.COM\n  udp_preference_limit = 1\n[realms]\n  EXAMPLE.COM = {\n    kdc = %s\n  }\n", unusedAddr(t))
	if err := os.WriteFile(krb5Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return confDir, krb5Conf
}

// writeTestKeytab writes a keytab holding keys of principals (in EXAMPLE.COM).
func writeTestKeytab(t *testing.T, principals ...string) string {
	t.Helper()
	kt := keytab.New()
	for _, p := range principals {
		if err := kt.AddEntry(p, "EXAMPLE.COM", "test-only", time.Now(), 1, etypeID.AES128_CTS_HMAC_SHA1_96); err != nil {
			t.Fatal(err)
		}
	}
	data, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gw.keytab")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunKerberosBadSettings starts the gateway on a Kerberized cluster with Kerberos settings that cannot work.
// A setting that is wrong whatever the KDC says stops the start, with an error naming the configuration key and
// the file; a KDC that does not answer does not: the gateway serves, and /readyz says why without naming the
// principal, the keytab or the KDC.
func TestRunKerberosBadSettings(t *testing.T) {
	confDir, krb5Conf := kerberizedConfDir(t)
	noKDC := filepath.Join(t.TempDir(), "krb5.conf")
	os.WriteFile(noKDC, []byte("[libdefaults]\n  default_realm = EXAMPLE.COM\n[realms]\n  OTHER.ORG = {\n    kdc = localhost:88\n  }\n"), 0o644)
	garbage := filepath.Join(t.TempDir(), "krb5.conf")
	os.WriteFile(garbage, []byte("<configuration></configuration>\n"), 0o644)
	good := writeTestKeytab(t, "yarngate")
	tests := []struct {
		name             string
		keytab, krb5Conf string
		wantErr          string // the start-up error, or "" when the gateway starts
		wantReason       string // the readiness reason when it starts
	}{
		{name: "keytab of other principals", keytab: writeTestKeytab(t, "alice", "bob"), krb5Conf: krb5Conf,
			wantErr: "kerberos.keytab: %k holds no key for yarngate@EXAMPLE.COM; it holds keys for alice@EXAMPLE.COM, bob@EXAMPLE.COM"},
		{name: "no keytab file", keytab: filepath.Join(t.TempDir(), "absent.keytab"), krb5Conf: krb5Conf,
			wantErr: "kerberos.keytab: %k does not exist"},
		{name: "no krb5.conf", keytab: good, krb5Conf: filepath.Join(t.TempDir(), "absent.conf"),
			wantErr: "kerberos.krb5Conf: %c does not exist"},
		{name: "not a krb5.conf", keytab: good, krb5Conf: garbage,
			wantErr: "kerberos.krb5Conf: %c holds neither a default_realm in [libdefaults] nor a realm in [realms]"},
		{name: "krb5.conf without the realm", keytab: good, krb5Conf: noKDC,
			wantErr: "kerberos.krb5Conf: %c names no KDC for the realm EXAMPLE.COM and dns_lookup_kdc is off ([realms] has OTHER.ORG"},
		{name: "KDC down", keytab: good, krb5Conf: krb5Conf,
			wantReason: "kerberos: the KDC cannot be reached (it is down or unreachable, or krb5.conf names the wrong host or port)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t)
			cfg.HDFS.NameNodes, cfg.HadoopConfDir = nil, confDir
			cfg.Kerberos.Principal, cfg.Kerberos.Keytab, cfg.Kerberos.Krb5Conf = "yarngate@EXAMPLE.COM", tc.keytab, tc.krb5Conf
			isolateRegistry(t, &cfg, "")
			if tc.wantErr != "" {
				want := strings.NewReplacer("%k", tc.keytab, "%c", tc.krb5Conf).Replace(tc.wantErr)
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				err := Run(ctx, Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
				if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), want) {
					t.Errorf("Run() = %v; want a configuration error with %q", err, want)
				}
				return
			}
			r := start(t, cfg)
			status, body := get(t, r.url+"/readyz")
			want := `{"field":"kerberos","reason":"` + tc.wantReason + `"}`
			if status != 503 || !strings.Contains(body, want) {
				t.Errorf("readyz = %d %s; want 503 with %s", status, body, want)
			}
			for _, secret := range []string{"yarngate@", "EXAMPLE.COM", tc.keytab, tc.krb5Conf, "127.0.0.1"} {
				if strings.Contains(body, secret) {
					t.Errorf("readyz leaks %q: %s", secret, body)
				}
			}
			if _, body := get(t, r.url+"/metrics"); !strings.Contains(body, "yarngate_kerberos_tgt_expiry_timestamp_seconds 0") ||
				!strings.Contains(body, `yarngate_kerberos_exchanges_total{kind="login",result="error"}`) {
				t.Errorf("metrics lack the Kerberos series:\n%s", body)
			}
		})
	}
}
