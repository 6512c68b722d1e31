package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid configuration")

// ValidationError lists every problem Validate found.
type ValidationError struct {
	// Problems holds one "key: problem" line per issue.
	Problems []string
}

// Error lists the problems.
func (e *ValidationError) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Validate checks every setting and returns a *ValidationError listing all problems, or nil.
func (c Config) Validate() error {
	var p []string
	bad := func(key, format string, args ...any) {
		p = append(p, key+": "+fmt.Sprintf(format, args...))
	}
	if err := checkHostPort(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	c.validateAuth(bad)
	c.validateNotify(bad)
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "certFile and keyFile go together: set both or neither")
	}
	if c.HadoopConfDir == "" && len(c.HDFS.NameNodes) == 0 {
		bad("hadoopConfDir", "not set: set it, $HADOOP_CONF_DIR or hdfs.namenodes")
	}
	if c.User == "" {
		bad("user", "not set and the operating-system user is unknown")
	} else if strings.ContainsAny(c.User, "/: \t\n") {
		bad("user", "%q is not a valid user name", c.User)
	}
	if pr := c.Kerberos.Principal; pr != "" && (strings.ContainsAny(pr, " \t\n") || strings.Count(pr, "@") > 1 ||
		strings.HasPrefix(pr, "@") || strings.HasSuffix(pr, "@")) {
		bad("kerberos.principal", "%q is not a Kerberos principal name", pr)
	}
	if (c.Kerberos.Principal == "") != (c.Kerberos.Keytab == "") {
		bad("kerberos", "principal and keytab go together: set both or neither")
	}
	for _, nn := range c.HDFS.NameNodes {
		if err := checkHostPort(nn); err != nil {
			bad("hdfs.namenodes", "%v", err)
		}
	}
	root := c.HDFS.StagingRoot
	if !path.IsAbs(root) || path.Clean(root) != root || root == "/" {
		bad("hdfs.stagingRoot", "%q must be a clean absolute path below /", root)
	}
	positive := []struct {
		key string
		v   int64
	}{
		{"hdfs.dialTimeout", int64(c.HDFS.DialTimeout)},
		{"hdfs.ioTimeout", int64(c.HDFS.IOTimeout)},
		{"jars.maxSize", int64(c.Jars.MaxSize)},
		{"jars.idleTimeout", int64(c.Jars.IdleTimeout)},
		{"jars.slotWait", int64(c.Jars.SlotWait)},
		{"http.readHeaderTimeout", int64(c.HTTP.ReadHeaderTimeout)},
		{"http.idleTimeout", int64(c.HTTP.IdleTimeout)},
		{"http.bodyTimeout", int64(c.HTTP.BodyTimeout)},
		{"yarn.requestTimeout", int64(c.YARN.RequestTimeout)},
		{"shutdownTimeout", int64(c.ShutdownTimeout)},
	}
	for _, v := range positive {
		if v.v <= 0 {
			bad(v.key, "must be positive")
		}
	}
	if c.HDFS.TempMaxAge < 0 {
		bad("hdfs.tempMaxAge", "must not be negative")
	}
	if c.HDFS.PoolSize < 1 || c.HDFS.PoolSize > 64 {
		bad("hdfs.poolSize", "%d is outside 1..64", c.HDFS.PoolSize)
	}
	if c.Jars.UploadSlots < 1 || c.Jars.UploadSlots > 64 {
		bad("jars.uploadSlots", "%d is outside 1..64", c.Jars.UploadSlots)
	}
	if c.Jars.MinRate < 0 {
		bad("jars.minRate", "must not be negative")
	}
	if c.Jars.MinRate > 0 && c.Jars.RateWindow < time.Second {
		bad("jars.rateWindow", "must be at least 1s when jars.minRate is set")
	}
	if c.Jars.MaxDuration < 0 {
		bad("jars.maxDuration", "must not be negative")
	}
	for _, l := range []struct {
		key string
		RateLimit
	}{{"limits.writes", c.Limits.Writes}, {"limits.reads", c.Limits.Reads}} {
		if l.Rate < 0 || l.Rate != l.Rate { // NaN
			bad(l.key+".rate", "must not be negative")
		}
		if l.Rate > 0 && l.Burst < 1 {
			bad(l.key+".burst", "must be at least 1 when a rate is set")
		}
	}
	if c.Limits.LongPolls.Total < 0 || c.Limits.LongPolls.PerClient < 0 {
		bad("limits.longPolls", "caps must not be negative")
	}
	for _, raw := range c.YARN.RMURLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("yarn.rmUrls", "%q is not an http(s) URL", raw)
		}
	}
	if q := c.ZooKeeper.Quorum; q != "" {
		hosts, _, _ := strings.Cut(q, "/") // an optional chroot follows the last host
		for _, h := range strings.Split(hosts, ",") {
			if err := checkHostPort(strings.TrimSpace(h)); err != nil {
				bad("zookeeper.quorum", "%v", err)
			}
		}
	}
	if d := c.ZooKeeper.Digest.Reveal(); d != "" {
		if user, _, ok := strings.Cut(d, ":"); !ok || user == "" {
			bad("zookeeper.digest", "must be user:password")
		}
	}
	for _, h := range c.Flink.Homes {
		if !path.IsAbs(h) {
			bad("flink.homes", "%q is not an absolute path", h)
		}
	}
	if lr := c.Flink.LibRoot; !path.IsAbs(lr) || path.Clean(lr) != lr || lr == "/" {
		bad("flink.libRoot", "%q must be a clean absolute path below /", lr)
	}
	switch c.Flink.HA.Mode {
	case HAAuto, HANone, HAZooKeeper: // zookeeper without a quorum fails at start-up
	default:
		bad("flink.ha.mode", "%q is not auto, zookeeper or none", c.Flink.HA.Mode)
	}
	if c.Flink.HA.Mode != HANone {
		if pr := c.Flink.HA.PathRoot; !path.IsAbs(pr) || path.Clean(pr) != pr || pr == "/" {
			bad("flink.ha.pathRoot", "%q must be a clean absolute path below /", pr)
		}
		if sd := c.Flink.HA.StorageDir; sd != "" && !path.IsAbs(sd) && !strings.Contains(sd, "://") {
			bad("flink.ha.storageDir", "%q is neither an absolute path nor a URI", sd)
		}
		if c.Flink.HA.SessionTimeout < time.Second {
			bad("flink.ha.sessionTimeout", "must be at least 1s")
		}
	}
	if c.Jobs.TaskManagerSlots < 1 {
		bad("jobs.taskManagerSlots", "must be at least 1")
	}
	if c.Jobs.MaxWait <= 0 {
		bad("jobs.maxWait", "must be positive")
	}
	if c.Jobs.Savepoints.MaxCount < 0 {
		bad("jobs.savepoints.maxCount", "must not be negative")
	}
	if c.Jobs.UpgradeHealthTimeout < 0 {
		bad("jobs.upgradeHealthTimeout", "must not be negative")
	}
	if c.Jobs.Savepoints.MaxAge < 0 {
		bad("jobs.savepoints.maxAge", "must not be negative")
	}
	switch c.Registry.Backend {
	case RegistryAuto, RegistryZooKeeper, RegistryEmbedded:
	default:
		bad("registry.backend", "%q is none of auto, zookeeper, embedded", c.Registry.Backend)
	}
	if c.Registry.Backend != RegistryZooKeeper && c.Registry.Path == "" {
		bad("registry.path", "must be set for the embedded registry")
	}
	if !strings.HasPrefix(c.Registry.ZKRoot, "/") || (len(c.Registry.ZKRoot) > 1 && strings.HasSuffix(c.Registry.ZKRoot, "/")) {
		bad("registry.zkRoot", "%q is not an absolute znode path", c.Registry.ZKRoot)
	}
	if c.Flink.HA.Mode != HANone && znodeWithin(c.Flink.HA.PathRoot, c.Registry.ZKRoot) {
		bad("flink.ha.pathRoot", "%q overlaps registry.zkRoot %q: the launched clusters' znodes (open to every job) "+
			"and the gateway's (its digest identity's only) must lie apart", c.Flink.HA.PathRoot, c.Registry.ZKRoot)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"registry.reconcileInterval", c.Registry.ReconcileInterval}, {"registry.retention", c.Registry.Retention},
		{"registry.lostGrace", c.Registry.LostGrace}, {"registry.gcInterval", c.Registry.GCInterval}} {
		if d.v <= 0 {
			bad(d.key, "must be positive")
		}
	}
	if _, err := c.Log.SlogLevel(); err != nil {
		bad("log.level", "%v", err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q is neither text nor json", c.Log.Format)
	}
	if len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	return nil
}

