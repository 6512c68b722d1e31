package flink

import (
	"fmt"
	"strings"
)

// Names Flink's YARN client gives the Kerberos files it ships (Utils.KRB5_FILE_NAME,
// yarn.security.kerberos.localized-keytab-path) and the environment variables that carry them to the
// JobManager and TaskManagers (YarnConfigKeys).
const (
	Krb5ConfName          = "krb5.conf"
	KeytabName            = "krb5.keytab"
	EnvKrb5Path           = "_KRB5_PATH"
	EnvLocalKeytabPath    = "_LOCAL_KEYTAB_PATH"
	EnvKeytabPrincipal    = "_KEYTAB_PRINCIPAL"
	EnvRemoteKeytabPath   = "_REMOTE_KEYTAB_PATH"
	keyTokenRenewer       = "security.kerberos.token.provider.hadoopfs.renewer"
	keyShipLocalKeytab    = "yarn.security.kerberos.ship-local-keytab"
	keyLocalizedKeytab    = "yarn.security.kerberos.localized-keytab-path"
	krb5ConfJVMOption     = "-Djava.security.krb5.conf=" + Krb5ConfName
	keytabPrincipalMaxLen = 1024
)

// Security is what a Flink cluster on a Kerberized Hadoop gets at launch, the way Flink's own client gives
// it (YarnClusterDescriptor.startAppMaster): delegation tokens in the AM's launch context (the TaskManagers
// get the same ones from the JobManager), the Kerberos configuration as a file every container's JVM reads,
// and optionally a keytab for the cluster to log in with, so that it can obtain new tokens when the
// submitted ones reach the end of their life.
type Security struct {
	// Tokens are the containers' delegation tokens (Token.encodeToUrlString), keyed by their service, the
	// alias Hadoop's clients use. At least an HDFS token of the cluster's user: without it the
	// NodeManager cannot even localize the AM's files.
	Tokens map[string]string
	// Krb5Conf is shipped as krb5.conf and named by -Djava.security.krb5.conf in the AM's (and through
	// _KRB5_PATH the TaskManagers') JVM options; nil ships none, for nodes that have their own.
	Krb5Conf []byte
	// TokenRenewer is security.kerberos.token.provider.hadoopfs.renewer unless the job sets it: the short
	// name of the ResourceManager's principal, so that tokens a keytab-holding cluster obtains itself can be
	// renewed by YARN (log aggregation). Empty leaves Flink's default.
	TokenRenewer string
	// Keytab and Principal, when set, are shipped as krb5.keytab with the principal to log in as
	// (security.kerberos.login.* on the JobManager and TaskManagers).
	Keytab    []byte
	Principal string
}

// validateSecurity checks the security settings. (A request sets no security.* key: see refusedKeys.)
func (s *LaunchSpec) validateSecurity(bad func(field, format string, a ...any)) {
	sec := s.Security
	if sec == nil {
		return
	}
	if len(sec.Tokens) == 0 {
		bad("security.tokens", "a Kerberized launch needs at least the user's HDFS delegation token")
	}
	for alias, tok := range sec.Tokens {
		if alias == "" || tok == "" {
			bad("security.tokens", "empty token alias or value")
		}
	}
	if (len(sec.Keytab) == 0) != (sec.Principal == "") {
		bad("security.keytab", "a keytab needs its principal and a principal its keytab")
	}
	if len(sec.Principal) > keytabPrincipalMaxLen || strings.ContainsAny(sec.Principal, "\"'\\$`;\n\r ") {
		bad("security.principal", "%q is not a principal name", sec.Principal)
	}
}

// applySecurity sets the configuration a Kerberized launch implies.
func applySecurity(cfg Config, sec *Security) {
	if sec == nil {
		return
	}
	if _, ok := cfg[keyTokenRenewer]; !ok && sec.TokenRenewer != "" {
		cfg[keyTokenRenewer] = sec.TokenRenewer
	}
	if len(sec.Keytab) > 0 {
		cfg[keyShipLocalKeytab] = true
		cfg[keyLocalizedKeytab] = KeytabName
	}
	// A container must act on its own credentials only: never on a ticket cache it finds on the node (that of
	// whoever ran kinit there last, possibly of another realm's KDC), which Flink and Hadoop would otherwise
	// prefer to the submitted tokens. The TaskManagers get the same environment through the configuration.
	cfg[keyUseTicketCache] = false
	cfg["containerized.taskmanager.env."+EnvKrb5CCName] = noTicketCache
}

// A ticket cache no container has: KRB5CCNAME for every container of a Kerberized launch.
const (
	EnvKrb5CCName     = "KRB5CCNAME"
	noTicketCache     = "FILE:./yarngate-no-ticket-cache"
	keyUseTicketCache = "security.kerberos.login.use-ticket-cache"
)

// stagedSecurityFiles lists the files the plan stages besides its configuration, name → content.
func (p *Plan) stagedSecurityFiles() map[string][]byte {
	sec := p.spec.Security
	if sec == nil {
		return nil
	}
	out := map[string][]byte{}
	if len(sec.Krb5Conf) > 0 {
		out[Krb5ConfName] = sec.Krb5Conf
	}
	if len(sec.Keytab) > 0 {
		out[KeytabName] = sec.Keytab
	}
	return out
}

// securityEnv returns the AM environment of a Kerberized launch (see Security), given the staged files.
func securityEnv(sec *Security, staged Staged) (map[string]string, error) {
	env := map[string]string{}
	if sec == nil {
		return env, nil
	}
	env[EnvKrb5CCName] = noTicketCache
	if len(sec.Krb5Conf) > 0 {
		if staged.Krb5Conf.URI == "" {
			return nil, fmt.Errorf("build flink submission: %s is not staged", Krb5ConfName)
		}
		env[EnvKrb5Path] = staged.Krb5Conf.URI
	}
	if len(sec.Keytab) > 0 {
		if staged.Keytab.URI == "" {
			return nil, fmt.Errorf("build flink submission: %s is not staged", KeytabName)
		}
		env[EnvLocalKeytabPath] = KeytabName
		env[EnvKeytabPrincipal] = sec.Principal
		env[EnvRemoteKeytabPath] = staged.Keytab.URI
	}
	return env, nil
}
