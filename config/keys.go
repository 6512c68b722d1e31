package config

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Key describes one configuration setting: where it lives in the YAML file and which environment variable
// and flag override it.
type Key struct {
	// Path is the dotted YAML key, such as hdfs.stagingRoot.
	Path string
	// Env is the environment variable, such as YARNGATE_HDFS_STAGING_ROOT.
	Env string
	// Flag is the command-line flag name without dashes, such as hdfs.staging-root.
	Flag string
	// Usage is a one-line description.
	Usage string

	set func(*Config, string) error
}

// keys is the configuration reference. Lists are comma-separated in the environment and in flags.
var keys = []Key{
	{Path: "listen", Env: "YARNGATE_LISTEN", Flag: "listen", Usage: "HTTP listen address host:port",
		set: setString(func(c *Config) *string { return &c.Listen })},
	{Path: "tls.certFile", Env: "YARNGATE_TLS_CERT_FILE", Flag: "tls.cert-file", Usage: "PEM certificate chain: serve HTTPS (with tls.keyFile), reloaded when it changes",
		set: setString(func(c *Config) *string { return &c.TLS.CertFile })},
	{Path: "tls.keyFile", Env: "YARNGATE_TLS_KEY_FILE", Flag: "tls.key-file", Usage: "PEM private key of tls.certFile",
		set: setString(func(c *Config) *string { return &c.TLS.KeyFile })},
	{Path: "auth.methods", Env: "YARNGATE_AUTH_METHODS", Flag: "auth.methods", Usage: "how callers authenticate: kerberos and/or token, or none (loopback only)",
		set: setList(func(c *Config) *[]string { return &c.Auth.Methods })},
	{Path: "auth.kerberos.keytab", Env: "YARNGATE_AUTH_KEYTAB", Flag: "auth.kerberos.keytab", Usage: "keytab with the SPNEGO service principal's keys",
		set: setString(func(c *Config) *string { return &c.Auth.Kerberos.Keytab })},
	{Path: "auth.kerberos.principal", Env: "YARNGATE_AUTH_PRINCIPAL", Flag: "auth.kerberos.principal", Usage: "SPNEGO service principal, HTTP/<host clients use>",
		set: setString(func(c *Config) *string { return &c.Auth.Kerberos.Principal })},
	{Path: "auth.cookie.secret", Env: "YARNGATE_AUTH_COOKIE_SECRET", Flag: "auth.cookie.secret", Usage: "secret signing the session cookies, 32 bytes or more (secret; default: random per process)",
		set: func(c *Config, v string) error { c.Auth.Cookie.Secret = Secret(v); return nil }},
	{Path: "auth.cookie.lifetime", Env: "YARNGATE_AUTH_COOKIE_LIFETIME", Flag: "auth.cookie.lifetime", Usage: "how long a session cookie is accepted",
		set: setDuration(func(c *Config) *time.Duration { return &c.Auth.Cookie.Lifetime })},
	{Path: "auth.tokensFile", Env: "YARNGATE_AUTH_TOKENS_FILE", Flag: "auth.tokens-file", Usage: "file of static bearer tokens (SHA-256, principal, groups), reloaded when it changes",
		set: setString(func(c *Config) *string { return &c.Auth.TokensFile })},
	{Path: "auth.oidc.issuer", Env: "YARNGATE_AUTH_OIDC_ISSUER", Flag: "auth.oidc.issuer", Usage: "OIDC issuer URL of bearer JWTs",
		set: setString(func(c *Config) *string { return &c.Auth.OIDC.Issuer })},
	{Path: "auth.oidc.audience", Env: "YARNGATE_AUTH_OIDC_AUDIENCE", Flag: "auth.oidc.audience", Usage: "audience (aud) JWTs must carry",
		set: setString(func(c *Config) *string { return &c.Auth.OIDC.Audience })},
	{Path: "auth.oidc.principalClaim", Env: "YARNGATE_AUTH_OIDC_PRINCIPAL_CLAIM", Flag: "auth.oidc.principal-claim", Usage: "JWT claim naming the caller",
		set: setString(func(c *Config) *string { return &c.Auth.OIDC.PrincipalClaim })},
	{Path: "auth.oidc.groupsClaim", Env: "YARNGATE_AUTH_OIDC_GROUPS_CLAIM", Flag: "auth.oidc.groups-claim", Usage: "JWT claim listing the caller's groups",
		set: setString(func(c *Config) *string { return &c.Auth.OIDC.GroupsClaim })},
	{Path: "auth.authToLocal", Env: "YARNGATE_AUTH_TO_LOCAL", Flag: "auth.auth-to-local", Usage: "principal to user name rules, Hadoop's auth_to_local syntax",
		set: setString(func(c *Config) *string { return &c.Auth.AuthToLocal })},
	{Path: "auth.groups", Env: "YARNGATE_AUTH_GROUPS", Flag: "auth.groups", Usage: "groups of users whose credentials carry none: user=group group,user=group",
		set: setGroups},
	{Path: "auth.admins.users", Env: "YARNGATE_AUTH_ADMIN_USERS", Flag: "auth.admins.users", Usage: "users who may see and act on every job and session",
		set: setList(func(c *Config) *[]string { return &c.Auth.Admins.Users })},
	{Path: "auth.admins.groups", Env: "YARNGATE_AUTH_ADMIN_GROUPS", Flag: "auth.admins.groups", Usage: "groups whose members may see and act on every job and session",
		set: setList(func(c *Config) *[]string { return &c.Auth.Admins.Groups })},
	{Path: "auth.impersonation.enabled", Env: "YARNGATE_AUTH_IMPERSONATION", Flag: "auth.impersonation", Usage: "run jobs as their callers (doAs, files and tokens of the user); false: as the gateway's user",
		set: setBool(func(c *Config) *bool { return &c.Auth.Impersonation.Enabled })},
	{Path: "auth.impersonation.users", Env: "YARNGATE_AUTH_IMPERSONATION_USERS", Flag: "auth.impersonation.users", Usage: "users jobs may run as (empty with groups empty: any user but denyUsers)",
		set: setList(func(c *Config) *[]string { return &c.Auth.Impersonation.Users })},
	{Path: "auth.impersonation.groups", Env: "YARNGATE_AUTH_IMPERSONATION_GROUPS", Flag: "auth.impersonation.groups", Usage: "groups whose members jobs may run as",
		set: setList(func(c *Config) *[]string { return &c.Auth.Impersonation.Groups })},
	{Path: "auth.impersonation.denyUsers", Env: "YARNGATE_AUTH_IMPERSONATION_DENY_USERS", Flag: "auth.impersonation.deny-users", Usage: "users jobs never run as",
		set: setList(func(c *Config) *[]string { return &c.Auth.Impersonation.DenyUsers })},
	{Path: "auth.proxyUsers", Env: "YARNGATE_AUTH_PROXY_USERS", Flag: "auth.proxy-users", Usage: "callers that may submit for others (proxyUser): caller=user group:name *,caller=...",
		set: setProxyUsers},
	{Path: "hadoopConfDir", Env: "YARNGATE_HADOOP_CONF_DIR", Flag: "hadoop-conf-dir", Usage: "Hadoop configuration directory (default $HADOOP_CONF_DIR)",
		set: setString(func(c *Config) *string { return &c.HadoopConfDir })},
	{Path: "user", Env: "YARNGATE_USER", Flag: "user", Usage: "user to act as against HDFS and YARN (simple authentication)",
		set: setString(func(c *Config) *string { return &c.User })},
	{Path: "kerberos.principal", Env: "YARNGATE_PRINCIPAL", Flag: "kerberos.principal", Usage: "the gateway's Kerberos principal, such as yarngate@EXAMPLE.COM (used when core-site.xml says kerberos)",
		set: setString(func(c *Config) *string { return &c.Kerberos.Principal })},
	{Path: "kerberos.keytab", Env: "YARNGATE_KEYTAB", Flag: "kerberos.keytab", Usage: "keytab file with the principal's key",
		set: setString(func(c *Config) *string { return &c.Kerberos.Keytab })},
	{Path: "kerberos.krb5Conf", Env: "YARNGATE_KRB5_CONF", Flag: "kerberos.krb5-conf", Usage: "krb5.conf of the realm (default $KRB5_CONFIG, else /etc/krb5.conf)",
		set: setString(func(c *Config) *string { return &c.Kerberos.Krb5Conf })},
	{Path: "kerberos.jobKrb5Conf", Env: "YARNGATE_JOB_KRB5_CONF", Flag: "kerberos.job-krb5-conf", Usage: "krb5.conf shipped to launched Flink clusters: a path, or none when the nodes have their own (default: krb5Conf)",
		set: setString(func(c *Config) *string { return &c.Kerberos.JobKrb5Conf })},
	{Path: "kerberos.tokenRenewer", Env: "YARNGATE_TOKEN_RENEWER", Flag: "kerberos.token-renewer", Usage: "renewer of launches' delegation tokens (default: the short name of yarn.resourcemanager.principal, else yarn)",
		set: setString(func(c *Config) *string { return &c.Kerberos.TokenRenewer })},
	{Path: "hdfs.namenodes", Env: "YARNGATE_HDFS_NAMENODES", Flag: "hdfs.namenodes", Usage: "NameNode RPC addresses host:port, overriding the Hadoop configuration",
		set: setList(func(c *Config) *[]string { return &c.HDFS.NameNodes })},
	{Path: "hdfs.stagingRoot", Env: "YARNGATE_HDFS_STAGING_ROOT", Flag: "hdfs.staging-root", Usage: "HDFS directory for staged jars (default /user/<user>/.yarngate)",
		set: setString(func(c *Config) *string { return &c.HDFS.StagingRoot })},
	{Path: "hdfs.dialTimeout", Env: "YARNGATE_HDFS_DIAL_TIMEOUT", Flag: "hdfs.dial-timeout", Usage: "timeout for connecting to a NameNode or DataNode",
		set: setDuration(func(c *Config) *time.Duration { return &c.HDFS.DialTimeout })},
	{Path: "hdfs.ioTimeout", Env: "YARNGATE_HDFS_IO_TIMEOUT", Flag: "hdfs.io-timeout", Usage: "timeout for each read or write on an HDFS connection",
		set: setDuration(func(c *Config) *time.Duration { return &c.HDFS.IOTimeout })},
	{Path: "hdfs.poolSize", Env: "YARNGATE_HDFS_POOL_SIZE", Flag: "hdfs.pool-size", Usage: "number of HDFS clients (concurrent HDFS operations)",
		set: setInt(func(c *Config) *int { return &c.HDFS.PoolSize })},
	{Path: "hdfs.tempMaxAge", Env: "YARNGATE_HDFS_TEMP_MAX_AGE", Flag: "hdfs.temp-max-age", Usage: "age after which leftover temporary uploads are removed at start-up (0 disables)",
		set: setDuration(func(c *Config) *time.Duration { return &c.HDFS.TempMaxAge })},
	{Path: "jars.maxSize", Env: "YARNGATE_JARS_MAX_SIZE", Flag: "jars.max-size", Usage: "largest accepted jar, such as 2GiB",
		set: func(c *Config, v string) error {
			s, err := ParseByteSize(v)
			c.Jars.MaxSize = s
			return err
		}},
	{Path: "jars.idleTimeout", Env: "YARNGATE_JARS_IDLE_TIMEOUT", Flag: "jars.idle-timeout", Usage: "longest pause while receiving an upload body",
		set: setDuration(func(c *Config) *time.Duration { return &c.Jars.IdleTimeout })},
	{Path: "jars.uploadSlots", Env: "YARNGATE_JARS_UPLOAD_SLOTS", Flag: "jars.upload-slots", Usage: "uploads staged at once, each on an HDFS client of its own beside hdfs.poolSize",
		set: setInt(func(c *Config) *int { return &c.Jars.UploadSlots })},
	{Path: "jars.slotWait", Env: "YARNGATE_JARS_SLOT_WAIT", Flag: "jars.slot-wait", Usage: "how long an upload waits for a free slot before 503",
		set: setDuration(func(c *Config) *time.Duration { return &c.Jars.SlotWait })},
	{Path: "jars.minRate", Env: "YARNGATE_JARS_MIN_RATE", Flag: "jars.min-rate", Usage: "slowest accepted upload per second over jars.rateWindow, such as 16KiB (0 disables)",
		set: func(c *Config, v string) error {
			s, err := ParseByteSize(v)
			c.Jars.MinRate = s
			return err
		}},
	{Path: "jars.rateWindow", Env: "YARNGATE_JARS_RATE_WINDOW", Flag: "jars.rate-window", Usage: "span the minimum upload rate is measured over",
		set: setDuration(func(c *Config) *time.Duration { return &c.Jars.RateWindow })},
	{Path: "jars.maxDuration", Env: "YARNGATE_JARS_MAX_DURATION", Flag: "jars.max-duration", Usage: "longest upload body (0 disables)",
		set: setDuration(func(c *Config) *time.Duration { return &c.Jars.MaxDuration })},
	{Path: "http.readHeaderTimeout", Env: "YARNGATE_HTTP_READ_HEADER_TIMEOUT", Flag: "http.read-header-timeout", Usage: "timeout for reading a request's headers",
		set: setDuration(func(c *Config) *time.Duration { return &c.HTTP.ReadHeaderTimeout })},
	{Path: "http.idleTimeout", Env: "YARNGATE_HTTP_IDLE_TIMEOUT", Flag: "http.idle-timeout", Usage: "how long a kept-alive connection may wait for its next request",
		set: setDuration(func(c *Config) *time.Duration { return &c.HTTP.IdleTimeout })},
	{Path: "http.bodyTimeout", Env: "YARNGATE_HTTP_BODY_TIMEOUT", Flag: "http.body-timeout", Usage: "timeout for reading the body of a request other than a jar upload",
		set: setDuration(func(c *Config) *time.Duration { return &c.HTTP.BodyTimeout })},
	{Path: "limits.writes.rate", Env: "YARNGATE_LIMITS_WRITES_RATE", Flag: "limits.writes.rate", Usage: "mutating requests (POST, DELETE) per second per client (0 disables)",
		set: setFloat(func(c *Config) *float64 { return &c.Limits.Writes.Rate })},
	{Path: "limits.writes.burst", Env: "YARNGATE_LIMITS_WRITES_BURST", Flag: "limits.writes.burst", Usage: "mutating requests a client may send at once",
		set: setInt(func(c *Config) *int { return &c.Limits.Writes.Burst })},
	{Path: "limits.reads.rate", Env: "YARNGATE_LIMITS_READS_RATE", Flag: "limits.reads.rate", Usage: "reads (GET) per second per client (0 disables)",
		set: setFloat(func(c *Config) *float64 { return &c.Limits.Reads.Rate })},
	{Path: "limits.reads.burst", Env: "YARNGATE_LIMITS_READS_BURST", Flag: "limits.reads.burst", Usage: "reads a client may send at once",
		set: setInt(func(c *Config) *int { return &c.Limits.Reads.Burst })},
	{Path: "limits.longPolls.total", Env: "YARNGATE_LIMITS_LONG_POLLS_TOTAL", Flag: "limits.long-polls.total", Usage: "concurrent long polls (?wait=) of all clients (0: no cap)",
		set: setInt(func(c *Config) *int { return &c.Limits.LongPolls.Total })},
	{Path: "limits.longPolls.perClient", Env: "YARNGATE_LIMITS_LONG_POLLS_PER_CLIENT", Flag: "limits.long-polls.per-client", Usage: "concurrent long polls of one client (0: no cap)",
		set: setInt(func(c *Config) *int { return &c.Limits.LongPolls.PerClient })},
	{Path: "yarn.rmUrls", Env: "YARNGATE_YARN_RM_URLS", Flag: "yarn.rm-urls", Usage: "ResourceManager web URLs, overriding yarn-site.xml",
		set: setList(func(c *Config) *[]string { return &c.YARN.RMURLs })},
	{Path: "yarn.requestTimeout", Env: "YARNGATE_YARN_REQUEST_TIMEOUT", Flag: "yarn.request-timeout", Usage: "timeout of one ResourceManager REST call",
		set: setDuration(func(c *Config) *time.Duration { return &c.YARN.RequestTimeout })},
	{Path: "zookeeper.quorum", Env: "YARNGATE_ZOOKEEPER_QUORUM", Flag: "zookeeper.quorum", Usage: "ZooKeeper connect string, overriding hadoop.zk.address",
		set: setString(func(c *Config) *string { return &c.ZooKeeper.Quorum })},
	{Path: "zookeeper.digest", Env: "YARNGATE_ZOOKEEPER_DIGEST", Flag: "zookeeper.digest", Usage: "user:password for ZooKeeper digest authentication (secret)",
		set: func(c *Config, v string) error { c.ZooKeeper.Digest = Secret(v); return nil }},
	{Path: "zookeeper.digestFile", Env: "YARNGATE_ZOOKEEPER_DIGEST_FILE", Flag: "zookeeper.digest-file", Usage: "file holding zookeeper.digest, read at start-up",
		set: setString(func(c *Config) *string { return &c.ZooKeeper.DigestFile })},
	{Path: "clusters.file", Env: "YARNGATE_CLUSTERS_FILE", Flag: "clusters.file", Usage: "YAML list of existing Flink clusters to register at start-up (bodies of POST /v1/clusters)",
		set: setString(func(c *Config) *string { return &c.Clusters.File })},
	{Path: "flink.homes", Env: "YARNGATE_FLINK_HOMES", Flag: "flink.homes", Usage: "local Flink distributions (Flink homes) jobs can run on",
		set: setList(func(c *Config) *[]string { return &c.Flink.Homes })},
	{Path: "flink.defaultVersion", Env: "YARNGATE_FLINK_DEFAULT_VERSION", Flag: "flink.default-version", Usage: "Flink version of jobs that name none, such as 1.20 (default: the first home)",
		set: setString(func(c *Config) *string { return &c.Flink.DefaultVersion })},
	{Path: "flink.libRoot", Env: "YARNGATE_FLINK_LIB_ROOT", Flag: "flink.lib-root", Usage: "HDFS directory for uploaded Flink distributions (default <hdfs.stagingRoot>/flink)",
		set: setString(func(c *Config) *string { return &c.Flink.LibRoot })},
	{Path: "flink.ha.mode", Env: "YARNGATE_FLINK_HA_MODE", Flag: "flink.ha.mode", Usage: "JobManager high availability: auto (ZooKeeper when a quorum is known), zookeeper or none",
		set: setString(func(c *Config) *string { return &c.Flink.HA.Mode })},
	{Path: "flink.ha.pathRoot", Env: "YARNGATE_FLINK_HA_PATH_ROOT", Flag: "flink.ha.path-root", Usage: "ZooKeeper path root of the launched clusters' HA data",
		set: setString(func(c *Config) *string { return &c.Flink.HA.PathRoot })},
	{Path: "flink.ha.storageDir", Env: "YARNGATE_FLINK_HA_STORAGE_DIR", Flag: "flink.ha.storage-dir", Usage: "HDFS directory of the clusters' HA data (default <hdfs.stagingRoot>/ha)",
		set: setString(func(c *Config) *string { return &c.Flink.HA.StorageDir })},
	{Path: "flink.ha.sessionTimeout", Env: "YARNGATE_FLINK_HA_SESSION_TIMEOUT", Flag: "flink.ha.session-timeout", Usage: "ZooKeeper session timeout of the JobManagers (how soon a new attempt takes over)",
		set: setDuration(func(c *Config) *time.Duration { return &c.Flink.HA.SessionTimeout })},
	{Path: "jobs.jobManagerMemory", Env: "YARNGATE_JOBS_JOB_MANAGER_MEMORY", Flag: "jobs.job-manager-memory", Usage: "default JobManager process size, such as 1600m",
		set: setString(func(c *Config) *string { return &c.Jobs.JobManagerMemory })},
	{Path: "jobs.taskManagerMemory", Env: "YARNGATE_JOBS_TASK_MANAGER_MEMORY", Flag: "jobs.task-manager-memory", Usage: "default TaskManager process size, such as 1728m",
		set: setString(func(c *Config) *string { return &c.Jobs.TaskManagerMemory })},
	{Path: "jobs.taskManagerSlots", Env: "YARNGATE_JOBS_TASK_MANAGER_SLOTS", Flag: "jobs.task-manager-slots", Usage: "default slots per TaskManager",
		set: setInt(func(c *Config) *int { return &c.Jobs.TaskManagerSlots })},
	{Path: "jobs.maxWait", Env: "YARNGATE_JOBS_MAX_WAIT", Flag: "jobs.max-wait", Usage: "longest long poll of GET /v1/jobs/{id}?wait=",
		set: setDuration(func(c *Config) *time.Duration { return &c.Jobs.MaxWait })},
	{Path: "jobs.savepoints.maxCount", Env: "YARNGATE_JOBS_SAVEPOINTS_MAX_COUNT", Flag: "jobs.savepoints.max-count", Usage: "completed savepoints kept per job (older ones are disposed of; 0: no limit)",
		set: setInt(func(c *Config) *int { return &c.Jobs.Savepoints.MaxCount })},
	{Path: "jobs.savepoints.maxAge", Env: "YARNGATE_JOBS_SAVEPOINTS_MAX_AGE", Flag: "jobs.savepoints.max-age", Usage: "age after which a completed savepoint is disposed of, the newest of a job excepted (0: no limit)",
		set: setDuration(func(c *Config) *time.Duration { return &c.Jobs.Savepoints.MaxAge })},
	{Path: "jobs.upgradeHealthTimeout", Env: "YARNGATE_JOBS_UPGRADE_HEALTH_TIMEOUT", Flag: "jobs.upgrade-health-timeout", Usage: "how long the new application of an upgrade may take to run and complete a checkpoint before it is rolled back",
		set: setDuration(func(c *Config) *time.Duration { return &c.Jobs.UpgradeHealthTimeout })},
	{Path: "registry.backend", Env: "YARNGATE_REGISTRY_BACKEND", Flag: "registry.backend", Usage: "where job records live: auto (zookeeper when a quorum is known), zookeeper or embedded",
		set: setString(func(c *Config) *string { return &c.Registry.Backend })},
	{Path: "registry.path", Env: "YARNGATE_REGISTRY_PATH", Flag: "registry.path", Usage: "database file of the embedded registry",
		set: setString(func(c *Config) *string { return &c.Registry.Path })},
	{Path: "registry.zkRoot", Env: "YARNGATE_REGISTRY_ZK_ROOT", Flag: "registry.zk-root", Usage: "znode of the zookeeper registry; instances sharing it form one service",
		set: setString(func(c *Config) *string { return &c.Registry.ZKRoot })},
	{Path: "registry.zkOpenACL", Env: "YARNGATE_REGISTRY_ZK_OPEN_ACL", Flag: "registry.zk-open-acl", Usage: "allow a zookeeper registry without zookeeper.digest: its znodes are then world-writable (not for production)",
		set: setBool(func(c *Config) *bool { return &c.Registry.ZKOpenACL })},
	{Path: "registry.reconcileInterval", Env: "YARNGATE_REGISTRY_RECONCILE_INTERVAL", Flag: "registry.reconcile-interval", Usage: "period of the reconciler (one ResourceManager list call each)",
		set: setDuration(func(c *Config) *time.Duration { return &c.Registry.ReconcileInterval })},
	{Path: "registry.retention", Env: "YARNGATE_REGISTRY_RETENTION", Flag: "registry.retention", Usage: "how long an ended job's record outlives YARN's memory of it",
		set: setDuration(func(c *Config) *time.Duration { return &c.Registry.Retention })},
	{Path: "registry.lostGrace", Env: "YARNGATE_REGISTRY_LOST_GRACE", Flag: "registry.lost-grace", Usage: "how long a record may miss its application before it is LOST",
		set: setDuration(func(c *Config) *time.Duration { return &c.Registry.LostGrace })},
	{Path: "registry.gcInterval", Env: "YARNGATE_REGISTRY_GC_INTERVAL", Flag: "registry.gc-interval", Usage: "period of the staging garbage collection",
		set: setDuration(func(c *Config) *time.Duration { return &c.Registry.GCInterval })},
	{Path: "health.interval", Env: "YARNGATE_HEALTH_INTERVAL", Flag: "health.interval", Usage: "period of each running job's health check (JobManager calls); 0 disables",
		set: setDuration(func(c *Config) *time.Duration { return &c.Health.Interval })},
	{Path: "health.restartWindow", Env: "YARNGATE_HEALTH_RESTART_WINDOW", Flag: "health.restart-window", Usage: "window job restarts are counted in",
		set: setDuration(func(c *Config) *time.Duration { return &c.Health.RestartWindow })},
	{Path: "health.maxRestarts", Env: "YARNGATE_HEALTH_MAX_RESTARTS", Flag: "health.max-restarts", Usage: "restarts in the window that make a job unhealthy (fewer: degraded); 0 disables",
		set: setInt(func(c *Config) *int { return &c.Health.MaxRestarts })},
	{Path: "health.checkpointAge", Env: "YARNGATE_HEALTH_CHECKPOINT_AGE", Flag: "health.checkpoint-age", Usage: "a checkpointing job without a completed checkpoint for longer is unhealthy; 0 disables",
		set: setDuration(func(c *Config) *time.Duration { return &c.Health.CheckpointAge })},
	{Path: "health.backpressure", Env: "YARNGATE_HEALTH_BACKPRESSURE", Flag: "health.backpressure", Usage: "high backpressure makes a job degraded",
		set: setBool(func(c *Config) *bool { return &c.Health.Backpressure })},
	{Path: "health.autoRestart", Env: "YARNGATE_HEALTH_AUTO_RESTART", Flag: "health.auto-restart", Usage: "restart jobs that ask for it (autoRestart) from their latest checkpoint when they stay unhealthy",
		set: setBool(func(c *Config) *bool { return &c.Health.AutoRestart })},
	{Path: "notify.webhooks", Env: "YARNGATE_NOTIFY_WEBHOOKS", Flag: "notify.webhooks", Usage: "global webhooks: URL SECRET-NAME [EVENT...],URL ...",
		set: setWebhooks},
	{Path: "notify.secrets", Env: "YARNGATE_NOTIFY_SECRETS", Flag: "notify.secrets", Usage: "webhook signing secrets: name=secret,name=secret (secrets)",
		set: setSecrets},
	{Path: "notify.allowHosts", Env: "YARNGATE_NOTIFY_ALLOW_HOSTS", Flag: "notify.allow-hosts", Usage: "webhook hosts allowed over plain http and on non-public addresses",
		set: setList(func(c *Config) *[]string { return &c.Notify.AllowHosts })},
	{Path: "notify.maxAttempts", Env: "YARNGATE_NOTIFY_MAX_ATTEMPTS", Flag: "notify.max-attempts", Usage: "delivery rounds of one event before it is given up",
		set: setInt(func(c *Config) *int { return &c.Notify.MaxAttempts })},
	{Path: "notify.maxAge", Env: "YARNGATE_NOTIFY_MAX_AGE", Flag: "notify.max-age", Usage: "age after which an undelivered event is given up",
		set: setDuration(func(c *Config) *time.Duration { return &c.Notify.MaxAge })},
	{Path: "notify.timeout", Env: "YARNGATE_NOTIFY_TIMEOUT", Flag: "notify.timeout", Usage: "timeout of one webhook call",
		set: setDuration(func(c *Config) *time.Duration { return &c.Notify.Timeout })},
	{Path: "notify.minBackoff", Env: "YARNGATE_NOTIFY_MIN_BACKOFF", Flag: "notify.min-backoff", Usage: "wait after an event's first failed delivery round, doubled per round",
		set: setDuration(func(c *Config) *time.Duration { return &c.Notify.MinBackoff })},
	{Path: "notify.maxBackoff", Env: "YARNGATE_NOTIFY_MAX_BACKOFF", Flag: "notify.max-backoff", Usage: "longest wait between an event's delivery rounds",
		set: setDuration(func(c *Config) *time.Duration { return &c.Notify.MaxBackoff })},
	{Path: "log.level", Env: "YARNGATE_LOG_LEVEL", Flag: "log.level", Usage: "log level: debug, info, warn or error",
		set: setString(func(c *Config) *string { return &c.Log.Level })},
	{Path: "log.format", Env: "YARNGATE_LOG_FORMAT", Flag: "log.format", Usage: "log format: text or json",
		set: setString(func(c *Config) *string { return &c.Log.Format })},
	{Path: "shutdownTimeout", Env: "YARNGATE_SHUTDOWN_TIMEOUT", Flag: "shutdown-timeout", Usage: "time in-flight requests get to finish on shutdown",
		set: setDuration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
}

// ConfigFileEnv names the environment variable that gives the YAML file when no --config flag does.
const ConfigFileEnv = "YARNGATE_CONFIG"

// configFlag is the flag that names the YAML file.
const configFlag = "config"

// Keys returns the configuration reference, in the order of the YAML file.
func Keys() []Key { return append([]Key(nil), keys...) }

// RegisterFlags adds --config and one flag per key to fs. Flags left unset do not override anything.
func RegisterFlags(fs *flag.FlagSet) {
	fs.String(configFlag, "", "YAML configuration file (env "+ConfigFileEnv+")")
	for _, k := range keys {
		fs.String(k.Flag, "", k.Usage+" (env "+k.Env+")")
	}
}

func setString(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		*field(c) = strings.TrimSpace(v)
		return nil
	}
}

