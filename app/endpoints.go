package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/delegation"
	"github.com/yarngate/yarngate/hadoopconf"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/hdfs/webhdfs"
	"github.com/yarngate/yarngate/httpapi"
	"github.com/yarngate/yarngate/job"
	"github.com/yarngate/yarngate/kerberos"
	"github.com/yarngate/yarngate/launch"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/yarnlogs"
	"github.com/yarngate/yarngate/zk"
)

// endpoints are the cluster addresses Run connects to: explicit configuration where given, otherwise
// what the Hadoop configuration directory says.
type endpoints struct {
	nameNodes           []string
	fsURI               string
	useDatanodeHostname bool
	rms                 []hadoopconf.RM
	zkQuorum            string
	// rmHA says whether YARN runs several ResourceManagers (yarn.resourcemanager.ha.enabled, or several
	// RM URLs configured); their election is followed in ZooKeeper under
	// <rmElectionBasePath>/<clusterID> when a quorum is known.
	rmHA               bool
	clusterID          string
	rmElectionBasePath string
	// yarnClasspath is yarn.application.classpath (nil: Hadoop's default), which every launch puts on
	// the containers' classpath.
	yarnClasspath []string
	// minAllocationMB is yarn.scheduler.minimum-allocation-mb: YARN rounds container sizes up to it.
	minAllocationMB int64
	// remoteLogs is where YARN aggregates containers' logs (yarn.nodemanager.remote-app-log-dir and
	// -suffix; /tmp/logs and logs by default), which the log routes read.
	remoteLogs yarnlogs.Layout
	// kerberos is set when the cluster is Kerberized (hadoop.security.authentication=kerberos).
	kerberos *kerberosEndpoints
}

// kerberosEndpoints are the Kerberos settings of a secured cluster's HDFS.
type kerberosEndpoints struct {
	// nameNodePrincipal is dfs.namenode.kerberos.principal without the realm, such as hdfs/_HOST.
	nameNodePrincipal string
	// dataTransferProtection lists the SASL protections of DataNode transfers the gateway accepts, in its
	// order of preference (dfs.data.transfer.protection), or nothing.
	dataTransferProtection []string
	// webHDFS are the NameNodes' web base URLs (dfs.namenode.http-address and its HA variants), in
	// failover order: launches get their delegation tokens there, and file content is read there when
	// dataPath says so.
	webHDFS []string
	// dataPath, when set, says why file content must be read through WebHDFS (hdfs.ReadsNeedWebHDFS), for
	// the start-up log; empty when the gateway reads blocks from the DataNodes itself.
	dataPath string
	// tokenService is the service HDFS tokens must name ("" keeps the NameNode's choice).
	tokenService string
	// rmPrincipal is yarn.resourcemanager.principal, or "".
	rmPrincipal string
}

func (e endpoints) rmURLs() []string {
	out := make([]string, 0, len(e.rms))
	for _, rm := range e.rms {
		out = append(out, rm.URL)
	}
	return out
}

