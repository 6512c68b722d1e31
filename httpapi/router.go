// Package httpapi is yarngate's HTTP layer: a gin router with thin handlers over the services of package
// job (JarService, KeytabService, Service, ClusterService), rendering the wire types of package api.
//
// Dependency rule: httpapi imports api and job, never a cluster client (hdfs, yarnclient, zk, flink,
// flink/jobmanager, registry). Handlers bind and validate a request, call one service method with the
// request's context and render the result; they never call HDFS (or YARN, ZooKeeper) themselves, and
// *gin.Context never leaves them. The interfaces the handlers consume (jobAPI, sessionAPI, clusterAPI, flinkClusterAPI, keytabAPI) are
// declared here.
//
// Handlers return errors; classify (errors.go) is the one place that maps an error to a status and the body
// {"error": {"code", "message", "requestId", "details"}}, using job's errors (its sentinels, api.SpecError
// and the client errors it exports under its own names). The message is written for clients and never
// contains the cause (host names, Java exceptions, principals); the cause is logged with the request id, at
// debug level for 4xx and error level for 5xx.
//
// Middleware: request ids (X-Request-Id, echoed, generated when absent or invalid, carried in the context
// with job.WithRequestID), an slog access log, Prometheus request metrics on an injected registry, panic
// recovery to a 500 error body, and a read deadline on request bodies (BodyTimeout; jar uploads have their own
// per read). Every route under /v1 is authenticated (package authn): the caller's authn.Principal goes into
// the request's context (authn.WithPrincipal), where the service reads it with authn.FromContext; a caller
// without valid credentials gets 401 `unauthenticated` with the WWW-Authenticate challenges of the
// configured methods. Then per-client rate limits apply (limits.go, package throttle), the client being the
// principal (Options.ClientKey). Every mutating request under /v1 also gets a line in the audit log
// (audit.go). The probes (/healthz, /readyz) and /metrics are open: they carry no job
// data, and Prometheus and orchestrators scrape them without credentials.
package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/authn"
	"github.com/yarngate/yarngate/job"
	"github.com/yarngate/yarngate/throttle"
)

// authenticator turns a request's credentials into the caller's principal (an *authn.Authenticator). It may
// set headers on w: the session cookie after SPNEGO, the WWW-Authenticate challenges with an error.
type authenticator interface {
	Authenticate(w http.ResponseWriter, r *http.Request) (authn.Principal, error)
}

// Options configures the HTTP handler.
type Options struct {
	// Logger receives access and error logs. Required.
	Logger *slog.Logger
	// AuditLogger receives the audit log, one line per mutating request under /v1 ("audit"). Default
	// Logger with log=audit.
	AuditLogger *slog.Logger
	// Auth authenticates the callers of /v1 (usually an *authn.Authenticator; one with authn's none method
	// lets every caller in as the configured user). Required.
	Auth authenticator
	// Registry is served at /metrics. Required; the process-wide default registry is never used.
	Registry *prometheus.Registry
	// Metrics are the HTTP metrics registered on Registry (NewMetrics). Required.
	Metrics *Metrics
	// Jars is the jar service. Required.
	Jars *job.JarService
	// Jobs launches and tracks jobs (usually a *job.Service). When nil, the job routes answer 503.
	Jobs jobAPI
	// Sessions launches and tracks session clusters (usually the same *job.Service). When nil, the session
	// routes answer 503.
	Sessions sessionAPI
	// Logs serves the containers' logs of jobs and sessions (usually the same *job.Service). When nil, the
	// log routes answer 503.
	Logs logAPI
	// Cluster reports what the gateway sees of the cluster (usually a *ClusterService). When nil,
	// GET /v1/cluster answers 503.
	Cluster clusterAPI
	// FlinkClusters registers existing Flink clusters (usually the same *job.Service). When nil, the
	// /v1/clusters routes answer 503.
	FlinkClusters flinkClusterAPI
	// Keytabs keeps users' keytabs (usually a *job.KeytabService) on a Kerberized cluster. When nil, the
	// keytab routes answer 404 (not_found: the gateway keeps no keytabs).
	Keytabs keytabAPI
	// Dashboard is the web UI served under /ui/ (usually a *dashboard.Dashboard); nil: no /ui routes.
	Dashboard dashboardUI
	// Readiness lists the dependencies GET /readyz probes.
	Readiness []ReadinessCheck
	// MaxJarSize is the largest accepted jar in bytes. Required.
	MaxJarSize int64
	// UploadIdleTimeout bounds each read of an upload body. Default 60s.
	UploadIdleTimeout time.Duration
	// UploadPace is the minimum rate and the deadline of an upload body, from its first byte; a sender that
	// falls behind gets 408 upload_too_slow. Zero: neither.
	UploadPace throttle.PaceOptions
	// BodyTimeout bounds reading the body of a request other than a jar upload (a JSON job request). Default
	// 30s.
	BodyTimeout time.Duration
	// ClientKey names the client of a request for the per-client limits (WriteLimit, ReadLimit,
	// LongPollsPerClient). Default PrincipalOrRemoteIP: the authenticated principal, else (no authentication)
	// the remote address.
	ClientKey func(*http.Request) string
	// WriteLimit limits a client's mutating requests (every method but GET and HEAD) under /v1; ReadLimit
	// its reads. Beyond them: 429 rate_limited with Retry-After. Zero: no limit.
	WriteLimit, ReadLimit RateLimit
	// LongPolls caps concurrent long polls (?wait=) overall, LongPollsPerClient those of one client (0: no
	// cap). A long poll beyond a cap is answered at once with the current state.
	LongPolls, LongPollsPerClient int
	// Now is the clock of the limits. Default time.Now.
	Now func() time.Time
	// ReadyTimeout bounds GET /readyz. Default 5s.
	ReadyTimeout time.Duration
}

