package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
)

// dashboardUI is the web UI under /ui/ (a *dashboard.Dashboard): pages for authenticated callers, open
// static assets, and the sign-in page.
type dashboardUI interface {
	// ServeHTTP serves GET requests under /ui/: the pages (after the authentication middleware) and the
	// static assets and sign-in page (open).
	ServeHTTP(w http.ResponseWriter, r *http.Request)
	// Login renders the sign-in page with status, saying problem when not empty.
	Login(w http.ResponseWriter, r *http.Request, status int, problem string)
	// Error renders err as an error page.
	Error(w http.ResponseWriter, r *http.Request, err error)
}

// TokenCookie carries the bearer token a browser signed in with through the dashboard's form (POST
// /ui/login). The authentication middleware takes it as an Authorization: Bearer header on requests that
// carry none: on the dashboard's pages and on reads (GET, HEAD) under /v1, which the dashboard's script
// makes (the log tail), never on writes, so no other site can make a browser act with it. HttpOnly (no
// script reads it), SameSite=Strict, Secure over HTTPS, for the browser session.
const TokenCookie = "yarngate_token"

// maxLoginForm bounds the sign-in form's body (a JWT is a few KiB).
const maxLoginForm = 16 << 10

// routeDashboard adds the dashboard's routes: GET /ui → /ui/; the static assets and the sign-in page open;
// sign-in and sign-out (POST, same origin only, audited); every page behind the authentication middleware and
// the read limits, like /v1.
func (s *server) routeDashboard(e *gin.Engine) {
	d := s.opts.Dashboard
	serve := gin.WrapH(d)
	e.GET("/ui", func(c *gin.Context) { c.Redirect(http.StatusFound, "/ui/") })
	open := e.Group("/ui")
	open.GET("/static/*file", serve)
	open.GET("/login", serve)
	forms := open.Group("", s.audit(), s.sameOrigin(), s.limitRate())
	forms.POST("/login", s.uiLogin)
	forms.POST("/logout", s.uiLogout)
	pages := e.Group("/ui", s.authenticateUI(), s.limitRate())
	for _, p := range []string{"/", "/jobs", "/jobs/:id", "/sessions", "/sessions/:id", "/cluster"} {
		pages.GET(p, serve)
	}
}

// withTokenCookie returns r with the dashboard's token cookie as its Authorization header, when it carries
// the cookie and no Authorization header, and may use it: a dashboard page (ui) or a read.
func withTokenCookie(r *http.Request, ui bool) *http.Request {
	if r.Header.Get("Authorization") != "" || !ui && r.Method != http.MethodGet && r.Method != http.MethodHead {
		return r
	}
	c, err := r.Cookie(TokenCookie)
	if err != nil || c.Value == "" {
		return r
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+c.Value)
	return r
}

// authenticateUI is authenticate for the dashboard's pages: a caller without valid credentials gets the
// sign-in page (401, with the WWW-Authenticate challenges, so a browser holding a Kerberos ticket
// negotiates), and a token cookie that was refused is removed.
func (s *server) authenticateUI() gin.HandlerFunc {
	return func(c *gin.Context) {
		req := withTokenCookie(c.Request, true)
		p, err := s.opts.Auth.Authenticate(c.Writer, req)
		if err != nil {
			ae := classify(err, s.opts.MaxJarSize)
			c.Set(ctxKeyErrorCode, ae.code)
			s.opts.Logger.DebugContext(c.Request.Context(), "dashboard request refused", "path", c.Request.URL.Path, "error", err.Error())
			if !errors.Is(err, authn.ErrUnauthenticated) {
				s.opts.Dashboard.Error(c.Writer, c.Request, err)
				c.Abort()
				return
			}
			problem := ""
			if _, cerr := c.Request.Cookie(TokenCookie); cerr == nil {
				clearTokenCookie(c)
				problem = "The token you signed in with is no longer accepted; sign in again."
			}
			s.opts.Dashboard.Login(c.Writer, c.Request, http.StatusUnauthorized, problem)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(authn.WithPrincipal(c.Request.Context(), p))
		c.Next()
	}
}

// sameOrigin refuses a form posted from another site: its Origin (browsers send one with every POST) must
// name this host, and Sec-Fetch-Site, when sent, must say same-origin.
func (s *server) sameOrigin() gin.HandlerFunc {
	return func(c *gin.Context) {
		site := c.GetHeader("Sec-Fetch-Site")
		origin := c.GetHeader("Origin")
		ok := site == "" || site == "same-origin"
		if origin != "" {
			u, err := url.Parse(origin)
			ok = ok && err == nil && u.Host == c.Request.Host
		}
		if !ok {
			s.renderError(c, newAPIError(http.StatusForbidden, api.CodeForbidden, "the form was posted from another site", nil))
			return
		}
		c.Next()
	}
}

// uiLogin handles POST /ui/login: the form's token is checked as a bearer token; if accepted it is set as
// the token cookie and the browser goes on to the page it came for (a path under /ui/), else the sign-in page
// says so (401).
func (s *server) uiLogin(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxLoginForm)
	token := strings.TrimSpace(c.PostForm("token"))
	next := safeNext(c.PostForm("next"))
	check := c.Request.Clone(c.Request.Context())
	check.Header.Set("Authorization", "Bearer "+token)
	check.Header.Del("Cookie")
	p, err := s.opts.Auth.Authenticate(c.Writer, check)
	if token == "" || err != nil {
		if err != nil && !errors.Is(err, authn.ErrUnauthenticated) {
			s.opts.Dashboard.Error(c.Writer, c.Request, err)
			return
		}
		c.Set(ctxKeyErrorCode, api.CodeUnauthenticated)
		s.opts.Dashboard.Login(c.Writer, c.Request, http.StatusUnauthorized, "The token was not accepted.")
		return
	}
	c.Request = c.Request.WithContext(authn.WithPrincipal(c.Request.Context(), p)) // for the audit line
	http.SetCookie(c.Writer, &http.Cookie{Name: TokenCookie, Value: token, Path: "/", HttpOnly: true,
		Secure: c.Request.TLS != nil, SameSite: http.SameSiteStrictMode})
	c.Redirect(http.StatusSeeOther, next)
}

// uiLogout handles POST /ui/logout: the token cookie is removed.
func (s *server) uiLogout(c *gin.Context) {
	clearTokenCookie(c)
	c.Redirect(http.StatusSeeOther, "/ui/login")
}

func clearTokenCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{Name: TokenCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: c.Request.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// safeNext is next when it is a path of the dashboard (where to go after signing in), else /ui/.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "/ui/login") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}
