package authn

import (
	"errors"
	"testing"
)

// hadoopRules are the rules of Hadoop's TestKerberosName (hadoop-auth), with APACHE.ORG as the default
// realm as there.
const hadoopRules = `RULE:[1:$1@$0](.*@YAHOO\.COM)s/@.*//
RULE:[2:$1](johndoe)s/^.*$/guest/
RULE:[2:$1;$2](^.*;admin$)s/;admin$//
RULE:[2:$2](root)
DEFAULT`

func TestRulesHadoopExamples(t *testing.T) {
	tests := []struct {
		name, rules, principal, want string
		bad                          bool
	}{
		// TestKerberosName.testRules
		{name: "default realm user", rules: hadoopRules, principal: "omalley@APACHE.ORG", want: "omalley"},
		{name: "default realm service", rules: hadoopRules, principal: "hdfs/10.0.0.1@APACHE.ORG", want: "hdfs"},
		{name: "rule strips the realm", rules: hadoopRules, principal: "omalley@YAHOO.COM", want: "omalley"},
		{name: "admin instance", rules: hadoopRules, principal: "omalley/admin@FOO.COM", want: "omalley"},
		{name: "johndoe is guest", rules: hadoopRules, principal: "johndoe/zoo@FOO.COM", want: "guest"},
		{name: "joe admin", rules: hadoopRules, principal: "joe/admin@FOO.COM", want: "joe"},
		{name: "root without substitution", rules: hadoopRules, principal: "joe/root@FOO.COM", want: "root"},
		// TestKerberosName.testAntiPatterns (checkBadTranslation)
		{name: "foreign realm", rules: hadoopRules, principal: "foo@ACME.COM", bad: true},
		{name: "foreign service", rules: hadoopRules, principal: "root/joe@foo.com", bad: true},
		// TestKerberosName.testToLowerCase
		{name: "lower case", rules: `RULE:[1:$1]/L
RULE:[2:$1]/L
RULE:[2:$1;$2](^.*;admin$)s/;admin$///L
RULE:[2:$1;$2](^.*;guest$)s/;guest$//g/L
DEFAULT`, principal: "Joe@FOO.COM", want: "joe"},
		{name: "lower case service", rules: "RULE:[1:$1]/L\nRULE:[2:$1]/L\nDEFAULT", principal: "Joe/root@FOO.COM", want: "joe"},
		// The Hadoop secure-mode guide's daemon rules.
		{name: "guide: datanode", rules: `RULE:[2:$1/$2@$0]([ndj]n/.*@REALM\.TLD)s/.*/hdfs/
RULE:[2:$1/$2@$0]([rn]m/.*@REALM\.TLD)s/.*/yarn/
RULE:[2:$1/$2@$0](jhs/.*@REALM\.TLD)s/.*/mapred/
DEFAULT`, principal: "dn/host1.realm.tld@REALM.TLD", want: "hdfs"},
		{name: "guide: resourcemanager", rules: `RULE:[2:$1/$2@$0]([ndj]n/.*@REALM\.TLD)s/.*/hdfs/
RULE:[2:$1/$2@$0]([rn]m/.*@REALM\.TLD)s/.*/yarn/
DEFAULT`, principal: "rm/host1.realm.tld@REALM.TLD", want: "yarn"},
		{name: "group reference", rules: `RULE:[1:$1@$0](.*@CORP\.EXAMPLE)s/([a-z]+)@.*/corp-$1/`, principal: "bob@CORP.EXAMPLE", want: "corp-bob"},
		{name: "global substitution", rules: `RULE:[1:$1](.*)s/a/x/g`, principal: "banana@X", want: "bxnxnx"},
		{name: "first substitution", rules: `RULE:[1:$1](.*)s/a/x/`, principal: "banana@X", want: "bxnana"},
		{name: "no realm is its own name", rules: "DEFAULT", principal: "airflow", want: "airflow"},
		{name: "no realm, two components", rules: "DEFAULT", principal: "airflow/worker", bad: true},
		{name: "result with @ refused", rules: `RULE:[1:$1@$0]`, principal: "alice@FOO.COM", bad: true},
		{name: "format beyond the components", rules: `RULE:[1:$2]`, principal: "alice@FOO.COM", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRules(tt.rules, "APACHE.ORG")
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.ShortName(tt.principal)
			if tt.bad {
				if err == nil {
					t.Fatalf("ShortName(%q) = %q; want an error", tt.principal, got)
				}
				if tt.name != "format beyond the components" && !errors.Is(err, ErrNoRule) {
					t.Fatalf("ShortName(%q): %v; want ErrNoRule", tt.principal, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ShortName(%q) = %q, %v; want %q", tt.principal, got, err, tt.want)
			}
		})
	}
}

func TestParseRulesErrors(t *testing.T) {
	for _, text := range []string{"", "RULE:[x:$1]", "RULE:[1:$1](a(b)", "NOPE", "RULE:[1:$1]s/(/x/"} {
		if _, err := ParseRules(text, "R"); err == nil {
			t.Errorf("ParseRules(%q) accepted", text)
		}
	}
}