// resolveEndpoints reads HadoopConfDir (when set) and applies the overrides of cfg.
func resolveEndpoints(cfg config.Config) (endpoints, error) {
	var ep endpoints
	var conf *hadoopconf.Conf
	if cfg.HadoopConfDir != "" {
		var err error
		conf, err = hadoopconf.Load(cfg.HadoopConfDir)
		if err != nil {
			return ep, err
		}
		switch auth := conf.SecurityAuthentication(); auth {
		case "simple":
		case "kerberos":
			if cfg.Kerberos.Principal == "" || cfg.Kerberos.Keytab == "" {
				return ep, fmt.Errorf("hadoop.security.authentication=kerberos in %s: the gateway needs its Kerberos principal and keytab: "+
					"set kerberos.principal and kerberos.keytab (YARNGATE_PRINCIPAL and YARNGATE_KEYTAB, or --kerberos.principal and --kerberos.keytab)", cfg.HadoopConfDir)
			}
			k := &kerberosEndpoints{nameNodePrincipal: conf.NameNodeServicePrincipal(), dataTransferProtection: conf.DataTransferProtections(),
				tokenService: conf.HDFSTokenService(), rmPrincipal: conf.Get("yarn.resourcemanager.principal")}
			if k.webHDFS, err = conf.NameNodeHTTPURLs(); err != nil {
				return ep, fmt.Errorf("the NameNodes' web addresses (dfs.namenode.http-address) from %s, where launches get their delegation tokens: %w",
					cfg.HadoopConfDir, err)
			}
			if need, why := hdfs.ReadsNeedWebHDFS(k.dataTransferProtection); need {
				k.dataPath = why
			}
			ep.kerberos = k
		default:
			return ep, fmt.Errorf("hadoop.security.authentication=%s in %s: only simple and kerberos are supported", auth, cfg.HadoopConfDir)
		}
		ep.useDatanodeHostname = conf.Bool("dfs.client.use.datanode.hostname")
		ep.zkQuorum = conf.ZooKeeperQuorum()
		ep.rmHA = conf.Bool("yarn.resourcemanager.ha.enabled")
		ep.clusterID = conf.ClusterID()
		ep.rmElectionBasePath = conf.GetDefault("yarn.resourcemanager.ha.automatic-failover.zk-base-path", zk.DefaultRMElectionBasePath)
		ep.yarnClasspath = conf.List("yarn.application.classpath")
		ep.remoteLogs = yarnlogs.Layout{
			Root:   remoteLogPath(conf.GetDefault("yarn.nodemanager.remote-app-log-dir", yarnlogs.DefaultLayout.Root)),
			Suffix: strings.TrimSpace(conf.GetDefault("yarn.nodemanager.remote-app-log-dir-suffix", yarnlogs.DefaultLayout.Suffix)),
		}
		minAlloc := conf.GetDefault("yarn.scheduler.minimum-allocation-mb", "1024")
		if ep.minAllocationMB, err = strconv.ParseInt(strings.TrimSpace(minAlloc), 10, 64); err != nil {
			return ep, fmt.Errorf("yarn.scheduler.minimum-allocation-mb=%q in %s: not a number", minAlloc, cfg.HadoopConfDir)
		}
	}

	if len(cfg.HDFS.NameNodes) > 0 {
		ep.nameNodes = cfg.HDFS.NameNodes
	} else {
		nns, err := conf.NameNodeRPCAddresses()
		if err != nil {
			return ep, fmt.Errorf("NameNodes from %s: %w", cfg.HadoopConfDir, err)
		}
		ep.nameNodes = nns
		ep.fsURI = conf.DefaultFS()
	}

	switch {
	case len(cfg.YARN.RMURLs) > 0:
		for i, u := range cfg.YARN.RMURLs {
			rm := hadoopconf.RM{URL: strings.TrimRight(u, "/")}
			if len(cfg.YARN.RMURLs) > 1 {
				rm.ID = fmt.Sprintf("rm%d", i+1)
			}
			ep.rms = append(ep.rms, rm)
		}
	case conf != nil:
		rms, err := conf.ResourceManagers()
		if err != nil && !errors.Is(err, hadoopconf.ErrNotConfigured) {
			return ep, fmt.Errorf("ResourceManagers from %s: %w", cfg.HadoopConfDir, err)
		}
		ep.rms = rms // none when yarn-site.xml does not say: readiness then skips the RM
	}
	if len(ep.rms) > 1 {
		ep.rmHA = true
	}
	if cfg.ZooKeeper.Quorum != "" {
		ep.zkQuorum = cfg.ZooKeeper.Quorum
	}
	return ep, nil
}

// newRMClient returns the ResourceManager client shared by readiness and the job service. With a Kerberos
// login it authenticates with SPNEGO, one cookie jar per ResourceManager and NodeManager, and fails a call
// at once (no retry) while there is no ticket.
func newRMClient(rms []hadoopconf.RM, cfg config.Config, login *kerberos.Login, logger *slog.Logger) (*yarnclient.Client, error) {
	ycRMs := make([]yarnclient.RM, 0, len(rms))
	for _, rm := range rms {
		ycRMs = append(ycRMs, yarnclient.RM{ID: rm.ID, URL: rm.URL})
	}
	opts := yarnclient.Options{RMs: ycRMs, User: cfg.User, RequestTimeout: cfg.YARN.RequestTimeout, Logger: logger}
	if login != nil {
		// Authenticated as the gateway's principal (user.name is ignored behind SPNEGO), acting for other
		// users as a proxy user; a call as the principal's own user needs no doAs.
		opts.DoAs = true
		opts.User = rmUser(cfg, login)
		opts.HTTPClient = login.NewHTTPClient(&http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: cfg.YARN.RequestTimeout,
		})
		opts.Authenticate = func(*http.Request) error {
			_, err := login.Client()
			return err
		}
	}
	return yarnclient.New(opts)
}

