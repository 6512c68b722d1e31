package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/launch"
	"github.com/yarngate/yarngate/reconcile"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/yarnclient"
)

// Errors of the job service, rendered by the HTTP layer.
var (
	// ErrJobNotFound: no job with this id.
	ErrJobNotFound = errors.New("job not found")
	// ErrIdempotencyKeyReused: an Idempotency-Key came back with a different request.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")
	// ErrJarNotFound: the job names a jar that is not staged.
	ErrJarNotFound = launch.ErrJarNotFound
	// ErrUnknownQueue: the scheduler has no such leaf queue.
	ErrUnknownQueue = launch.ErrUnknownQueue
	// ErrYARNRejected: the ResourceManager refused the application.
	ErrYARNRejected = launch.ErrYARNRejected
)

// launcher starts clusters and runs session jobs; *launch.Launcher implements it.
type launcher interface {
	FlinkVersions() []string
	Prepare(ctx context.Context, s launch.Spec) (*launch.Prepared, error)
	NewApplication(ctx context.Context, p *launch.Prepared) (*yarnclient.NewApplication, error)
	Submit(ctx context.Context, p *launch.Prepared, na *yarnclient.NewApplication) (launch.Launched, error)
	FindByTags(ctx context.Context, idemTag, specTag string, kind launch.Kind) (*yarnclient.App, error)
	Jar(ctx context.Context, jarID, jarPath, entryClass string) (flink.RemoteFile, string, error)
	RunInSession(ctx context.Context, r launch.SessionRun) (launch.SessionResult, error)
	ShutdownSession(ctx context.Context, sessionID, jmURL string) error
}

// rmClient is what the service asks the ResourceManager itself; *yarnclient.Client implements it.
type rmClient interface {
	Kill(ctx context.Context, id, diagnostics string) (yarnclient.AppState, error)
	ActiveRM() (yarnclient.RM, bool)
}

// recordRegistry is what the service needs of the registry; *registry.Registry implements it.
type recordRegistry interface {
	Get(ctx context.Context, id string) (registry.Record, error)
	Cached(id string) (registry.Record, bool)
	ByApplication(appID string) (registry.Record, bool)
	List(keep func(*registry.Summary) bool) []registry.Record
	Lookup(id string) (registry.Summary, bool)
	Count(keep func(*registry.Summary) bool) int
	Newest(createdAt time.Time, id string, f func(*registry.Summary) bool)
	Changed(id string) <-chan struct{}
	Create(ctx context.Context, rec registry.Record) (registry.Record, error)
	Update(ctx context.Context, id string, change func(*registry.Record) (bool, error)) (registry.Record, error)
	Delete(ctx context.Context, rec registry.Record) error
	Claim(ctx context.Context, keyHash string) (registry.KeyClaim, error)
	ClaimKey(ctx context.Context, keyHash string, c registry.KeyClaim) (registry.KeyClaim, bool, error)
	MoveClaim(ctx context.Context, keyHash string, c registry.KeyClaim) (registry.KeyClaim, error)
	ReleaseKey(ctx context.Context, keyHash string) error
}

// observer observes one record at once and reports on the reconciler; *reconcile.Reconciler implements it.
type observer interface {
	Observe(ctx context.Context, id string) error
	Leading() bool
	LastPass() time.Time
}

// instanceLister lists the gateway instances that run now; *zk.Election implements it.
type instanceLister interface {
	Members(ctx context.Context) ([]string, error)
}