// validateAuth checks the auth keys: known methods, none alone and only on a loopback listen address, what
// each method needs.
func (c Config) validateAuth(bad func(key, format string, args ...any)) {
	a := c.Auth
	methods := map[string]bool{}
	for _, m := range a.Methods {
		switch m {
		case AuthNone, AuthKerberos, AuthToken:
			methods[m] = true
		default:
			bad("auth.methods", "%q is not kerberos, token or none", m)
		}
	}
	switch {
	case len(a.Methods) == 0:
		bad("auth.methods", "empty: name kerberos and/or token, or none")
	case methods[AuthNone] && len(methods) > 1:
		bad("auth.methods", "none excludes kerberos and token")
	case methods[AuthNone]:
		if host, _, err := net.SplitHostPort(c.Listen); err == nil && !loopback(host) {
			bad("auth.methods", "none (no authentication) is refused on the non-loopback listen address %s: configure kerberos or token", c.Listen)
		}
	}
	if methods[AuthKerberos] {
		if a.Kerberos.Keytab == "" || a.Kerberos.Principal == "" {
			bad("auth.kerberos", "the kerberos method needs keytab and principal (HTTP/<host>)")
		} else if !strings.HasPrefix(a.Kerberos.Principal, "HTTP/") {
			bad("auth.kerberos.principal", "%q is not HTTP/<host>[@REALM], the principal SPNEGO clients ask tickets for", a.Kerberos.Principal)
		}
		if n := len(a.Cookie.Secret.Reveal()); n > 0 && n < 32 {
			bad("auth.cookie.secret", "%d bytes, fewer than 32", n)
		}
		if a.Cookie.Lifetime <= 0 {
			bad("auth.cookie.lifetime", "must be positive")
		}
	}
	if methods[AuthToken] && a.TokensFile == "" && a.OIDC.Issuer == "" {
		bad("auth", "the token method needs tokensFile and/or oidc.issuer")
	}
	if a.OIDC.Issuer != "" {
		if u, err := url.Parse(a.OIDC.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("auth.oidc.issuer", "%q is not an http(s) URL", a.OIDC.Issuer)
		}
		if a.OIDC.Audience == "" {
			bad("auth.oidc.audience", "must be set with an issuer")
		}
		if a.OIDC.PrincipalClaim == "" {
			bad("auth.oidc.principalClaim", "must not be empty")
		}
	}
	if strings.TrimSpace(a.AuthToLocal) == "" {
		bad("auth.authToLocal", "empty: DEFAULT maps principals of the default realm to their first component")
	}
}

