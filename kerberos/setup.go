package kerberos

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"

	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Setting names the Options field a SetupError is about.
type Setting string

// The settings a SetupError can be about.
const (
	SettingPrincipal Setting = "Principal"
	SettingKeytab    Setting = "Keytab"
	SettingKrb5Conf  Setting = "Krb5Conf"
)

// SetupError is a Kerberos setting that cannot work, found by reading krb5.conf and the keytab, before any KDC
// is asked: a file that is missing, unreadable or not what it should be, no realm for the principal, no KDC for
// the realm, a keytab without a usable key for the principal. Check returns it; a login that meets the same
// problem later (a keytab replaced while the gateway runs) reports it inside a *LoginError.
type SetupError struct {
	// Setting is the option at fault.
	Setting Setting
	// Path is the file concerned: the keytab or krb5.conf (empty for the principal).
	Path string
	// Problem says what is wrong for the operator. It may name the principal, realms, KDC addresses and
	// encryption types; never a key.
	Problem string
	// Err is the cause, if any.
	Err error

	// reason is the client-safe explanation a LoginError gives for it.
	reason string
}

func (e *SetupError) Error() string {
	s := "kerberos: " + string(e.Setting)
	if e.Path != "" {
		s += " " + e.Path
	}
	s += ": " + e.Problem
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *SetupError) Unwrap() error { return e.Err }

// loginError is e as the failure of a login: a client-safe reason, e as the cause.
func (e *SetupError) loginError() *LoginError { return &LoginError{Reason: e.reason, Err: e} }

// Check reads krb5.conf and the keytab as a login does and returns a *SetupError when a login cannot succeed
// whatever the KDC says. It does no network I/O: a realm whose KDCs krb5.conf leaves to DNS (dns_lookup_kdc)
// passes. The composition root calls it before Run, to refuse to start with a clearly wrong setting.
func (l *Login) Check() error {
	k, ok := l.kdc.(*gokrb5KDC)
	if !ok {
		return nil // a test's KDC reads no files
	}
	if _, err := readSetup(k.principal, k.keytab, k.krb5Conf); err != nil {
		return err
	}
	return nil
}

// setup is what a login reads from disk.
type setup struct {
	conf  *krbconfig.Config
	cname types.PrincipalName
	realm string
	kt    *keytab.Keytab
}

// readSetup reads krb5.conf and the keytab and checks that they can log principal in.
func readSetup(principal, keytabPath, krb5Conf string) (*setup, *SetupError) {
	conf, err := loadKrb5Conf(krb5Conf)
	if err != nil {
		return nil, err
	}
	cname, realm := types.ParseSPNString(principal)
	cname.NameType = nametype.KRB_NT_PRINCIPAL
	realmFromConf := realm == ""
	if realmFromConf {
		realm = conf.LibDefaults.DefaultRealm
	}
	if realm == "" {
		return nil, &SetupError{Setting: SettingKrb5Conf, Path: krb5Conf, reason: "the principal names no realm and krb5.conf has no default_realm",
			Problem: fmt.Sprintf("has no default_realm in [libdefaults], and the principal %q names no realm (write it as %s@REALM)", principal, principal)}
	}
	if err := checkKDCs(conf, realm, krb5Conf); err != nil {
		return nil, err
	}
	kt, err := loadKeytab(keytabPath, cname, realm, realmFromConf, conf)
	if err != nil {
		return nil, err
	}
	return &setup{conf: conf, cname: cname, realm: realm, kt: kt}, nil
}

// loadKrb5Conf reads krb5.conf. Directives gokrb5 does not know are not an error (it keeps the rest); gokrb5
// skips what it cannot read, so a file from which it read neither a realm nor a default realm is refused.
func loadKrb5Conf(path string) (*krbconfig.Config, *SetupError) {
	if err := readableFile(path); err != nil {
		return nil, fileError(SettingKrb5Conf, path, "krb5.conf", err)
	}
	conf, err := krbconfig.Load(path)
	var unsupported krbconfig.UnsupportedDirective
	if err != nil && !errors.As(err, &unsupported) {
		return nil, &SetupError{Setting: SettingKrb5Conf, Path: path, Problem: "cannot be parsed", Err: err,
			reason: "krb5.conf cannot be parsed"}
	}
	if len(conf.Realms) == 0 && conf.LibDefaults.DefaultRealm == "" {
		return nil, &SetupError{Setting: SettingKrb5Conf, Path: path, reason: "krb5.conf cannot be parsed",
			Problem: "holds neither a default_realm in [libdefaults] nor a realm in [realms]: not a krb5.conf, or one with a syntax error"}
	}
	return conf, nil
}

