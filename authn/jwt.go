package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// discoveryRetry is how long a failed issuer discovery is remembered before the next request tries again.
const discoveryRetry = 5 * time.Second

// OIDCOptions configures a JWTVerifier.
type OIDCOptions struct {
	// Issuer is the issuer URL: its /.well-known/openid-configuration names the JWKS, and tokens must carry
	// it as iss. Required.
	Issuer string
	// Audience is the aud a token must carry (the client id the issuer gives the gateway). Required.
	Audience string
	// PrincipalClaim is the claim naming the caller. Default "sub".
	PrincipalClaim string
	// GroupsClaim is the claim listing the caller's groups (a string array or a string). Default "groups".
	GroupsClaim string
	// HTTPClient fetches the discovery document and the keys. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// JWTVerifier verifies bearer JWTs signed by an OIDC issuer's keys (JWKS, fetched again when a token names an
// unknown key): the signature with an algorithm the issuer announces (never "none"), iss, aud and exp. The
// issuer is discovered on first use, so that the gateway starts while the issuer is down (Discover at start-up
// only warns early).
type JWTVerifier struct {
	opts OIDCOptions

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	failed   time.Time
	err      error
}

// NewJWTVerifier returns a verifier for opts; it does no I/O.
func NewJWTVerifier(opts OIDCOptions) (*JWTVerifier, error) {
	if opts.Issuer == "" || opts.Audience == "" {
		return nil, errors.New("authn: OIDC needs an issuer and an audience")
	}
	if opts.PrincipalClaim == "" {
		opts.PrincipalClaim = "sub"
	}
	if opts.GroupsClaim == "" {
		opts.GroupsClaim = "groups"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &JWTVerifier{opts: opts}, nil
}

// Discover fetches the issuer's discovery document now, unless it was fetched already.
func (v *JWTVerifier) Discover(ctx context.Context) error {
	_, err := v.idTokenVerifier(ctx)
	return err
}

func (v *JWTVerifier) idTokenVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if v.err != nil && v.opts.Now().Sub(v.failed) < discoveryRetry {
		return nil, v.err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, v.opts.HTTPClient), v.opts.Issuer)
	if err != nil {
		v.err, v.failed = fmt.Errorf("%w: OIDC discovery of %s: %w", ErrUnavailable, v.opts.Issuer, err), v.opts.Now()
		return nil, v.err
	}
	v.verifier, v.err = p.Verifier(&oidc.Config{ClientID: v.opts.Audience, Now: v.opts.Now}), nil
	return v.verifier, nil
}

// verify checks raw and returns the principal and groups its claims name.
func (v *JWTVerifier) verify(ctx context.Context, raw string) (string, []string, error) {
	ver, err := v.idTokenVerifier(ctx)
	if err != nil {
		return "", nil, err
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		return "", nil, fmt.Errorf("%w: JWT refused: %w", ErrUnauthenticated, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return "", nil, fmt.Errorf("%w: JWT claims: %w", ErrUnauthenticated, err)
	}
	name, _ := claims[v.opts.PrincipalClaim].(string)
	if name == "" {
		return "", nil, fmt.Errorf("%w: JWT has no %s claim", ErrUnauthenticated, v.opts.PrincipalClaim)
	}
	var groups []string
	switch g := claims[v.opts.GroupsClaim].(type) {
	case string:
		groups = []string{g}
	case []any:
		for _, e := range g {
			if s, ok := e.(string); ok && s != "" {
				groups = append(groups, s)
			}
		}
	}
	return name, groups, nil
}
