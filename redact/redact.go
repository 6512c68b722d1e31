// Package redact removes secrets from what yarngate stores and logs: Flink configuration values whose keys
// name secrets, credentials inside URIs, and secret-looking program arguments. What it returns may be
// stored in the registry and written to logs; what it removes is never kept.
//
// A key names a secret when, in lower case, it contains one of Flink's own sensitive-key fragments
// (GlobalConfiguration.SENSITIVE_KEYS in Flink 1.20 and 2.x: password, secret, fs.azure.account.key, apikey,
// auth-params, service-key, token, basic-auth, jaas.config, http-headers) or one of key, pass, secret, token,
// jaas. A URI's credentials are its user information (scheme://user:password@host) and the values of query
// parameters whose names name secrets (or are sig, signature, credential: signed URLs).
//
// Dependency rule: redact imports the standard library only.
package redact

import (
	"regexp"
	"strings"
)

// Placeholder replaces every value removed.
const Placeholder = "<redacted>"

// flinkSensitiveKeys is GlobalConfiguration.SENSITIVE_KEYS (Flink 1.20, 2.x): Flink hides the values of keys
// that contain one of them.
var flinkSensitiveKeys = []string{"password", "secret", "fs.azure.account.key", "apikey", "auth-params",
	"service-key", "token", "basic-auth", "jaas.config", "http-headers"}

// moreSensitiveKeys widen Flink's list: access keys, passphrases, JAAS entries under other names.
var moreSensitiveKeys = []string{"key", "pass", "secret", "token", "jaas"}

// signedURLParams are query parameters of signed URLs (Azure SAS, AWS signature v4 credentials).
var signedURLParams = []string{"sig", "signature", "credential"}

// SensitiveKey reports whether a configuration key (or a parameter or flag name) names a secret.
func SensitiveKey(key string) bool {
	k := strings.ToLower(key)
	for _, list := range [][]string{flinkSensitiveKeys, moreSensitiveKeys} {
		for _, s := range list {
			if strings.Contains(k, s) {
				return true
			}
		}
	}
	return false
}

// userInfo is the user information of a URI anywhere in a text: scheme://user:password@ (the password
// may hold '/', as unencoded cloud secret keys do) or scheme://user@. (A path holding '@' after a host:port
// is taken for credentials too: better hidden than leaked.)
var userInfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)([^@\s/?#]*:[^@\s]*|[^/?#@\s:]+)@`)

// queryParam is a parameter of a URI's query (or of a JDBC URL's property list): a name after ?, & or ;
// and its value.
var queryParam = regexp.MustCompile(`([?&;])([^=&;?#\s]+)=([^&;#\s]*)`)

// URIs returns s with the credentials of every URI in it replaced: user information, and the values of
// query parameters whose names name secrets.
func URIs(s string) string {
	if !strings.Contains(s, "://") && !strings.Contains(s, "=") {
		return s
	}
	s = userInfo.ReplaceAllString(s, "${1}"+Placeholder+"@")
	return queryParam.ReplaceAllStringFunc(s, func(m string) string {
		sub := queryParam.FindStringSubmatch(m)
		if !sensitiveParam(sub[2]) {
			return m
		}
		return sub[1] + sub[2] + "=" + Placeholder
	})
}

func sensitiveParam(name string) bool {
	if SensitiveKey(name) {
		return true
	}
	n := strings.ToLower(name)
	for _, p := range signedURLParams {
		if strings.Contains(n, p) {
			return true
		}
	}
	return false
}

// Value returns the value of a configuration key as it may be stored: Placeholder when the key names a
// secret, else the value without the credentials of the URIs in it.
func Value(key, value string) string {
	if SensitiveKey(key) {
		return Placeholder
	}
	return URIs(value)
}

// Args returns program arguments as they may be stored: credentials of URIs removed, the value of
// name=value and --name=value arguments whose names name secrets replaced, and the argument after a flag
// (-name, --name) that names a secret replaced.
func Args(args []string) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	hideNext := false
	for i, a := range args {
		if hideNext {
			out[i], hideNext = Placeholder, false
			continue
		}
		if name, _, ok := strings.Cut(a, "="); ok && !strings.Contains(name, "://") && SensitiveKey(name) {
			out[i] = name + "=" + Placeholder
			continue
		}
		if strings.HasPrefix(a, "-") && SensitiveKey(a) {
			hideNext = true
		}
		out[i] = URIs(a)
	}
	return out
}
