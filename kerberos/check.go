package kerberos

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/krberror"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// ErrKDCUnavailable means no KDC of the realm answered; CheckKeytab's error wraps it then.
var ErrKDCUnavailable = errors.New("kerberos: no KDC answered")

// CheckKeytab tries the keys of a keytab (its encoded content) with one AS exchange as principal
// (name[/instance]@REALM; without a realm, krb5.conf's default_realm), reading krb5Conf afresh, and drops
// the ticket. A KDC that refuses the login (a stale key version, a changed password, an unknown principal)
// gives a *LoginError whose PublicReason says why; an unreachable KDC an error that also wraps
// ErrKDCUnavailable. gokrb5 takes no context: the exchange is bounded by its own dial and read timeouts,
// and an ended ctx returns at once while the exchange finishes in the background.
func CheckKeytab(ctx context.Context, krb5Conf, principal string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("try keytab: %w", err)
	}
	conf, serr := loadKrb5Conf(krb5Conf)
	if serr != nil {
		return serr.loginError()
	}
	cname, realm := types.ParseSPNString(principal)
	cname.NameType = nametype.KRB_NT_PRINCIPAL
	if realm == "" {
		realm = conf.LibDefaults.DefaultRealm
	}
	if realm == "" {
		return &LoginError{Reason: "the principal names no realm and krb5.conf has no default_realm",
			Err: fmt.Errorf("principal %q without realm", principal)}
	}
	if serr := checkKDCs(conf, realm, krb5Conf); serr != nil {
		return serr.loginError()
	}
	kt := keytab.New()
	if err := kt.Unmarshal(data); err != nil {
		return &LoginError{Reason: "the keytab cannot be parsed", Err: err}
	}
	done := make(chan error, 1)
	go func() {
		kc := client.NewWithKeytab(strings.Join(cname.NameString, "/"), realm, kt, conf)
		asReq, err := messages.NewASReqForTGT(realm, conf, cname)
		if err == nil {
			_, err = kc.ASExchange(realm, asReq, 0)
		}
		done <- err
	}()
	select {
	case <-ctx.Done():
		return fmt.Errorf("try keytab: %w", ctx.Err())
	case err := <-done:
		if err == nil {
			return nil
		}
		le := exchangeError("login", err)
		var ke krberror.Krberror
		if errors.As(err, &ke) && ke.RootCause == krberror.NetworkingError {
			return fmt.Errorf("%w: %w", ErrKDCUnavailable, le)
		}
		return le
	}
}