// setGroups parses user=group group,user=group.
func setGroups(c *Config, v string) error {
	m := map[string][]string{}
	for _, entry := range strings.Split(v, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		user, groups, ok := strings.Cut(entry, "=")
		if user = strings.TrimSpace(user); !ok || user == "" {
			return fmt.Errorf("%q is not user=group group", entry)
		}
		m[user] = strings.Fields(groups)
	}
	c.Auth.Groups = m
	return nil
}

// setProxyUsers parses caller=entry entry,caller=...; an entry is a user, group:<name> or *.
func setProxyUsers(c *Config, v string) error {
	m := map[string]AuthProxyRule{}
	for _, entry := range strings.Split(v, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		caller, list, ok := strings.Cut(entry, "=")
		if caller = strings.TrimSpace(caller); !ok || caller == "" {
			return fmt.Errorf("%q is not caller=user group:name", entry)
		}
		r := AuthProxyRule{Users: []string{}, Groups: []string{}}
		for _, f := range strings.Fields(list) {
			if g, ok := strings.CutPrefix(f, "group:"); ok {
				r.Groups = append(r.Groups, g)
			} else {
				r.Users = append(r.Users, f)
			}
		}
		m[caller] = r
	}
	c.Auth.ProxyUsers = m
	return nil
}

