package client

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// KerberosOptions say where the Kerberos ticket to authenticate with comes from: the user's credentials
// cache, as kinit leaves it.
type KerberosOptions struct {
	// CCache is the ticket cache file; default $KRB5CCNAME (FILE: caches only), else /tmp/krb5cc_<uid>.
	CCache string
	// Krb5Conf is the Kerberos configuration; default $KRB5_CONFIG, else /etc/krb5.conf.
	Krb5Conf string
	// Eager negotiates with the first request. Otherwise a request is sent without credentials first and
	// negotiated only when the gateway answers 401 offering Negotiate (a request body that cannot be read
	// twice is then not resent: the 401 is returned).
	Eager bool
}

// DefaultCCache returns the ticket cache file the Kerberos tools use: $KRB5CCNAME without its FILE: prefix,
// else /tmp/krb5cc_<uid>. A cache of another type (KEYRING:, KCM:, DIR:) is an error.
func DefaultCCache() (string, error) {
	name := os.Getenv("KRB5CCNAME")
	if name == "" {
		return fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid()), nil
	}
	if rest, ok := strings.CutPrefix(name, "FILE:"); ok {
		return rest, nil
	}
	if i := strings.Index(name, ":"); i > 0 && !strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("KRB5CCNAME=%s: only FILE: ticket caches are supported (kinit -c FILE:/path)", name)
	}
	return name, nil
}

// negotiator authenticates a request with SPNEGO.
type negotiator func(r *http.Request) error

// newNegotiator loads the ticket cache and krb5.conf of opts into a gokrb5 client, and returns a negotiator
// that asks for a service ticket to HTTP/<host of the URL>.
func newNegotiator(opts KerberosOptions) (negotiator, error) {
	if opts.CCache == "" {
		p, err := DefaultCCache()
		if err != nil {
			return nil, fmt.Errorf("kerberos: %w", err)
		}
		opts.CCache = p
	}
	if opts.Krb5Conf == "" {
		opts.Krb5Conf = os.Getenv("KRB5_CONFIG")
	}
	if opts.Krb5Conf == "" {
		opts.Krb5Conf = "/etc/krb5.conf"
	}
	var (
		once sync.Once
		cl   *krbclient.Client
		err  error
	)
	load := func() (*krbclient.Client, error) {
		once.Do(func() { cl, err = loadCCacheClient(opts) })
		return cl, err
	}
	return func(r *http.Request) error {
		cl, err := load()
		if err != nil {
			return err
		}
		host := r.URL.Hostname()
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			host = "localhost" // service principals name hosts, and a test gateway's is HTTP/localhost
		}
		if err := spnego.SetSPNEGOHeader(cl, r, "HTTP/"+host); err != nil {
			return fmt.Errorf("kerberos: a service ticket for HTTP/%s: %w", host, err)
		}
		return nil
	}, nil
}

// loadCCacheClient reads the ticket cache and krb5.conf.
func loadCCacheClient(opts KerberosOptions) (*krbclient.Client, error) {
	cfg, err := krbconfig.Load(opts.Krb5Conf)
	if err != nil {
		return nil, fmt.Errorf("kerberos: read %s: %w", opts.Krb5Conf, err)
	}
	cc, err := credentials.LoadCCache(opts.CCache)
	if err != nil {
		return nil, fmt.Errorf("kerberos: read the ticket cache %s (kinit first): %w", opts.CCache, err)
	}
	cl, err := krbclient.NewFromCCache(cc, cfg, krbclient.DisablePAFXFAST(true))
	if err != nil {
		return nil, fmt.Errorf("kerberos: ticket cache %s: %w (kinit again)", opts.CCache, err)
	}
	return cl, nil
}

// authCookie is the gateway's authentication cookie, set after a successful negotiation.
const authCookie = "yarngate_auth"

// spnegoTransport authenticates requests with SPNEGO. The gateway answers a successful negotiation with
// an authentication cookie, which the http.Client's jar sends back: a request that carries it is not
// negotiated again, unless the gateway answers 401 (the cookie expired).
type spnegoTransport struct {
	base      http.RoundTripper
	negotiate negotiator
	eager     bool
}

// RoundTrip implements http.RoundTripper.
func (t *spnegoTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	_, cookieErr := req.Cookie(authCookie)
	if t.eager && cookieErr != nil {
		r := req.Clone(req.Context())
		if err := t.negotiate(r); err != nil {
			closeBody(req)
			return nil, err
		}
		return t.base.RoundTrip(r)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !offersNegotiate(resp) {
		return resp, err
	}
	r := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil
		}
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		r.Body = body
	}
	r.Header.Del("Cookie")
	if err := t.negotiate(r); err != nil {
		resp.Body.Close()
		closeBody(r)
		return nil, err
	}
	resp.Body.Close()
	return t.base.RoundTrip(r)
}

// offersNegotiate reports whether a 401 answer offers the Negotiate scheme.
func offersNegotiate(resp *http.Response) bool {
	for _, v := range resp.Header.Values("Www-Authenticate") {
		if strings.EqualFold(strings.Fields(v + " ")[0], "Negotiate") {
			return true
		}
	}
	return false
}

// closeBody closes a request's body, as a RoundTripper must even on error.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// CCacheExists reports whether the default ticket cache (DefaultCCache) is a file that exists.
func CCacheExists() bool {
	p, err := DefaultCCache()
	if err != nil {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
