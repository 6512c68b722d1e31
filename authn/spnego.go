package authn

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// negotiateAcceptCompleted is the NegTokenResp (negState accept-completed, mech Kerberos) sent with a
// successful answer, as gokrb5's and Hadoop's SPNEGO filters do.
const negotiateAcceptCompleted = "oRQwEqADCgEAoQsGCSqGSIb3EgECAg=="

// KerberosOptions configures the SPNEGO authenticator.
type KerberosOptions struct {
	// Keytab is the keytab file holding the service principal's keys. It is read again when it changes.
	Keytab string
	// Principal is the service principal, such as HTTP/gateway.example.com (a realm, if given, is ignored:
	// the key is found by name in the keytab). Clients ask for a ticket to HTTP/<host of the URL>.
	Principal string
	// MaxClockSkew bounds the difference between the clients' clocks and ours. Default 5m.
	MaxClockSkew time.Duration
}

// spnegoService accepts SPNEGO (Kerberos) context tokens with the keytab's key: one round, no mutual
// authentication token beyond accept-completed, as Hadoop's AuthenticationFilter.
type spnegoService struct {
	path      string
	principal string
	skew      time.Duration

	mu      sync.Mutex
	kt      *keytab.Keytab
	ktMod   time.Time
	checked time.Time
}

func newSPNEGOService(opts KerberosOptions) (*spnegoService, error) {
	if opts.Keytab == "" || opts.Principal == "" {
		return nil, errors.New("authn: SPNEGO needs a keytab and a service principal")
	}
	name, _, _ := strings.Cut(opts.Principal, "@")
	if opts.MaxClockSkew <= 0 {
		opts.MaxClockSkew = 5 * time.Minute
	}
	s := &spnegoService{path: opts.Keytab, principal: name, skew: opts.MaxClockSkew}
	kt, err := s.keytab()
	if err != nil {
		return nil, err
	}
	if !hasPrincipal(kt, name) {
		return nil, fmt.Errorf("authn: the keytab %s holds no key of %s", opts.Keytab, name)
	}
	return s, nil
}

// keytab returns the keytab, read again when its modification time changed (checked at most every 10 s).
func (s *spnegoService) keytab() (*keytab.Keytab, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.kt != nil && now.Sub(s.checked) < 10*time.Second {
		return s.kt, nil
	}
	s.checked = now
	fi, err := os.Stat(s.path)
	if err != nil {
		if s.kt != nil {
			return s.kt, nil // keep the keys we have
		}
		return nil, fmt.Errorf("authn: SPNEGO keytab: %w", err)
	}
	if s.kt != nil && fi.ModTime().Equal(s.ktMod) {
		return s.kt, nil
	}
	kt, err := keytab.Load(s.path)
	if err != nil {
		if s.kt != nil {
			return s.kt, nil
		}
		return nil, fmt.Errorf("authn: SPNEGO keytab %s: %w", s.path, err)
	}
	s.kt, s.ktMod = kt, fi.ModTime()
	return kt, nil
}

func hasPrincipal(kt *keytab.Keytab, name string) bool {
	for _, e := range kt.Entries {
		if e.Principal.String() == name || strings.Join(e.Principal.Components, "/") == name {
			return true
		}
	}
	return false
}

// accept verifies the base64 SPNEGO (or raw Kerberos) token of an Authorization: Negotiate header and
// returns the client's principal, name@REALM, and the end of its service ticket's validity.
func (s *spnegoService) accept(header, remoteAddr string) (string, time.Time, error) {
	raw, err := base64.StdEncoding.DecodeString(header)
	if err != nil || len(raw) == 0 {
		return "", time.Time{}, fmt.Errorf("%w: Negotiate token is not base64", ErrUnauthenticated)
	}
	var mech []byte
	var st spnego.SPNEGOToken
	if err := st.Unmarshal(raw); err == nil && st.Init {
		if !supportedMech(st.NegTokenInit.MechTypes) || len(st.NegTokenInit.MechTokenBytes) == 0 {
			return "", time.Time{}, fmt.Errorf("%w: SPNEGO without a Kerberos token (NTLM?)", ErrUnauthenticated)
		}
		mech = st.NegTokenInit.MechTokenBytes
	} else {
		mech = raw // a raw Kerberos GSS token, which some clients send
	}
	var k spnego.KRB5Token
	if err := k.Unmarshal(mech); err != nil || !k.IsAPReq() {
		return "", time.Time{}, fmt.Errorf("%w: Negotiate token holds no Kerberos AP-REQ", ErrUnauthenticated)
	}
	kt, err := s.keytab()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	settings := []func(*service.Settings){service.KeytabPrincipal(s.principal), service.MaxClockSkew(s.skew),
		service.DecodePAC(false)}
	if h, err := types.GetHostAddress(remoteAddr); err == nil {
		settings = append(settings, service.ClientAddress(h))
	}
	ok, creds, err := service.VerifyAPREQ(&k.APReq, service.NewSettings(kt, settings...))
	if err != nil || !ok {
		return "", time.Time{}, fmt.Errorf("%w: Kerberos AP-REQ refused: %v", ErrUnauthenticated, err)
	}
	cname := creds.CName()
	return cname.PrincipalNameString() + "@" + creds.Realm(), creds.ValidUntil(), nil
}

func supportedMech(mechs []asn1.ObjectIdentifier) bool {
	return len(mechs) > 0 && (mechs[0].Equal(gssapi.OIDKRB5.OID()) || mechs[0].Equal(gssapi.OIDMSLegacyKRB5.OID()))
}