func setList(field func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		*field(c) = out
		return nil
	}
}

func setDuration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return err
		}
		*field(c) = d
		return nil
	}
}

func setBool(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return err
		}
		*field(c) = b
		return nil
	}
}

func setFloat(field func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return err
		}
		*field(c) = f
		return nil
	}
}

func setInt(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return err
		}
		*field(c) = n
		return nil
	}
}

// setWebhooks parses URL SECRET-NAME [EVENT...],URL ...
func setWebhooks(c *Config, v string) error {
	var out []NotifyWebhook
	for _, entry := range strings.Split(v, ",") {
		f := strings.Fields(entry)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 {
			return fmt.Errorf("%q is not URL SECRET-NAME [EVENT...]", entry)
		}
		out = append(out, NotifyWebhook{URL: f[0], Secret: f[1], Events: f[2:]})
	}
	c.Notify.Webhooks = out
	return nil
}

// setSecrets parses name=secret,name=secret.
func setSecrets(c *Config, v string) error {
	m := map[string]Secret{}
	for _, entry := range strings.Split(v, ",") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		name, secret, ok := strings.Cut(entry, "=")
		if name = strings.TrimSpace(name); !ok || name == "" || secret == "" {
			return errors.New("an entry is not name=secret")
		}
		m[name] = Secret(secret)
	}
	c.Notify.Secrets = m
	return nil
}
