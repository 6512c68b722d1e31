// Package app is yarngate's composition root: Run turns a configuration into a running gateway (the
// Kerberos login on a Kerberized cluster, HDFS staging store, ResourceManager client, ZooKeeper watcher, RM
// leader tracker and JobManager leaders when a quorum is known, the job registry with its reconciler,
// services, HTTP server) and shuts it down gracefully when its context ends. It is what cmd/yarngate calls,
// and what tests start in-process on 127.0.0.1:0.
//
// Dependency rule: app may import every yarngate package; nothing imports app except cmd/yarngate.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/httpapi"
	"github.com/yarngate/yarngate/job"
	"github.com/yarngate/yarngate/launch"
	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/reconcile"
	"github.com/yarngate/yarngate/throttle"
)

// Options configures Run.
type Options struct {
	// Config is the validated configuration.
	Config config.Config
	// Logger receives all logs. Required.
	Logger *slog.Logger
	// Registry receives all metrics and is served at /metrics. Default: a new registry with the Go and
	// process collectors.
	Registry *prometheus.Registry
	// OnListen, when set, is called with the bound address once the server accepts connections (useful
	// with port 0).
	OnListen func(net.Addr)
	// Readiness adds checks to /readyz beyond the built-in HDFS and ResourceManager ones.
	Readiness []httpapi.ReadinessCheck
}

