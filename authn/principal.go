// Package authn authenticates the gateway's callers: it turns a request's credentials (SPNEGO, a bearer
// token, or none on a loopback-only gateway) into a Principal, and carries the Principal in the request's
// context for the layers below, which decide what the caller may do (package job) and as whom jobs run.
//
// Dependency rule: authn imports nothing of ours; httpapi installs its middleware, app configures it.
package authn

import (
	"context"
	"slices"
)

// Method names how a caller authenticated.
type Method string

// Methods of authentication.
const (
	// MethodKerberos is SPNEGO (or the session cookie issued after it).
	MethodKerberos Method = "kerberos"
	// MethodToken is a static bearer token from the tokens file.
	MethodToken Method = "token"
	// MethodJWT is a bearer JWT validated against an OIDC issuer's keys.
	MethodJWT Method = "jwt"
	// MethodNone is a gateway without authentication (loopback only): every caller is the configured user.
	MethodNone Method = "none"
)

// Principal is an authenticated caller.
type Principal struct {
	// Name is the principal as authenticated: a Kerberos principal (alice@EXAMPLE.COM), a token's
	// principal, or a JWT's subject.
	Name string
	// User is the short user name Name maps to (auth_to_local-like rules): the owner of what the caller
	// creates and, with impersonation, the user jobs run as.
	User string
	// Groups are the caller's groups, from the token or the configured mapping.
	Groups []string
	// Method is how the caller authenticated.
	Method Method
}

// InGroup reports whether the principal is in group.
func (p Principal) InGroup(group string) bool { return slices.Contains(p.Groups, group) }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