// newKerberosLogin returns the gateway's Kerberos login on a Kerberized cluster, or nil. Its Run is the
// caller's to start.
func newKerberosLogin(cfg config.Config, ep endpoints, logger *slog.Logger, reg prometheus.Registerer) (*kerberos.Login, error) {
	if ep.kerberos == nil {
		if cfg.Kerberos.Principal != "" {
			logger.Info("kerberos settings ignored: the cluster uses simple authentication")
		}
		return nil, nil
	}
	login, err := kerberos.New(kerberos.Options{
		Principal: cfg.Kerberos.Principal, Keytab: cfg.Kerberos.Keytab, Krb5Conf: cfg.Kerberos.Krb5Conf,
		Registerer: reg, Logger: logger.With("component", "kerberos"),
	})
	if err != nil {
		return nil, err
	}
	// A setting that cannot work whatever the KDC says stops the start; a KDC that does not answer does not
	// (the login retries, and /readyz says why meanwhile).
	if err := login.Check(); err != nil {
		return nil, kerberosSetupError(err)
	}
	if short := principalShortName(cfg.Kerberos.Principal); short != cfg.User {
		logger.Warn("the cluster sees the gateway as its principal's short name, not as user", "principal", cfg.Kerberos.Principal,
			"shortName", short, "user", cfg.User, "stagingRoot", cfg.HDFS.StagingRoot)
	}
	return login, nil
}

// kerberosSetupKeys are the configuration keys of the Kerberos settings.
var kerberosSetupKeys = map[kerberos.Setting]string{
	kerberos.SettingPrincipal: "kerberos.principal",
	kerberos.SettingKeytab:    "kerberos.keytab",
	kerberos.SettingKrb5Conf:  "kerberos.krb5Conf",
}

// kerberosSetupError turns a *kerberos.SetupError into a configuration error that names the key and the file.
func kerberosSetupError(err error) error {
	var se *kerberos.SetupError
	if !errors.As(err, &se) {
		return fmt.Errorf("kerberos: %w", err)
	}
	problem := kerberosSetupKeys[se.Setting] + ": "
	if se.Path != "" {
		problem += se.Path + " "
	}
	problem += se.Problem
	if se.Err != nil {
		problem += " (" + se.Err.Error() + ")"
	}
	return &config.ValidationError{Problems: []string{problem}}
}

// principalShortName is the first component of a principal, what Hadoop's default auth_to_local rule maps
// a principal of the default realm to: yarngate for yarngate@EXAMPLE.COM and yarngate/host@EXAMPLE.COM.
func principalShortName(principal string) string {
	name, _, _ := strings.Cut(principal, "@")
	name, _, _ = strings.Cut(name, "/")
	return name
}

// newWebHDFS returns, on a Kerberized cluster, the WebHDFS client the HDFS store acts for other users
// through (act), and the one it reads file content through (read: the same client, or nil when it reads
// blocks from the DataNodes itself), and logs which data path the gateway uses and why. NameNode requests
// authenticate with SPNEGO (login's client, one cookie jar per NameNode); the DataNode requests they are
// redirected to carry a delegation token and go out without Kerberos.
func newWebHDFS(ep endpoints, login *kerberos.Login, cfg config.Config, logger *slog.Logger) (read, act *webhdfs.Client, err error) {
	if ep.kerberos != nil && login != nil && len(ep.kerberos.webHDFS) > 0 {
		if act, err = webHDFSClient(ep, login, cfg); err != nil {
			return nil, nil, err
		}
	}
	if ep.kerberos == nil || ep.kerberos.dataPath == "" || login == nil {
		var protection []string
		if ep.kerberos != nil {
			protection = ep.kerberos.dataTransferProtection
		}
		logger.Info("hdfs data path: file content read from the DataNodes over HDFS data transfer",
			"dfs.data.transfer.protection", strings.Join(protection, ","))
		return nil, act, nil
	}
	logger.Info("hdfs data path: file content read through WebHDFS; metadata and writes over HDFS RPC and data transfer",
		"reason", ep.kerberos.dataPath, "dfs.data.transfer.protection", strings.Join(ep.kerberos.dataTransferProtection, ","),
		"webhdfs", ep.kerberos.webHDFS)
	return act, act, nil
}

