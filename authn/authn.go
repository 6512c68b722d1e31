package authn

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// ErrUnauthenticated is wrapped by every error Authenticate returns for a caller without valid credentials
// (none, malformed, expired, wrong signature, unknown token, a principal no rule maps): HTTP 401. The
// wrapping message says why, for the log only; it may name the principal, so it is never sent to clients.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrUnavailable is wrapped when credentials cannot be checked now (the OIDC issuer does not answer): HTTP 503.
var ErrUnavailable = errors.New("authentication unavailable")

// Options configures New. At least one of Kerberos, Tokens and OIDC, or NoneUser, must be set.
type Options struct {
	// Kerberos turns SPNEGO on, with a session cookie after success.
	Kerberos *KerberosOptions
	// Tokens turns static bearer tokens on.
	Tokens *StaticTokens
	// OIDC turns bearer JWTs of an OIDC issuer on.
	OIDC *JWTVerifier
	// NoneUser, when set, turns authentication off: every caller is this user (MethodNone). It excludes the
	// other methods; app allows it only on a loopback listen address.
	NoneUser string
	// Rules maps principals to users. Default: DEFAULT without a default realm (names without a realm map
	// to themselves, Kerberos principals to nothing).
	Rules *Rules
	// Groups maps users to groups, for callers whose credentials carry none (Kerberos, tokens without
	// groups, JWTs without the groups claim).
	Groups map[string][]string
	// Cookie configures the session cookie issued after SPNEGO. Required with Kerberos.
	Cookie CookieOptions
	// Logger receives what the 401 answers do not say. Required.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Authenticator authenticates requests with the configured methods. It is safe for concurrent use.
type Authenticator struct {
	spnego     *spnegoService
	tokens     *StaticTokens
	oidc       *JWTVerifier
	cookies    *cookieCodec
	noneUser   string
	rules      *Rules
	groups     map[string][]string
	challenges []string
	logger     *slog.Logger
	now        func() time.Time
}

// New returns an Authenticator for opts.
func New(opts Options) (*Authenticator, error) {
	if opts.Logger == nil {
		return nil, errors.New("authn: no logger")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rules == nil {
		opts.Rules = DefaultRules("")
	}
	a := &Authenticator{tokens: opts.Tokens, oidc: opts.OIDC, noneUser: opts.NoneUser, rules: opts.Rules,
		groups: opts.Groups, logger: opts.Logger, now: opts.Now}
	methods := opts.Kerberos != nil || opts.Tokens != nil || opts.OIDC != nil
	switch {
	case opts.NoneUser != "" && methods:
		return nil, errors.New("authn: none excludes the other methods")
	case opts.NoneUser == "" && !methods:
		return nil, errors.New("authn: no method configured")
	}
	if opts.Kerberos != nil {
		s, err := newSPNEGOService(*opts.Kerberos)
		if err != nil {
			return nil, err
		}
		a.spnego = s
		if a.cookies, err = newCookieCodec(opts.Cookie, opts.Now); err != nil {
			return nil, err
		}
		a.challenges = append(a.challenges, "Negotiate")
	}
	if opts.Tokens != nil || opts.OIDC != nil {
		a.challenges = append(a.challenges, `Bearer realm="yarngate"`)
	}
	return a, nil
}

// Methods returns the methods a caller may use, for logs.
func (a *Authenticator) Methods() []Method {
	if a.noneUser != "" {
		return []Method{MethodNone}
	}
	var m []Method
	if a.spnego != nil {
		m = append(m, MethodKerberos)
	}
	if a.tokens != nil {
		m = append(m, MethodToken)
	}
	if a.oidc != nil {
		m = append(m, MethodJWT)
	}
	return m
}

// Authenticate returns the principal of r's caller. Credentials are tried in this order: a valid session
// cookie, an Authorization header (Negotiate, or Bearer: a static token, else a JWT). After a successful
// SPNEGO exchange it sets the session cookie and the final Negotiate token on w. On failure it sets the
// WWW-Authenticate challenges of the configured methods on w and returns an error wrapping
// ErrUnauthenticated (or ErrUnavailable); the caller renders the answer.
func (a *Authenticator) Authenticate(w http.ResponseWriter, r *http.Request) (Principal, error) {
	if a.noneUser != "" {
		return Principal{Name: a.noneUser, User: a.noneUser, Groups: a.groups[a.noneUser], Method: MethodNone}, nil
	}
	p, err := a.authenticate(w, r)
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			a.challenge(w, r)
		}
		return Principal{}, err
	}
	return p, nil
}

func (a *Authenticator) authenticate(w http.ResponseWriter, r *http.Request) (Principal, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	cred = strings.TrimSpace(cred)
	if scheme == "" && a.cookies != nil {
		if c, err := r.Cookie(CookieName); err == nil {
			p, err := a.cookies.decode(c.Value)
			if err != nil {
				return Principal{}, fmt.Errorf("%w: session cookie: %w", ErrUnauthenticated, err)
			}
			return p, nil
		}
	}
	switch {
	case scheme == "":
		return Principal{}, fmt.Errorf("%w: no credentials", ErrUnauthenticated)
	case strings.EqualFold(scheme, "Negotiate") && a.spnego != nil:
		name, ticketEnd, err := a.spnego.accept(cred, r.RemoteAddr)
		if err != nil {
			return Principal{}, err
		}
		p, err := a.principal(name, nil, MethodKerberos)
		if err != nil {
			return Principal{}, err
		}
		value, expires, err := a.cookies.encode(p, ticketEnd)
		if err != nil {
			return Principal{}, err
		}
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: value, Path: "/", Expires: expires,
			HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
		w.Header().Set("WWW-Authenticate", "Negotiate "+negotiateAcceptCompleted)
		return p, nil
	case strings.EqualFold(scheme, "Bearer") && (a.tokens != nil || a.oidc != nil):
		if cred == "" {
			return Principal{}, fmt.Errorf("%w: empty bearer token", ErrUnauthenticated)
		}
		if a.tokens != nil {
			if t, ok := a.tokens.lookup(cred); ok {
				return a.principal(t.Principal, t.Groups, MethodToken)
			}
		}
		if a.oidc != nil && strings.Count(cred, ".") == 2 {
			name, groups, err := a.oidc.verify(r.Context(), cred)
			if err != nil {
				return Principal{}, err
			}
			return a.principal(name, groups, MethodJWT)
		}
		return Principal{}, fmt.Errorf("%w: unknown bearer token", ErrUnauthenticated)
	default:
		return Principal{}, fmt.Errorf("%w: authorization scheme %q is not accepted", ErrUnauthenticated, scheme)
	}
}

// principal maps name to its user and completes the groups from the mapping when the credentials carried none.
func (a *Authenticator) principal(name string, groups []string, m Method) (Principal, error) {
	user, err := a.rules.ShortName(name)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	if len(groups) == 0 {
		groups = a.groups[user]
	}
	return Principal{Name: name, User: user, Groups: slices.Clone(groups), Method: m}, nil
}

// challenge sets one WWW-Authenticate header per method; a rejected bearer token gets RFC 6750's
// invalid_token error.
func (a *Authenticator) challenge(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Del("WWW-Authenticate")
	bearer := strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "bearer ")
	for _, c := range a.challenges {
		if bearer && strings.HasPrefix(c, "Bearer") {
			c += `, error="invalid_token"`
		}
		h.Add("WWW-Authenticate", c)
	}
}
