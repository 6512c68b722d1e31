package kerberos

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
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

// login does an AS exchange with the keytab's key, reading krb5.conf and the keytab afresh.
func (k *gokrb5KDC) login() (*ticket, error) {
	s, serr := readSetup(k.principal, k.keytab, k.krb5Conf)
	if serr != nil {
		return nil, serr.loginError()
	}
	conf, cname, realm, kt := s.conf, s.cname, s.realm, s.kt
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
