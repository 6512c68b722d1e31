package kerberos

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/krberror"
)

// LoginError is a failed login: Reason says what is wrong in words safe to show to any client (no principal,
// path, host or key), Err is the cause for the logs.
type LoginError struct {
	// Reason is the client-safe explanation, such as "the keytab holds no key for the principal".
	Reason string
	// Err is the cause.
	Err error
}

func (e *LoginError) Error() string { return "kerberos login: " + e.Reason + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *LoginError) Unwrap() error { return e.Err }

// PublicReason returns Reason; /readyz shows it.
func (e *LoginError) PublicReason() string { return "kerberos: " + e.Reason }

// kdcErrorHints explains the KDC error codes an operator can act on.
var kdcErrorHints = map[int32]string{
	errorcode.KDC_ERR_C_PRINCIPAL_UNKNOWN: "the KDC does not know the principal",
	errorcode.KDC_ERR_PREAUTH_FAILED:      "the KDC rejected the keytab's key (an outdated key version, or the principal's key changed)",
	errorcode.KDC_ERR_CLIENT_REVOKED:      "the principal is disabled or locked in the KDC",
	errorcode.KDC_ERR_KEY_EXPIRED:         "the principal's key has expired",
	errorcode.KDC_ERR_ETYPE_NOSUPP:        "the KDC supports none of the keytab's encryption types",
	errorcode.KRB_AP_ERR_SKEW:             "the clocks of the gateway and the KDC differ too much",
	errorcode.KDC_ERR_POLICY:              "the KDC's policy refuses the login",
	errorcode.KDC_ERR_BADOPTION:           "the KDC refused an option of the request (a ticket that is not renewable?)",
	errorcode.KRB_AP_ERR_TKT_EXPIRED:      "the ticket expired before it could be renewed",
	errorcode.KDC_ERR_WRONG_REALM:         "the KDC does not serve the principal's realm (krb5.conf sends the realm to another realm's KDC?)",
}

// krbErrorCode matches how gokrb5 renders a KRB-ERROR from the KDC (messages.KRBError.Error) inside the text
// of its krberror.Krberror, which keeps no typed cause.
var krbErrorCode = regexp.MustCompile(`KRB Error: \((\d+)\)`)

// closedWithoutAnswer matches gokrb5's text for a KDC connection closed before any answer arrived.
var closedWithoutAnswer = regexp.MustCompile(`error reading response size header: EOF`)

// exchangeError explains a failed exchange with the KDC. gokrb5 classifies its errors by RootCause; the KDC's
// error code survives only in the text, and is read from there for the explanation alone.
func exchangeError(what string, err error) *LoginError {
	reason := "the " + what + " failed"
	var ke krberror.Krberror
	if errors.As(err, &ke) {
		switch ke.RootCause {
		case krberror.NetworkingError:
			reason = "the KDC cannot be reached (it is down or unreachable, or krb5.conf names the wrong host or port)"
			if closedWithoutAnswer.MatchString(ke.Error()) {
				// A KDC that accepts the connection and closes it unanswered: Kerby's answer to a realm it
				// does not serve.
				reason = "the KDC closed the connection without answering (does it serve the principal's realm?)"
			}
		case krberror.KDCError:
			reason = "the KDC refused the " + what
			if m := krbErrorCode.FindStringSubmatch(ke.Error()); m != nil {
				code, _ := strconv.ParseInt(m[1], 10, 32)
				if hint, ok := kdcErrorHints[int32(code)]; ok {
					reason = hint
				} else {
					reason = fmt.Sprintf("the KDC refused the %s (Kerberos error %d)", what, code)
				}
			}
		case krberror.ConfigError:
			reason = "krb5.conf names no KDC for the principal's realm"
		case krberror.EncryptingError:
			reason = "the keytab has no key of an encryption type krb5.conf allows"
		case krberror.DecryptingError, krberror.KRBMsgError, krberror.ChksumError:
			reason = "the KDC's answer does not decrypt with the keytab's key (an outdated keytab?)"
		}
	}
	return &LoginError{Reason: reason, Err: err}
}