// loopback reports whether host (of a listen address) is a loopback name or address only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SlogLevel returns the log level as a slog.Level.
func (l Log) SlogLevel() (slog.Level, error) {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not one of debug, info, warn, error", l.Level)
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	return nil
}

// znodeWithin reports whether one of two znode paths is the other or lies below it.
func znodeWithin(a, b string) bool {
	a, b = strings.TrimSuffix(a, "/")+"/", strings.TrimSuffix(b, "/")+"/"
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

// validateNotify checks the health and notification settings.
func (c Config) validateNotify(bad func(key, format string, args ...any)) {
	h := c.Health
	if h.Interval < 0 || h.RestartWindow < 0 || h.CheckpointAge < 0 || h.MaxRestarts < 0 {
		bad("health", "interval, restartWindow, checkpointAge and maxRestarts may not be negative")
	}
	if h.AutoRestart && h.Interval == 0 {
		bad("health.autoRestart", "needs health checks (health.interval above 0): restarts follow the jobs' health")
	}
	events := map[string]bool{"state": true, "health": true, "savepoint": true, "upgrade": true}
	for i, w := range c.Notify.Webhooks {
		if w.URL == "" {
			bad("notify.webhooks", "entry %d has no url", i)
		}
		if _, ok := c.Notify.Secrets[w.Secret]; !ok {
			bad("notify.webhooks", "entry %d names secret %q, which notify.secrets lacks", i, w.Secret)
		}
		for _, e := range w.Events {
			if !events[e] {
				bad("notify.webhooks", "entry %d: unknown event type %q (state, health, savepoint, upgrade)", i, e)
			}
		}
	}
	for name, s := range c.Notify.Secrets {
		if len(s) < 16 {
			bad("notify.secrets", "%s: a signing secret has at least 16 bytes", name)
		}
	}
	if c.Notify.MaxAttempts < 1 || c.Notify.MaxAge <= 0 || c.Notify.Timeout <= 0 || c.Notify.MinBackoff <= 0 || c.Notify.MaxBackoff <= 0 {
		bad("notify", "maxAttempts, maxAge, timeout, minBackoff and maxBackoff must be positive")
	}
	if c.Notify.MinBackoff > c.Notify.MaxBackoff {
		bad("notify", "minBackoff %s exceeds maxBackoff %s", c.Notify.MinBackoff, c.Notify.MaxBackoff)
	}
}
