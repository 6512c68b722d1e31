package app

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/kerberos"
	"github.com/yarngate/yarngate/tlscert"
)

// newAuthenticator builds the authentication of the gateway's callers from cfg.Auth. config.Validate has
// checked the combination of methods (none only on a loopback listen address).
func newAuthenticator(ctx context.Context, cfg config.Config, logger *slog.Logger) (*authn.Authenticator, error) {
	a := cfg.Auth
	opts := authn.Options{Groups: a.Groups, Logger: logger}
	realm := authRealm(cfg, logger)
	rules, err := authn.ParseRules(a.AuthToLocal, realm)
	if err != nil {
		return nil, err
	}
	opts.Rules = rules
	for _, m := range a.Methods {
		switch m {
		case config.AuthNone:
			opts.NoneUser = cfg.User
		case config.AuthKerberos:
			opts.Kerberos = &authn.KerberosOptions{Keytab: a.Kerberos.Keytab, Principal: a.Kerberos.Principal}
			opts.Cookie = authn.CookieOptions{Secret: []byte(a.Cookie.Secret.Reveal()), Lifetime: a.Cookie.Lifetime}
			if len(opts.Cookie.Secret) == 0 {
				logger.Info("no auth.cookie.secret: session cookies are signed with a key of this process; instances behind one load balancer need a shared secret")
			}
		case config.AuthToken:
			if a.TokensFile != "" {
				if opts.Tokens, err = authn.LoadStaticTokens(a.TokensFile, logger); err != nil {
					return nil, err
				}
			}
			if a.OIDC.Issuer != "" {
				if opts.OIDC, err = authn.NewJWTVerifier(authn.OIDCOptions{Issuer: a.OIDC.Issuer, Audience: a.OIDC.Audience,
					PrincipalClaim: a.OIDC.PrincipalClaim, GroupsClaim: a.OIDC.GroupsClaim}); err != nil {
					return nil, err
				}
				dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := opts.OIDC.Discover(dctx)
				cancel()
				if err != nil { // the gateway still starts; each request tries again (503 until then)
					logger.Warn("the OIDC issuer does not answer yet; JWTs are refused until it does", "issuer", a.OIDC.Issuer, "error", err)
				}
			}
		}
	}
	auth, err := authn.New(opts)
	if err != nil {
		return nil, err
	}
	attrs := []any{"methods", auth.Methods(), "defaultRealm", realm}
	if opts.Kerberos != nil {
		attrs = append(attrs, "spnegoPrincipal", a.Kerberos.Principal)
	}
	if opts.Tokens != nil {
		attrs = append(attrs, "staticTokens", opts.Tokens.Len())
	}
	if opts.OIDC != nil {
		attrs = append(attrs, "oidcIssuer", a.OIDC.Issuer)
	}
	logger.Info("authentication", attrs...)
	return auth, nil
}

// authRealm is the default realm of the auth_to_local rules: the SPNEGO principal's realm, else krb5.conf's
// default_realm, else none.
func authRealm(cfg config.Config, logger *slog.Logger) string {
	if _, realm, ok := strings.Cut(cfg.Auth.Kerberos.Principal, "@"); ok && realm != "" {
		return realm
	}
	if _, err := os.Stat(cfg.Kerberos.Krb5Conf); err != nil {
		return ""
	}
	realm, err := kerberos.DefaultRealm(cfg.Kerberos.Krb5Conf)
	if err != nil {
		logger.Warn("no default realm for auth_to_local's DEFAULT", "error", err)
		return ""
	}
	return realm
}

// serverTLS returns the HTTPS configuration of cfg.TLS, or nil to serve plain HTTP.
func serverTLS(cfg config.Config, logger *slog.Logger) (*tls.Config, error) {
	if cfg.TLS.CertFile == "" {
		return nil, nil
	}
	r, err := tlscert.New(tlscert.Options{CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile, Logger: logger})
	if err != nil {
		return nil, err
	}
	return r.TLSConfig(), nil
}