// webHDFSClient is a WebHDFS client over the gateway's SPNEGO login.
func webHDFSClient(ep endpoints, login *kerberos.Login, cfg config.Config) (*webhdfs.Client, error) {
	transport := func() *http.Transport {
		return &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: cfg.HDFS.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: cfg.HDFS.IOTimeout,
		}
	}
	return webhdfs.New(webhdfs.Options{
		NameNodes: ep.kerberos.webHDFS,
		Client:    login.NewHTTPClient(transport()),
		DataNodeClient: &http.Client{Transport: transport(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		ReadTimeout: cfg.HDFS.IOTimeout,
	})
}

// hdfsKerberos is the HDFS store's Kerberos configuration, or nil without a login.
func hdfsKerberos(login *kerberos.Login, ep endpoints) *hdfs.Kerberos {
	if login == nil {
		return nil
	}
	return &hdfs.Kerberos{Client: login.Client, ServicePrincipal: ep.kerberos.nameNodePrincipal,
		DataTransferProtection: ep.kerberos.dataTransferProtection}
}

// launchKerberos is what launches on a Kerberized cluster need: a delegation token fetcher over the
// gateway's SPNEGO client and the krb5.conf to ship; nil without a login.
func launchKerberos(cfg config.Config, ep endpoints, login *kerberos.Login) (*launch.Kerberos, error) {
	if login == nil {
		return nil, nil
	}
	renewer := cfg.Kerberos.TokenRenewer
	if renewer == "" {
		renewer = "yarn"
		if p := ep.kerberos.rmPrincipal; p != "" {
			renewer = principalShortName(p)
		}
	}
	tokens, err := delegation.NewFetcher(delegation.Options{NameNodes: ep.kerberos.webHDFS, HTTPClient: login.NewHTTPClient(nil),
		Renewer: renewer, Service: ep.kerberos.tokenService, LoginUser: principalShortName(cfg.Kerberos.Principal)})
	if err != nil {
		return nil, err
	}
	k := &launch.Kerberos{Tokens: tokens}
	if file := cmp.Or(cfg.Kerberos.JobKrb5Conf, cfg.Kerberos.Krb5Conf); file != "none" {
		if k.Krb5Conf, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("kerberos.jobKrb5Conf: the krb5.conf shipped to launched clusters: %w", err)
		}
	}
	return k, nil
}

// firstLoginWait bounds how long Run waits for the first Kerberos login attempt before it goes on (and
// reports itself not ready until a login succeeds).
const firstLoginWait = 5 * time.Second

