package authn

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CookieName is the session cookie set after a successful SPNEGO exchange.
const CookieName = "yarngate_auth"

// MinCookieSecret is the shortest accepted cookie secret, in bytes.
const MinCookieSecret = 32

// CookieOptions configures the session cookie.
type CookieOptions struct {
	// Secret signs the cookies (HMAC-SHA256), at least MinCookieSecret bytes. Instances behind one load
	// balancer need the same secret. Empty: a random secret per process (cookies die with the process and
	// another instance refuses them; the client then authenticates again).
	Secret []byte
	// Lifetime is how long a cookie is accepted. Default 10h (Hadoop's hadoop.http.authentication.token.validity).
	Lifetime time.Duration
}

// cookieCodec encodes principals into signed, expiring cookie values and back.
type cookieCodec struct {
	secret   []byte
	lifetime time.Duration
	now      func() time.Time
}

// cookiePayload is what a cookie carries; field names are short to keep the cookie small.
type cookiePayload struct {
	Name    string   `json:"n"`
	User    string   `json:"u"`
	Groups  []string `json:"g,omitempty"`
	Method  Method   `json:"m"`
	Expires int64    `json:"e"`
}

func newCookieCodec(opts CookieOptions, now func() time.Time) (*cookieCodec, error) {
	secret := opts.Secret
	if len(secret) == 0 {
		secret = make([]byte, MinCookieSecret)
		rand.Read(secret)
	} else if len(secret) < MinCookieSecret {
		return nil, fmt.Errorf("authn: the cookie secret has %d bytes, fewer than %d", len(secret), MinCookieSecret)
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = 10 * time.Hour
	}
	return &cookieCodec{secret: secret, lifetime: opts.Lifetime, now: now}, nil
}

// encode returns the cookie value for p and when it expires: base64url(JSON payload) "." base64url(HMAC).
// The cookie expires after the lifetime, or with the credentials it stands for (notAfter, when not zero),
// whichever comes first.
func (c *cookieCodec) encode(p Principal, notAfter time.Time) (string, time.Time, error) {
	expires := c.now().Add(c.lifetime)
	if !notAfter.IsZero() && notAfter.Before(expires) {
		expires = notAfter
	}
	expires = expires.Truncate(time.Second)
	b, err := json.Marshal(cookiePayload{Name: p.Name, User: p.User, Groups: p.Groups, Method: p.Method, Expires: expires.Unix()})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("authn: encode cookie: %w", err)
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(c.sign(payload)), expires, nil
}

// decode verifies value's signature and expiry and returns the principal it carries.
func (c *cookieCodec) decode(value string) (Principal, error) {
	payload, sig, ok := strings.Cut(value, ".")
	if !ok {
		return Principal{}, errors.New("malformed")
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, c.sign(payload)) {
		return Principal{}, errors.New("bad signature")
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Principal{}, errors.New("malformed")
	}
	var p cookiePayload
	if err := json.Unmarshal(b, &p); err != nil {
		return Principal{}, errors.New("malformed")
	}
	if !c.now().Before(time.Unix(p.Expires, 0)) {
		return Principal{}, errors.New("expired")
	}
	return Principal{Name: p.Name, User: p.User, Groups: p.Groups, Method: p.Method}, nil
}

func (c *cookieCodec) sign(payload string) []byte {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte("yarngate-auth-cookie-v1\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}