// Options configure a Service.
type Options struct {
	// Launcher, RM, Registry and Observer are required.
	Launcher launcher
	RM       rmClient
	Registry recordRegistry
	Observer observer
	// Instances lists the running instances (a launch claimed by one that stopped is taken over); nil means
	// only this one runs.
	Instances instanceLister
	// Instance identifies this process among those sharing the registry. Required.
	Instance string
	// Backend names the registry's store for the cluster view ("zookeeper", "embedded").
	Backend string
	// User is the Hadoop user the clusters run as, and the caller of a request without a principal (a
	// gateway without authentication). Required.
	User string
	// Keytabs, on a Kerberized cluster, holds the keytabs jobs and sessions name (keytabId); nil refuses
	// keytabId.
	Keytabs *KeytabService
	// Admins may see and act on every job and session.
	Admins Admins
	// Jars, when set, restricts the staged jars a job may name (jarId) to those its caller owns.
	Jars *JarOwnership
	// Impersonation says as whom launches run and who may submit for others (proxyUser).
	Impersonation Impersonation
	// Clusters finds the JobManagers of registered Flink clusters (*flinkcluster.Locator); nil: clusters
	// cannot be registered (ErrClustersDisabled).
	Clusters clusterLocator
	// IdempotencySecret keys the HMAC that names an idempotency key in its application's YARN tag
	// (ident.IdempotencyTags); every instance sharing the registry must have the same one
	// (registry.Registry.Secret). At least 16 bytes; required.
	IdempotencySecret []byte
	// CheckWebhook validates a job's webhook (URL policy, secret name); nil refuses notifications.
	CheckWebhook func(url, secret string) error
	// MaxWait caps long polls. Default 5 minutes.
	MaxWait time.Duration
	// LaunchTimeout bounds a launch from the moment YARN gave it an application id, whatever becomes of its
	// caller. Default 10 minutes.
	LaunchTimeout time.Duration
	// JobManagerTimeout bounds one JobManager call (cancel, session shutdown). Default 5s.
	JobManagerTimeout time.Duration
	// SavepointRoot is the fully qualified directory under which savepoints go by default, one directory per
	// job (<stagingRoot>/savepoints); without it a savepoint needs a target directory or the job's
	// state.savepoints.dir.
	SavepointRoot string
	// ArchivedCheckpoint reads the latest completed checkpoint an ended Flink job's archive names
	// (*reconcile.Reconciler.LatestArchivedCheckpoint); nil: a last-state upgrade restores the checkpoint it
	// read before the cancel.
	ArchivedCheckpoint func(ctx context.Context, flinkJobID string) string
	// UpgradeHealthTimeout is how long the new application of an upgrade may take to run and complete a
	// checkpoint before it is rolled back. Default 5 minutes.
	UpgradeHealthTimeout time.Duration
	// AutoRestart is the gateway's switch of automatic restarts (health.autoRestart, with health checks
	// on): off, a request's autoRestart is refused and recorded policies wait.
	AutoRestart bool
	// Logs is where the log routes read containers' logs; without Logs.YARN they answer 503.
	Logs LogSources
	// Logger and Metrics are required.
	Logger  *slog.Logger
	Metrics *Metrics
}

// Service is the job and session API: launches claim their idempotency key in the registry (the truth that
// makes a retry, on any instance and after any restart, answer with the same job), run on their own
// deadline once YARN gave them an application id, and are recorded; reads render records (kept true by the
// reconciler) and cost no cluster call; cancels and stops act on the cluster and observe the outcome at once.
// Close waits for launches under way.
type Service struct {
	opts     Options
	jmHTTP   *http.Client
	launches sync.WaitGroup  // launches under way, each bounded by LaunchTimeout
	logIndex aggregatedIndex // listings of aggregated log files (guarded by its own mutex)
}

// New checks the options and returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Launcher == nil || opts.RM == nil || opts.Registry == nil || opts.Observer == nil || opts.Logger == nil || opts.Metrics == nil {
		return nil, errors.New("job service: Launcher, RM, Registry, Observer, Logger and Metrics are required")
	}
	if opts.Instance == "" || opts.User == "" {
		return nil, errors.New("job service: Instance and User are required")
	}
	if len(opts.IdempotencySecret) < 16 {
		return nil, errors.New("job service: an IdempotencySecret of at least 16 bytes is required")
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 5 * time.Minute
	}
	if opts.LaunchTimeout <= 0 {
		opts.LaunchTimeout = 10 * time.Minute
	}
	if opts.UpgradeHealthTimeout <= 0 {
		opts.UpgradeHealthTimeout = 5 * time.Minute
	}
	if opts.JobManagerTimeout <= 0 {
		opts.JobManagerTimeout = 5 * time.Second
	}
	return &Service{opts: opts, jmHTTP: &http.Client{Timeout: opts.JobManagerTimeout}}, nil
}

// Close waits for the launches under way; each ends within LaunchTimeout.
func (s *Service) Close() { s.launches.Wait() }

// FlinkVersions lists the configured distributions.
func (s *Service) FlinkVersions() []string { return s.opts.Launcher.FlinkVersions() }

// RegistryStatus reports the registry for the cluster view.
func (s *Service) RegistryStatus() api.ClusterRegistry {
	st := api.ClusterRegistry{Backend: s.opts.Backend, Instance: s.opts.Instance, Reconciler: s.opts.Observer.Leading(),
		Records: s.opts.Registry.Count(visibleSummary)}
	if t := s.opts.Observer.LastPass(); !t.IsZero() {
		st.LastReconciled = ptr(t.UTC())
	}
	return st
}

// visible reports whether a record is served by the API: not the hidden record of a failed launch, and
// with a status.
func visible(rec *registry.Record) bool {
	return rec.State != reconcile.StateLaunchFailed && rec.Status.Schema > 0
}

// visibleSummary is visible on a record's summary.
func visibleSummary(s *registry.Summary) bool {
	return s.State != reconcile.StateLaunchFailed && s.Schema > 0
}

func ptr[T any](v T) *T { return &v }

// detached runs f on a context of its own, bounded by LaunchTimeout and not by ctx: a launch that reached
// YARN is never cut short because its caller went away. It returns f's result, or ctx's error when the
// caller stopped waiting first (f goes on).
func detached[T any](ctx context.Context, s *Service, f func(ctx context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.LaunchTimeout)
	s.launches.Go(func() {
		defer cancel()
		v, err := f(lctx)
		done <- result{v, err}
	})
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("the launch goes on without its caller: %w", ctx.Err())
	}
}