// startKerberos runs login's loop until the returned stop function is called, and waits (bounded by
// firstLoginWait and ctx) for its first login attempt, so that the clients normally start with a ticket.
func startKerberos(ctx context.Context, login *kerberos.Login, logger *slog.Logger) (stop func()) {
	if login == nil {
		return func() {}
	}
	// The loop outlives ctx: requests still draining after a shutdown signal keep a fresh ticket.
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { login.Run(loopCtx) })
	began := time.Now()
	t := time.NewTimer(firstLoginWait)
	defer t.Stop()
	select {
	case <-login.FirstAttempt():
		if err := login.Ready(ctx); err != nil {
			logger.Warn("no kerberos ticket yet; serving, not ready", "error", err)
		} else {
			logger.Info("kerberos login done", "principal", login.Principal(), "took", time.Since(began).Round(time.Millisecond))
		}
	case <-t.C:
		logger.Warn("no kerberos ticket yet; serving, not ready", "waited", firstLoginWait)
	case <-ctx.Done():
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// rmReadiness returns the /readyz check of the ResourceManager: the active RM answers cluster info.
func rmReadiness(yc *yarnclient.Client) httpapi.ReadinessCheck {
	return httpapi.ReadinessCheck{Name: "yarn", Check: func(ctx context.Context) error {
		_, err := yc.ClusterInfo(ctx)
		return err
	}}
}

// newZKWatcher returns the gateway's one ZooKeeper watcher over the quorum of ep, or nil when no quorum is
// known. The caller closes it.
func newZKWatcher(ep endpoints, cfg config.Config, logger *slog.Logger, reg prometheus.Registerer) (*zk.Watcher, error) {
	if ep.zkQuorum == "" {
		return nil, nil
	}
	servers, chroot, err := zk.ParseConnectString(ep.zkQuorum)
	if err != nil {
		return nil, err
	}
	return zk.New(zk.Options{
		Servers: servers, Chroot: chroot, Digest: cfg.ZooKeeper.Digest.Reveal(),
		Logger: logger.With("component", "zookeeper"), Registerer: reg,
	})
}

// newRMLeaderTracker follows the RM election on w and routes yc to each certain leader; the client keeps
// probing haState by itself while ZooKeeper is uncertain. It returns nil (and logs why) when the election
// cannot be followed: without RM HA, or without a cluster id.
func newRMLeaderTracker(w *zk.Watcher, ep endpoints, yc *yarnclient.Client, logger *slog.Logger) (*zk.RMLeaderTracker, error) {
	if w == nil || !ep.rmHA {
		return nil, nil
	}
	if ep.clusterID == "" {
		logger.Warn("RM HA without yarn.resourcemanager.cluster-id: finding the active ResourceManager by probing only")
		return nil, nil
	}
	return zk.NewRMLeaderTracker(w, zk.RMLeaderOptions{
		ClusterID: ep.clusterID, BasePath: ep.rmElectionBasePath,
		OnChange: func(l zk.RMLeader) {
			if !l.Certain || l.ID == "" {
				logger.Info("ResourceManager leader uncertain in ZooKeeper; probing", "lastKnown", l.ID, "error", l.Err)
				return
			}
			if err := yc.SetActive(l.ID); err != nil {
				logger.Warn("ZooKeeper names an unknown ResourceManager", "rm", l.ID, "error", err)
			}
		},
	})
}

// jobManagerHA returns the ZooKeeper HA of the launched clusters, or nil without it: flink.ha.mode none, or
// auto without a ZooKeeper quorum. Mode zookeeper without a quorum is an error.
func jobManagerHA(cfg config.Config, ep endpoints) (*launch.HA, error) {
	ha := cfg.Flink.HA
	switch {
	case ha.Mode == config.HANone:
		return nil, nil
	case ep.zkQuorum == "" && ha.Mode == config.HAZooKeeper:
		return nil, errors.New("flink.ha.mode zookeeper: no ZooKeeper quorum (zookeeper.quorum or hadoop.zk.address)")
	case ep.zkQuorum == "":
		return nil, nil
	}
	storage := ha.StorageDir
	if storage == "" {
		storage = path.Join(cfg.HDFS.StagingRoot, "ha")
	}
	return &launch.HA{Quorum: ep.zkQuorum, PathRoot: ha.PathRoot, StorageDir: storage, SessionTimeout: ha.SessionTimeout}, nil
}

// newFlinkLeaders follows the JobManager leaders of the HA clusters on w, or returns nil without HA or a
// watcher. The caller closes it.
func newFlinkLeaders(w *zk.Watcher, ha *launch.HA, logger *slog.Logger) (*zk.FlinkLeaders, error) {
	if w == nil || ha == nil {
		return nil, nil
	}
	return zk.NewFlinkLeaders(w, zk.FlinkLeadersOptions{
		Root: ha.PathRoot,
		OnChange: func(clusterID string, l zk.JobManagerLeader) {
			logger.Info("JobManager leader", "applicationId", clusterID, "known", l.Known, "address", l.Address,
				"certain", l.Certain, "error", l.Err)
		},
	})
}

// rmUser is who the gateway is to the ResourceManager and the NameNode: its principal's short name on a
// Kerberized cluster, else the configured user.
func rmUser(cfg config.Config, login *kerberos.Login) string {
	if login != nil {
		if short := principalShortName(cfg.Kerberos.Principal); short != "" {
			return short
		}
	}
	return cfg.User
}

// impersonation is the job service's impersonation rules from auth.impersonation and auth.proxyUsers.
// Impersonation needs HDFS access as other users for the launch files; where the store cannot act for
// users (Kerberos without WebHDFS addresses), jobs run as the gateway's user.
func impersonation(cfg config.Config, store *hdfs.Store, logger *slog.Logger) job.Impersonation {
	imp := job.Impersonation{Disabled: !cfg.Auth.Impersonation.Enabled, Users: cfg.Auth.Impersonation.Users,
		Groups: cfg.Auth.Impersonation.Groups, DenyUsers: cfg.Auth.Impersonation.DenyUsers,
		ProxyUsers: make(map[string]job.ProxyRule, len(cfg.Auth.ProxyUsers)),
		GroupsOf:   func(user string) []string { return cfg.Auth.Groups[user] }}
	for caller, r := range cfg.Auth.ProxyUsers {
		imp.ProxyUsers[caller] = job.ProxyRule{Users: r.Users, Groups: r.Groups}
	}
	if !imp.Disabled && !store.CanActAs() {
		logger.Warn("impersonation is not available: no WebHDFS address (dfs.namenode.http-address) to write launch files as other users through; jobs run as the gateway's user")
		imp.Disabled = true
	}
	return imp
}

// remoteLogPath is the path of yarn.nodemanager.remote-app-log-dir, which may be a URI of the default file
// system (hdfs://nn:8020/tmp/logs).
func remoteLogPath(v string) string {
	v = strings.TrimSpace(v)
	if u, err := url.Parse(v); err == nil && u.Scheme != "" {
		return u.Path
	}
	return v
}
