package flink

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestPlanKerberized(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sec    Security
		keytab bool
	}{
		{name: "token and krb5.conf", sec: Security{Tokens: map[string]string{"127.0.0.1:19000": "HQAFYWxpY2U"},
			Krb5Conf: []byte("[libdefaults]\n default_realm = EXAMPLE.COM\n"), TokenRenewer: "yarn"}},
		{name: "with a keytab", keytab: true, sec: Security{Tokens: map[string]string{"ha-hdfs:ns1": "HQAFYWxpY2U"},
			Krb5Conf: []byte("[libdefaults]\n"), TokenRenewer: "yarn", Keytab: []byte{5, 2, 0, 0}, Principal: "alice@EXAMPLE.COM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, mfs := testSpec(t, "2.2.1", stockConfig22)
			spec.Security = &tc.sec
			plan, err := NewPlan(spec)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := plan.Config.String(keyTokenRenewer); got != "yarn" {
				t.Errorf("%s = %q", keyTokenRenewer, got)
			}
			if v, ok := plan.Config[keyUseTicketCache]; !ok || v != false {
				t.Errorf("%s = %v, want false: a node's ticket cache is not the job's", keyUseTicketCache, v)
			}
			if got, _ := plan.Config.String("containerized.taskmanager.env.KRB5CCNAME"); got != noTicketCache {
				t.Errorf("the TaskManagers' KRB5CCNAME = %q", got)
			}
			if !strings.Contains(plan.Command, " -Djava.security.krb5.conf=krb5.conf ") {
				t.Errorf("the JobManager command lacks the krb5.conf option: %s", plan.Command)
			}
			staged, err := plan.Stage(context.Background(), mfs)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := plan.Submission(staged)
			if err != nil {
				t.Fatal(err)
			}
			for alias, tok := range tc.sec.Tokens {
				if c := sc.AMContainerSpec.Credentials; c == nil || c.Tokens[alias] != tok || len(c.Tokens) != 1 {
					t.Errorf("credentials %+v, want exactly the token under %s", c, alias)
				}
			}
			env, res := sc.AMContainerSpec.Environment, sc.AMContainerSpec.LocalResources
			if env[EnvKrb5CCName] != noTicketCache {
				t.Errorf("the AM's KRB5CCNAME = %q", env[EnvKrb5CCName])
			}
			appDir := "hdfs://localhost:19000/user/yarngate/.flink/application_1700000000000_0007/"
			if env[EnvKrb5Path] != appDir+"krb5.conf" || res["krb5.conf"].Resource != appDir+"krb5.conf" || res["krb5.conf"].Visibility != "APPLICATION" {
				t.Errorf("krb5.conf: env %q, resource %+v", env[EnvKrb5Path], res["krb5.conf"])
			}
			if strings.Contains(env[EnvClientShipFiles], "krb5") {
				t.Errorf("Kerberos files are not ship files: %s", env[EnvClientShipFiles])
			}
			if f := mfs.files["/user/yarngate/.flink/application_1700000000000_0007/krb5.conf"]; f == nil || string(f.data) != string(tc.sec.Krb5Conf) {
				t.Errorf("staged krb5.conf %+v", f)
			}
			if f := mfs.files["/user/yarngate/.flink/application_1700000000000_0007/krb5.keytab"]; tc.keytab && (f == nil || f.mode.Perm() != 0o600) {
				t.Errorf("staged keytab %+v, want mode 0600", f)
			}
			_, hasKeytab := res[KeytabName]
			if hasKeytab != tc.keytab || (env[EnvLocalKeytabPath] == KeytabName) != tc.keytab || (env[EnvRemoteKeytabPath] == appDir+KeytabName) != tc.keytab ||
				(env[EnvKeytabPrincipal] == "alice@EXAMPLE.COM") != tc.keytab {
				t.Errorf("keytab wanted %v: resource %v, env %q %q %q", tc.keytab, hasKeytab, env[EnvLocalKeytabPath], env[EnvRemoteKeytabPath], env[EnvKeytabPrincipal])
			}
			if got, _ := plan.Config.String(keyLocalizedKeytab); (got == KeytabName) != tc.keytab {
				t.Errorf("%s = %q", keyLocalizedKeytab, got)
			}
		})
	}
}

func TestPlanKerberizedRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sec   Security
		cfg   map[string]string
		field string
	}{
		{name: "no token", sec: Security{Krb5Conf: []byte("x")}, field: "security.tokens"},
		{name: "keytab without principal", sec: Security{Tokens: map[string]string{"a": "b"}, Keytab: []byte{5}}, field: "security.keytab"},
		{name: "principal with a quote", sec: Security{Tokens: map[string]string{"a": "b"}, Keytab: []byte{5}, Principal: "a'b"}, field: "security.principal"},
		{name: "job sets the login keytab", sec: Security{Tokens: map[string]string{"a": "b"}},
			cfg: map[string]string{"security.kerberos.login.keytab": "/etc/x.keytab"}, field: "flinkConfig.security.kerberos.login.keytab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, _ := testSpec(t, "1.20.3", stockConfig120)
			spec.Security = &tc.sec
			for k, v := range tc.cfg {
				spec.FlinkConfig[k] = v
			}
			_, err := NewPlan(spec)
			if err == nil || !strings.Contains(err.Error(), tc.field+":") {
				t.Errorf("NewPlan = %v, want a problem with %s", err, tc.field)
			}
		})
	}
}

// TestKeytabKeysAreTheGateways: the keys a keytab launch sets (yarn.security.kerberos.*, and the
// security.kerberos.login.* Flink derives from the shipped keytab and principal) come from Security, which
// the gateway fills in; a request's flinkConfig may not set any of them.
func TestKeytabKeysAreTheGateways(t *testing.T) {
	spec, _ := testSpec(t, "2.2.1", stockConfig22)
	spec.Security = &Security{Tokens: map[string]string{"ha-hdfs:ns1": "HQAFYWxpY2U"}, Keytab: []byte{5, 2, 0, 0}, Principal: "yarngate@EXAMPLE.COM"}
	plan, err := NewPlan(spec)
	if err != nil {
		t.Fatalf("a keytab launch is refused: %v", err)
	}
	for _, tc := range []struct {
		key  string
		want any
	}{
		{keyShipLocalKeytab, true},
		{keyLocalizedKeytab, KeytabName},
		{keyUseTicketCache, false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if got := plan.Config[tc.key]; got != tc.want {
				t.Errorf("plan: %s = %v, want %v", tc.key, got, tc.want)
			}
			errs := CheckFlinkConfig(map[string]string{tc.key: fmt.Sprint(tc.want)})
			if len(errs) != 1 || errs[0].Field != "flinkConfig."+tc.key {
				t.Errorf("a request setting %s: %+v, want it refused", tc.key, errs)
			}
		})
	}
	for _, key := range []string{"security.kerberos.login.keytab", "security.kerberos.login.principal"} {
		if errs := CheckFlinkConfig(map[string]string{key: "x"}); len(errs) != 1 {
			t.Errorf("a request setting %s: %+v, want it refused", key, errs)
		}
	}
}