// checkKDCs fails when krb5.conf names no KDC for realm and does not look KDCs up in DNS.
func checkKDCs(conf *krbconfig.Config, realm, path string) *SetupError {
	var known []string
	for _, r := range conf.Realms {
		if r.Realm == realm && len(r.KDC) > 0 {
			return nil
		}
		known = append(known, r.Realm)
	}
	if conf.LibDefaults.DNSLookupKDC {
		return nil
	}
	problem := fmt.Sprintf("names no KDC for the realm %s and dns_lookup_kdc is off", realm)
	if len(known) > 0 {
		problem += fmt.Sprintf(" ([realms] has %s; is it the wrong krb5.conf, or the wrong realm?)", strings.Join(known, ", "))
	}
	return &SetupError{Setting: SettingKrb5Conf, Path: path, Problem: problem + `: add ` + realm + ` = { kdc = host:port } to [realms]`,
		reason: "krb5.conf names no KDC for the principal's realm"}
}

// loadKeytab reads the keytab and checks that it holds a key for cname@realm of an encryption type krb5.conf
// permits.
func loadKeytab(path string, cname types.PrincipalName, realm string, realmFromConf bool, conf *krbconfig.Config) (*keytab.Keytab, *SetupError) {
	if err := readableFile(path); err != nil {
		return nil, fileError(SettingKeytab, path, "keytab", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fileError(SettingKeytab, path, "keytab", err)
	}
	kt := keytab.New()
	if err := kt.Unmarshal(data); err != nil {
		return nil, &SetupError{Setting: SettingKeytab, Path: path, Problem: "is not a keytab", Err: err, reason: "the keytab cannot be parsed"}
	}
	want := cname.PrincipalNameString() + "@" + realm
	var held []string
	var etypes []int32
	for _, e := range kt.Entries {
		name := strings.Join(e.Principal.Components, "/") + "@" + e.Principal.Realm
		if name == want {
			etypes = append(etypes, e.Key.KeyType)
		} else if !slices.Contains(held, name) {
			held = append(held, name)
		}
	}
	if len(etypes) == 0 {
		problem := "holds no key for " + want
		if realmFromConf {
			problem += " (the realm is krb5.conf's default_realm)"
		}
		switch {
		case len(held) > 5:
			problem += fmt.Sprintf("; it holds keys for %s and %d more", strings.Join(held[:5], ", "), len(held)-5)
		default:
			problem += "; it holds keys for " + strings.Join(held, ", ")
		}
		return nil, &SetupError{Setting: SettingKeytab, Path: path, Problem: problem, reason: "the keytab holds no key for the configured principal"}
	}
	permitted := conf.LibDefaults.DefaultTktEnctypeIDs
	if len(permitted) > 0 && !slices.ContainsFunc(etypes, func(e int32) bool { return slices.Contains(permitted, e) }) {
		return nil, &SetupError{Setting: SettingKeytab, Path: path,
			Problem: fmt.Sprintf("holds keys for %s only of encryption types %s, and krb5.conf's default_tkt_enctypes permits %s",
				want, etypeNames(etypes), etypeNames(permitted)),
			reason: "the keytab has no key of an encryption type krb5.conf allows"}
	}
	return kt, nil
}

// readableFile fails when path is not a regular file the process can open.
func readableFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errIsDirectory
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// errIsDirectory means a path names a directory where a file is expected.
var errIsDirectory = errors.New("is a directory")

// fileError explains a file of setting that cannot be read.
func fileError(setting Setting, path, what string, err error) *SetupError {
	e := &SetupError{Setting: setting, Path: path, Err: err}
	the := what
	if what == "keytab" {
		the = "the keytab"
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.Problem, e.reason = "does not exist", the+" file does not exist"
	case errors.Is(err, fs.ErrPermission):
		e.Problem, e.reason = fmt.Sprintf("is not readable by the gateway's user (uid %d)", os.Getuid()), the+" file is not readable by the gateway"
	case errors.Is(err, errIsDirectory):
		e.Problem, e.reason, e.Err = "is a directory, not a "+what+" file", the+" file cannot be read", nil
	default:
		e.Problem, e.reason = "cannot be read", the+" file cannot be read"
	}
	if what == "krb5.conf" {
		e.reason = strings.Replace(e.reason, "krb5.conf file", "krb5.conf", 1)
	}
	return e
}

// etypeNames names encryption types as krb5.conf does.
func etypeNames(ids []int32) string {
	var names []string
	for _, id := range ids {
		name := fmt.Sprintf("etype %d", id)
		found := false
		for n, v := range etypeID.ETypesByName { // aliases: the longest name is the full one
			if v == id && (!found || len(n) > len(name) || len(n) == len(name) && n < name) {
				name, found = n, true
			}
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