func (o *Options) validate() error {
	var errs []error
	if o.Logger == nil {
		errs = append(errs, errors.New("no logger"))
	}
	if o.Registry == nil || o.Metrics == nil {
		errs = append(errs, errors.New("no metrics registry"))
	}
	if o.Auth == nil {
		errs = append(errs, errors.New("no authenticator"))
	}
	if o.Jars == nil {
		errs = append(errs, errors.New("no jar service"))
	}
	if o.MaxJarSize <= 0 {
		errs = append(errs, errors.New("max jar size must be positive"))
	}
	if o.UploadIdleTimeout == 0 {
		o.UploadIdleTimeout = 60 * time.Second
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 5 * time.Second
	}
	if o.BodyTimeout == 0 {
		o.BodyTimeout = 30 * time.Second
	}
	if o.ClientKey == nil {
		o.ClientKey = PrincipalOrRemoteIP
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return errors.Join(errs...)
}

// server holds the handlers' dependencies.
type server struct {
	opts     Options
	metrics  *Metrics
	limits   limits
	auditLog *slog.Logger
}

// New returns the gateway's HTTP handler.
func New(opts Options) (http.Handler, error) {
	return newEngine(opts)
}

func newEngine(opts Options) (*gin.Engine, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &server{opts: opts, metrics: opts.Metrics, limits: newLimits(&opts), auditLog: opts.AuditLogger}
	if s.auditLog == nil {
		s.auditLog = opts.Logger.With("log", "audit")
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	if err := e.SetTrustedProxies(nil); err != nil { // ClientIP is the peer address, never a header
		return nil, err
	}
	e.Use(withRequestID(), s.accessLog(), s.recoverPanics(), s.bodyDeadline())
	e.NoRoute(s.handle(func(*gin.Context) error {
		return newAPIError(http.StatusNotFound, api.CodeNotFound, "no such route", nil)
	}))
	e.NoMethod(s.handle(func(*gin.Context) error {
		return newAPIError(http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "method not allowed on this route", nil)
	}))

	e.GET("/healthz", s.handle(s.healthz))
	e.GET("/readyz", s.handle(s.readyz))
	metrics := promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry})
	e.GET("/metrics", gin.WrapH(metrics))

	authenticated := e.Group("/v1", s.audit(), s.authenticate())
	authenticated.GET("/openapi.yaml", s.handle(s.openAPI)) // not rate-limited: a static document
	v1 := authenticated.Group("", s.limitRate())
	v1.GET("/cluster", s.handle(s.getCluster))
	v1.POST("/jars", s.handle(s.uploadJar))
	v1.GET("/jars", s.handle(s.listJars))
	v1.GET("/jars/:id", s.handle(s.getJar))
	v1.DELETE("/jars/:id", s.handle(s.deleteJar))
	v1.POST("/keytabs", s.handle(s.uploadKeytab))
	v1.GET("/keytabs", s.handle(s.listKeytabs))
	v1.GET("/keytabs/:id", s.handle(s.getKeytab))
	v1.DELETE("/keytabs/:id", s.handle(s.deleteKeytab))
	v1.POST("/jobs", s.handle(s.submitJob))
	v1.GET("/jobs", s.handle(s.listJobs))
	v1.GET("/jobs/:id", s.handle(s.getJob))
	v1.POST("/jobs/:id/cancel", s.handle(s.cancelJob))
	v1.POST("/jobs/:id/savepoints", s.handle(s.triggerSavepoint))
	v1.GET("/jobs/:id/savepoints", s.handle(s.listSavepoints))
	v1.POST("/jobs/:id/stop", s.handle(s.stopJob))
	v1.POST("/jobs/:id/upgrade", s.handle(s.upgradeJob))
	v1.GET("/jobs/:id/logs", s.handle(s.listJobLogs))
	v1.GET("/jobs/:id/logs/:containerId/:file", s.handle(s.getJobLog))
	v1.POST("/sessions", s.handle(s.createSession))
	v1.GET("/sessions", s.handle(s.listSessions))
	v1.GET("/sessions/:id", s.handle(s.getSession))
	v1.DELETE("/sessions/:id", s.handle(s.deleteSession))
	v1.GET("/sessions/:id/logs", s.handle(s.listSessionLogs))
	v1.GET("/sessions/:id/logs/:containerId/:file", s.handle(s.getSessionLog))
	v1.POST("/clusters", s.handle(s.registerFlinkCluster))
	v1.GET("/clusters", s.handle(s.listFlinkClusters))
	v1.GET("/clusters/:id", s.handle(s.getFlinkCluster))
	v1.DELETE("/clusters/:id", s.handle(s.deleteFlinkCluster))
	if opts.Dashboard != nil {
		s.routeDashboard(e)
	}
	return e, nil
}