func (o *Options) validate() error {
	if o.Logger == nil {
		return errors.New("app: no logger")
	}
	if err := o.Config.Validate(); err != nil {
		return err
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
		o.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return nil
}

// cleanupGrace bounds how long Run waits, after the HTTP server stopped, for aborted uploads to remove
// their temporary files and return their HDFS clients.
const cleanupGrace = 30 * time.Second

// Run serves the gateway until ctx ends, then shuts down: it stops accepting connections, lets in-flight
// requests finish within Config.ShutdownTimeout, aborts those still running (their uploads remove their
// temporary files as their request contexts end), and closes the HDFS clients. It returns nil after a
// shutdown caused by ctx, and an error when it cannot start or the server fails.
func Run(ctx context.Context, opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	cfg, logger := opts.Config, opts.Logger
	ep, err := resolveEndpoints(cfg)
	if err != nil {
		return err
	}
	logger.Info("cluster endpoints", "namenodes", ep.nameNodes, "fs", ep.fsURI, "resourceManagers", ep.rmURLs(),
		"zookeeper", ep.zkQuorum, "hadoopConfDir", cfg.HadoopConfDir)

	zw, err := newZKWatcher(ep, cfg, logger, opts.Registry)
	if err != nil {
		return err
	}
	if zw != nil {
		defer zw.Close()
	}

	login, err := newKerberosLogin(cfg, ep, logger, opts.Registry)
	if err != nil {
		return err
	}
	defer startKerberos(ctx, login, logger)() // stopped last: every client below uses its ticket

	web, actAs, err := newWebHDFS(ep, login, cfg, logger)
	if err != nil {
		return err
	}
	store, err := hdfs.New(hdfs.Options{
		Addresses: ep.nameNodes, FSURI: ep.fsURI, User: rmUser(cfg, login), Root: cfg.HDFS.StagingRoot,
		MaxSize: int64(cfg.Jars.MaxSize), DialTimeout: cfg.HDFS.DialTimeout, IOTimeout: cfg.HDFS.IOTimeout,
		PoolSize: cfg.HDFS.PoolSize, UploadSlots: cfg.Jars.UploadSlots, UploadWait: cfg.Jars.SlotWait, UseDatanodeHostname: ep.useDatanodeHostname, Kerberos: hdfsKerberos(login, ep),
		WebHDFS: web, ActAs: actAs, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), cleanupGrace)
		defer cancel()
		if err := store.Close(closeCtx); err != nil {
			logger.Warn("hdfs clients still busy at exit", "error", err)
		}
	}()

	metrics, err := job.NewMetrics(opts.Registry)
	if err != nil {
		return err
	}
	httpMetrics, err := httpapi.NewMetrics(opts.Registry)
	if err != nil {
		return err
	}
	auth, err := newAuthenticator(ctx, cfg, logger)
	if err != nil {
		return err
	}
	tlsConf, err := serverTLS(cfg, logger)
	if err != nil {
		return err
	}
	gwOpts := httpapi.Options{
		Logger: logger, Registry: opts.Registry, Metrics: httpMetrics, Auth: auth,
		Jars:       job.NewJarService(store, int64(cfg.Jars.MaxSize), logger, metrics),
		Readiness:  []httpapi.ReadinessCheck{{Name: "hdfs", Check: store.Ping}},
		MaxJarSize: int64(cfg.Jars.MaxSize), UploadIdleTimeout: cfg.Jars.IdleTimeout,
		UploadPace:  throttle.PaceOptions{MinRate: int64(cfg.Jars.MinRate), Window: cfg.Jars.RateWindow, MaxDuration: cfg.Jars.MaxDuration},
		BodyTimeout: cfg.HTTP.BodyTimeout,
		// The client of the per-client limits: the authenticated principal, else the remote address.
		ClientKey:  httpapi.PrincipalOrRemoteIP,
		WriteLimit: httpapi.RateLimit{Rate: cfg.Limits.Writes.Rate, Burst: cfg.Limits.Writes.Burst},
		ReadLimit:  httpapi.RateLimit{Rate: cfg.Limits.Reads.Rate, Burst: cfg.Limits.Reads.Burst},
		LongPolls:  cfg.Limits.LongPolls.Total, LongPollsPerClient: cfg.Limits.LongPolls.PerClient,
	}
	keytabs, err := newKeytabService(cfg, store, login, logger)
	if err != nil {
		return err
	}
	if login != nil {
		gwOpts.Readiness = append([]httpapi.ReadinessCheck{{Name: "kerberos", Check: login.Ready}}, gwOpts.Readiness...)
		gwOpts.Keytabs = keytabs
	}
	clusterOpts := job.ClusterServiceOptions{HDFS: store.Ping, HAEnabled: ep.rmHA}
	if zw != nil {
		clusterOpts.ZooKeeper = zw
	}
	if len(ep.rms) > 0 {
		yc, err := newRMClient(ep.rms, cfg, login, logger)
		if err != nil {
			return err
		}
		clusterOpts.RM = yc
		rmLeader, err := newRMLeaderTracker(zw, ep, yc, logger)
		if err != nil {
			return err
		}
		if rmLeader != nil {
			defer rmLeader.Close()
			clusterOpts.RMLeader = rmLeader
		}
		gwOpts.Readiness = append(gwOpts.Readiness, rmReadiness(yc))
		ha, err := jobManagerHA(cfg, ep)
		if err != nil {
			return err
		}
		jmLeaders, err := newFlinkLeaders(zw, ha, logger)
		if err != nil {
			return err
		}
		if jmLeaders != nil {
			defer jmLeaders.Close()
		}
		krb, err := launchKerberos(cfg, ep, login)
		if err != nil {
			return err
		}
		launcher, err := launch.New(launch.Options{
			RM: yc, Files: store, Jars: store,
			FlinkHomes: cfg.Flink.Homes, DefaultFlinkVersion: cfg.Flink.DefaultVersion, FlinkLibRoot: cfg.Flink.LibRoot,
			User: cfg.User, RMUser: rmUser(cfg, login), StagingRoot: cfg.HDFS.StagingRoot,
			YarnClasspath: ep.yarnClasspath, MinAllocationMB: ep.minAllocationMB,
			JobManagerMemory: cfg.Jobs.JobManagerMemory, TaskManagerMemory: cfg.Jobs.TaskManagerMemory,
			TaskManagerSlots: cfg.Jobs.TaskManagerSlots, HA: ha, Kerberos: krb, Logger: logger,
		})
		if err != nil {
			return err
		}
		recs, err := openRecords(ctx, cfg, zw, logger)
		if err != nil {
			return err
		}
		defer recs.close()
		clusters := newClusterLocator(zw, ep.zkQuorum, yc, logger)
		defer clusters.close()
		reconcileMetrics, err := reconcile.NewMetrics(opts.Registry)
		if err != nil {
			return err
		}
		rec, err := reconcile.New(healthOptions(cfg, recs.reconcileOptions(cfg, reconcile.Options{
			RM: yc, Files: store, HomeTag: launcher.HomeTag(), StagingRoot: cfg.HDFS.StagingRoot, HADir: launcher.HADir(),
			SavepointRetention: observe.Retention{MaxCount: cfg.Jobs.Savepoints.MaxCount, MaxAge: cfg.Jobs.Savepoints.MaxAge},
			RemoteLogs:         ep.remoteLogs, Clusters: clusters, Logger: logger, Metrics: reconcileMetrics,
		}, jmLeaders)))
		if err != nil {
			return err
		}
		notifier, err := newNotifier(cfg, recs, opts.Registry, logger)
		if err != nil {
			return err
		}
		admins := job.Admins{Users: cfg.Auth.Admins.Users, Groups: cfg.Auth.Admins.Groups}
		jarOwners := &job.JarOwnership{Registry: recs.reg, Admins: admins, User: cfg.User}
		gwOpts.Jars.SetOwnership(jarOwners)
		jobs, err := job.New(recs.serviceOptions(job.Options{
			Launcher: launcher, RM: yc, Observer: rec, User: cfg.User, MaxWait: cfg.Jobs.MaxWait, Keytabs: keytabs,
			Admins: admins, Jars: jarOwners, Impersonation: impersonation(cfg, store, logger), Clusters: clusters,
			Logs:                 job.LogSources{YARN: yc, Files: store, Layout: ep.remoteLogs},
			UpgradeHealthTimeout: cfg.Jobs.UpgradeHealthTimeout, ArchivedCheckpoint: rec.LatestArchivedCheckpoint,
			AutoRestart:   cfg.Health.AutoRestart && cfg.Health.Interval > 0,
			SavepointRoot: launcher.SavepointRoot(), CheckWebhook: notifier.CheckWebhook, Logger: logger, Metrics: metrics,
		}))
		if err != nil {
			return err
		}
		defer jobs.Close() // after the server: launches under way finish
		if err := registerConfiguredClusters(ctx, cfg.Clusters.File, jobs, logger); err != nil {
			return err
		}
		reconcileCtx, stopReconcile := context.WithCancel(ctx)
		var reconciling sync.WaitGroup
		reconciling.Go(func() { rec.Run(reconcileCtx) })
		reconciling.Go(func() { notifier.Run(reconcileCtx) })
		reconciling.Go(func() { jobs.RunUpgrades(reconcileCtx) })
		defer func() {
			stopReconcile()
			reconciling.Wait()
		}()
		gwOpts.Jobs, gwOpts.Sessions, gwOpts.Logs, gwOpts.FlinkClusters = jobs, jobs, jobs, jobs
		clusterOpts.Flink, clusterOpts.Registry = jobs, jobs
		logger.Info("job launching enabled", "flink", jobs.FlinkVersions())
	}
	if gwOpts.Cluster, err = job.NewClusterService(clusterOpts); err != nil {
		return err
	}
	gwOpts.Readiness = append(gwOpts.Readiness, opts.Readiness...)
	if gwOpts.Dashboard, err = newDashboard(cfg, gwOpts, logger); err != nil {
		return err
	}
	handler, err := httpapi.New(gwOpts)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	// Request contexts derive from base, so that aborting in-flight requests cancels their work.
	base, abortRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer abortRequests()
	srv := &http.Server{
		Handler: handler,
		// No ReadTimeout or WriteTimeout: uploads and long polls are long. Bodies get read deadlines per
		// request instead (httpapi: jars.idleTimeout and the upload pace for jars, http.bodyTimeout for the rest).
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
		TLSConfig:         tlsConf,
	}

	// Start-up housekeeping runs beside the server and stops with it.
	housekeepingCtx, stopHousekeeping := context.WithCancel(ctx)
	var housekeeping sync.WaitGroup
	housekeeping.Go(func() { prepareStaging(housekeepingCtx, store, cfg.HDFS.TempMaxAge, logger) })
	defer func() {
		stopHousekeeping()
		housekeeping.Wait()
	}()

	served := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			served <- srv.ServeTLS(ln, "", "") // the certificate comes from TLSConfig.GetCertificate
			return
		}
		served <- srv.Serve(ln)
	}()
	logger.Info("listening", "addr", ln.Addr().String(), "tls", tlsConf != nil, "stagingRoot", cfg.HDFS.StagingRoot)
	if opts.OnListen != nil {
		opts.OnListen(ln.Addr())
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("in-flight requests did not finish in time; aborting them", "error", err)
		abortRequests()
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// prepareStaging creates the staging directories and removes leftovers of crashed uploads. HDFS may be
// down at start-up, so it retries with backoff until it succeeds or ctx ends.
func prepareStaging(ctx context.Context, store *hdfs.Store, tempMaxAge time.Duration, logger *slog.Logger) {
	backoff := time.Second
	for {
		err := store.Prepare(ctx)
		if err == nil {
			break
		}
		logger.Warn("cannot prepare the staging root yet; retrying", "error", err, "retryIn", backoff.String())
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, time.Minute)
	}
	if tempMaxAge <= 0 {
		return
	}
	removed, err := store.CleanTemp(ctx, tempMaxAge)
	if err != nil {
		logger.Warn("cleaning leftover temporary uploads failed", "error", err)
		return
	}
	logger.Info("staging root ready", "root", store.Root(), "removedLeftovers", removed)
}

// NewLogger returns the process logger described by cfg, writing to w.
func NewLogger(cfg config.Log, w io.Writer) (*slog.Logger, error) {
	level, err := cfg.SlogLevel()
	if err != nil {
		return nil, err
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch cfg.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	}
	return nil, fmt.Errorf("log format %q is neither text nor json", cfg.Format)
}
