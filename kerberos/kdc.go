package kerberos

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// gokrb5KDC talks to the KDC with gokrb5.
type gokrb5KDC struct {
	principal, keytab, krb5Conf string
}

// renewal is what a TGS renewal of a ticket needs.
type renewal struct {
	conf       *krbconfig.Config
	cname      types.PrincipalName
	realm      string
	tgt        messages.Ticket
	sessionKey types.EncryptionKey
	authTime   time.Time
}

// loadKrb5Conf reads krb5.conf. Directives gokrb5 does not know are not an error (it keeps the rest).
func loadKrb5Conf(path string) (*krbconfig.Config, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, krb5ConfError(err)
	}
	conf, err := krbconfig.Load(path)
	var unsupported krbconfig.UnsupportedDirective
	if err != nil && !errors.As(err, &unsupported) {
		return nil, krb5ConfError(err)
	}
	return conf, nil
}

// splitPrincipal parses name[/instance][@REALM]; the realm defaults to krb5.conf's default_realm.
func splitPrincipal(principal string, conf *krbconfig.Config) (types.PrincipalName, string, error) {
	cname, realm := types.ParseSPNString(principal)
	if realm == "" {
		realm = conf.LibDefaults.DefaultRealm
	}
	if realm == "" {
		return cname, "", &LoginError{Reason: "the principal names no realm and krb5.conf has no default_realm",
			Err: fmt.Errorf("principal %q without realm", principal)}
	}
	cname.NameType = nametype.KRB_NT_PRINCIPAL
	return cname, realm, nil
}

// loadKeytab reads the keytab and checks that it holds a key for cname@realm.
func loadKeytab(path string, cname types.PrincipalName, realm string) (*keytab.Keytab, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, keytabError(err)
	}
	kt := keytab.New()
	if err := kt.Unmarshal(data); err != nil {
		return nil, keytabError(err)
	}
	for _, e := range kt.Entries {
		if e.Principal.Realm == realm && strings.Join(e.Principal.Components, "/") == cname.PrincipalNameString() {
			return kt, nil
		}
	}
	return nil, keytabError(fmt.Errorf("%w: %s@%s in %s", errNoKeyForPrincipal, cname.PrincipalNameString(), realm, path))
}

// login does an AS exchange with the keytab's key, reading krb5.conf and the keytab afresh.
func (k *gokrb5KDC) login() (*ticket, error) {
	conf, err := loadKrb5Conf(k.krb5Conf)
	if err != nil {
		return nil, err
	}
	cname, realm, err := splitPrincipal(k.principal, conf)
	if err != nil {
		return nil, err
	}
	kt, err := loadKeytab(k.keytab, cname, realm)
	if err != nil {
		return nil, err
	}
	// A keytab client used for this one exchange: ASExchange, unlike Login, starts no renewal goroutine.
	kc := client.NewWithKeytab(strings.Join(cname.NameString, "/"), realm, kt, conf)
	asReq, err := messages.NewASReqForTGT(realm, conf, cname)
	if err != nil {
		return nil, exchangeError("login", err)
	}
	rep, err := kc.ASExchange(realm, asReq, 0)
	if err != nil {
		return nil, exchangeError("login", err)
	}
	part := rep.DecryptedEncPart
	return newTicket(&renewal{conf: conf, cname: cname, realm: realm, tgt: rep.Ticket, sessionKey: part.Key,
		authTime: part.AuthTime}, part.StartTime, part.EndTime, part.RenewTill)
}

// renew renews t with a TGS exchange for krbtgt/REALM.
func (k *gokrb5KDC) renew(t *ticket) (*ticket, error) {
	r := t.renew
	if r == nil {
		return nil, errors.New("renew: the ticket carries no session")
	}
	spn := types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", r.realm}}
	// The exchange adds the renewed ticket to the cache of the client it runs on; a scratch client keeps
	// the consumers' clients untouched.
	scratch := client.NewWithPassword(strings.Join(r.cname.NameString, "/"), r.realm, "", r.conf)
	_, rep, err := scratch.TGSREQGenerateAndExchange(spn, r.realm, r.tgt, r.sessionKey, true)
	if err != nil {
		return nil, exchangeError("renewal", err)
	}
	part := rep.DecryptedEncPart
	if !part.EndTime.After(t.end) {
		return nil, &LoginError{Reason: "the renewal did not extend the ticket", Err: fmt.Errorf("renewed ticket ends %v, not after %v", part.EndTime, t.end)}
	}
	return newTicket(&renewal{conf: r.conf, cname: r.cname, realm: r.realm, tgt: rep.Ticket, sessionKey: part.Key,
		authTime: r.authTime}, part.StartTime, part.EndTime, part.RenewTill)
}

// newTicket builds the consumers' gokrb5 client for a ticket-granting ticket. The client is made as from a
// credentials cache, in memory: it holds the ticket but no keytab, so gokrb5 starts no renewal goroutine for
// it; Run replaces it before it would try to renew by itself.
func newTicket(r *renewal, start, end, renewTill time.Time) (*ticket, error) {
	if start.IsZero() {
		start = r.authTime
	}
	raw, err := r.tgt.Marshal()
	if err != nil {
		return nil, &LoginError{Reason: "the KDC's ticket cannot be encoded", Err: err}
	}
	cc := &credentials.CCache{Version: 4}
	cc.DefaultPrincipal.Realm = r.realm
	cc.DefaultPrincipal.PrincipalName = r.cname
	cred := &credentials.Credential{
		Key: r.sessionKey,
		// gokrb5 clients renew a ticket by themselves once less than (end - auth time)/6 is left; the start of
		// this ticket, not the first login, keeps that window at the last sixth of this ticket's lifetime.
		AuthTime:  start,
		StartTime: start,
		EndTime:   end,
		RenewTill: renewTill,
		Ticket:    raw,
	}
	cred.Client.Realm = r.realm
	cred.Client.PrincipalName = r.cname
	cred.Server.Realm = r.realm
	cred.Server.PrincipalName = types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", r.realm}}
	cc.Credentials = []*credentials.Credential{cred}
	cl, err := client.NewFromCCache(cc, r.conf)
	if err != nil {
		return nil, &LoginError{Reason: "the KDC's ticket cannot be used", Err: err}
	}
	return &ticket{client: cl, start: start, end: end, renewTill: renewTill, renew: r}, nil
}
