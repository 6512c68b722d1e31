// Package config defines yarngate's configuration and loads it in layers: built-in defaults, then a YAML
// file, then YARNGATE_* environment variables, then command-line flags; each layer overrides the one before.
//
// The YAML file is strict: an unknown key is an error, so a typo never silently falls back to a default.
// Only the environment variables listed in the configuration reference (Keys) are read; other YARNGATE_*
// variables are ignored, because the test cluster's cluster.env uses the same prefix for its own values.
//
// The file is decoded with go.yaml.in/yaml/v3 (the YAML organisation's maintained yaml.v3) and its
// KnownFields mode, and environment variables and flags go through one small table of keys. A general
// configuration library (koanf, viper) was not used: neither rejects unknown keys by itself, and the table
// keeps env names, flag names and help text in one reviewable place.
//
// Cluster endpoints are not configured here: they come from the Hadoop XML files in HadoopConfDir
// (package hadoopconf), as for every Hadoop tool; HDFS.NameNodes and YARN.RMURLs only override them.
//
// Dependency rule: config imports no other yarngate package; the composition root (package app) turns it
// into client and server options.
package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os/user"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the complete yarngate configuration. Field comments name the YAML key.
type Config struct {
	// Listen is the HTTP listen address, host:port (listen).
	Listen string `yaml:"listen"`
	// HadoopConfDir is the directory with core-site.xml, hdfs-site.xml and yarn-site.xml (hadoopConfDir);
	// it defaults to $HADOOP_CONF_DIR.
	HadoopConfDir string `yaml:"hadoopConfDir"`
	// User is the user yarngate acts as against HDFS and the ResourceManager with simple authentication
	// (user); it defaults to the operating-system user. On a Kerberized cluster the principal's short name
	// is who the cluster sees; User still names the default staging root.
	User string `yaml:"user"`
	// TLS makes the gateway serve HTTPS (tls).
	TLS TLS `yaml:"tls"`
	// Auth configures how callers authenticate (auth).
	Auth Auth `yaml:"auth"`
	// Kerberos holds the gateway's credentials for a Kerberized cluster (kerberos).
	Kerberos Kerberos `yaml:"kerberos"`
	// HDFS configures jar staging (hdfs).
	HDFS HDFS `yaml:"hdfs"`
	// Jars configures accepted uploads (jars).
	Jars Jars `yaml:"jars"`
	// HTTP configures the HTTP server's timeouts against slow clients (http).
	HTTP HTTP `yaml:"http"`
	// Limits configures the per-client request limits and the cap on long polls (limits).
	Limits Limits `yaml:"limits"`
	// YARN configures the ResourceManager client (yarn).
	YARN YARN `yaml:"yarn"`
	// ZooKeeper configures the ZooKeeper client (zookeeper).
	ZooKeeper ZooKeeper `yaml:"zookeeper"`
	// Flink configures the Flink distributions jobs run on (flink).
	Flink Flink `yaml:"flink"`
	// Jobs configures job launches (jobs).
	Jobs Jobs `yaml:"jobs"`
	// Registry configures the durable records of jobs and sessions (registry).
	Registry Registry `yaml:"registry"`
	// Health configures the health checks of running jobs (health).
	Health Health `yaml:"health"`
	// Notify configures webhook notifications (notify).
	Notify Notify `yaml:"notify"`
	// Clusters configures existing Flink clusters registered at start-up (clusters).
	Clusters Clusters `yaml:"clusters"`
	// Log configures logging (log).
	Log Log `yaml:"log"`
	// ShutdownTimeout is how long in-flight requests may take to finish after a shutdown signal
	// (shutdownTimeout).
	ShutdownTimeout time.Duration `yaml:"shutdownTimeout"`
}

// Kerberos holds the gateway's Kerberos credentials. They are used when the Hadoop configuration says
// hadoop.security.authentication=kerberos, and the gateway refuses to start on such a cluster without
// Principal and Keytab; on a cluster with simple authentication they are ignored.
type Kerberos struct {
	// Principal is the gateway's principal, such as yarngate@EXAMPLE.COM (principal).
	Principal string `yaml:"principal"`
	// Keytab is the path of the keytab holding the principal's key (keytab).
	Keytab string `yaml:"keytab"`
	// Krb5Conf is the path of krb5.conf (krb5Conf); it defaults to $KRB5_CONFIG, else /etc/krb5.conf.
	Krb5Conf string `yaml:"krb5Conf"`
	// JobKrb5Conf is the krb5.conf shipped to the Flink clusters the gateway launches (jobKrb5Conf): a
	// path, "none" for nodes that have their own, or empty for the gateway's Krb5Conf.
	JobKrb5Conf string `yaml:"jobKrb5Conf"`
	// TokenRenewer is the renewer of the delegation tokens launches get (tokenRenewer): the short name of
	// the ResourceManager's principal. Empty: from yarn.resourcemanager.principal, else "yarn".
	TokenRenewer string `yaml:"tokenRenewer"`
}

// TLS configures HTTPS serving. With both files set the gateway serves HTTPS only; the files are read again
// when they change (a renewed certificate needs no restart).
type TLS struct {
	// CertFile is the PEM certificate chain, the server's certificate first (certFile).
	CertFile string `yaml:"certFile"`
	// KeyFile is the PEM private key of the certificate (keyFile).
	KeyFile string `yaml:"keyFile"`
}

// Authentication methods of Auth.Methods.
const (
	// AuthNone lets every caller in as User; only on a loopback listen address.
	AuthNone = "none"
	// AuthKerberos is SPNEGO with the service keytab, and a session cookie after it.
	AuthKerberos = "kerberos"
	// AuthToken is bearer tokens: static ones from TokensFile and/or JWTs of the OIDC issuer.
	AuthToken = "token"
)

// Auth configures the authentication of the gateway's callers.
type Auth struct {
	// Methods are kerberos and/or token, or none (methods).
	Methods []string `yaml:"methods"`
	// Kerberos configures SPNEGO (kerberos).
	Kerberos AuthSPNEGO `yaml:"kerberos"`
	// Cookie configures the session cookie issued after SPNEGO (cookie).
	Cookie AuthCookie `yaml:"cookie"`
	// TokensFile lists SHA-256 hashes of static bearer tokens with their principal and groups (tokensFile).
	TokensFile string `yaml:"tokensFile"`
	// OIDC configures bearer JWTs of an OIDC issuer (oidc).
	OIDC AuthOIDC `yaml:"oidc"`
	// AuthToLocal maps principals to user names, in Hadoop's hadoop.security.auth_to_local syntax (authToLocal).
	AuthToLocal string `yaml:"authToLocal"`
	// Groups maps users to their groups, for credentials that carry none (groups).
	Groups map[string][]string `yaml:"groups"`
	// Admins may see and act on every job and session (admins).
	Admins AuthAdmins `yaml:"admins"`
	// Impersonation says whom jobs may run as (impersonation).
	Impersonation AuthImpersonation `yaml:"impersonation"`
	// ProxyUsers are the callers (short user name or full principal) that may submit for other users with
	// proxyUser, and whom each may act for (proxyUsers).
	ProxyUsers map[string]AuthProxyRule `yaml:"proxyUsers"`
}

// AuthImpersonation says whom jobs run as: their effective user (the caller, or the proxyUser a proxy
// caller named) unless Enabled is false.
type AuthImpersonation struct {
	// Enabled runs jobs as their effective users (YARN doAs or user.name, launch files and delegation
	// tokens of that user); false runs every job as the gateway's user (enabled).
	Enabled bool `yaml:"enabled"`
	// Users and Groups are the users jobs may run as, by name or group; both empty: any user but
	// DenyUsers (users, groups).
	Users  []string `yaml:"users"`
	Groups []string `yaml:"groups"`
	// DenyUsers are never run as (denyUsers).
	DenyUsers []string `yaml:"denyUsers"`
}

// AuthProxyRule is whom a proxy caller may act for (users, "*" for any; groups).
type AuthProxyRule struct {
	Users  []string `yaml:"users"`
	Groups []string `yaml:"groups"`
}

// AuthAdmins are the administrators: users and members of groups.
type AuthAdmins struct {
	// Users are administrators by user name (users).
	Users []string `yaml:"users"`
	// Groups make their members administrators (groups).
	Groups []string `yaml:"groups"`
}

// AuthSPNEGO configures SPNEGO.
type AuthSPNEGO struct {
	// Keytab holds the service principal's keys (keytab).
	Keytab string `yaml:"keytab"`
	// Principal is the service principal, HTTP/<host clients use> (principal).
	Principal string `yaml:"principal"`
}

// AuthCookie configures the SPNEGO session cookie.
type AuthCookie struct {
	// Secret signs the cookies, at least 32 bytes; empty: random per process (secret).
	Secret Secret `yaml:"secret"`
	// Lifetime is how long a cookie is accepted (lifetime).
	Lifetime time.Duration `yaml:"lifetime"`
}

// AuthOIDC configures bearer JWTs.
type AuthOIDC struct {
	// Issuer is the issuer URL, whose discovery document names its keys (issuer).
	Issuer string `yaml:"issuer"`
	// Audience is the aud tokens must carry (audience).
	Audience string `yaml:"audience"`
	// PrincipalClaim names the caller (principalClaim).
	PrincipalClaim string `yaml:"principalClaim"`
	// GroupsClaim lists the caller's groups (groupsClaim).
	GroupsClaim string `yaml:"groupsClaim"`
}

// HDFS configures the staging store.
type HDFS struct {
	// NameNodes overrides the NameNode RPC addresses (host:port) from the Hadoop configuration (namenodes).
	NameNodes []string `yaml:"namenodes"`
	// StagingRoot is the HDFS directory jars are staged under (stagingRoot); it defaults to
	// /user/<user>/.yarngate.
	StagingRoot string `yaml:"stagingRoot"`
	// DialTimeout bounds connecting to a NameNode or DataNode (dialTimeout).
	DialTimeout time.Duration `yaml:"dialTimeout"`
	// IOTimeout bounds every single read or write on an HDFS connection (ioTimeout).
	IOTimeout time.Duration `yaml:"ioTimeout"`
	// PoolSize is the number of HDFS clients, and so of concurrent HDFS operations (poolSize).
	PoolSize int `yaml:"poolSize"`
	// TempMaxAge is the age after which leftover temporary upload files are removed at start-up
	// (tempMaxAge).
	TempMaxAge time.Duration `yaml:"tempMaxAge"`
}

// Jars configures jar uploads.
type Jars struct {
	// MaxSize is the largest accepted jar (maxSize), such as 2GiB or 512MiB.
	MaxSize ByteSize `yaml:"maxSize"`
	// IdleTimeout is the longest pause allowed while receiving an upload body (idleTimeout).
	IdleTimeout time.Duration `yaml:"idleTimeout"`
	// UploadSlots is the number of uploads staged at once, each on an HDFS client of its own beside
	// hdfs.poolSize (uploadSlots).
	UploadSlots int `yaml:"uploadSlots"`
	// SlotWait is how long an upload waits for a free slot before it is refused with 503 (slotWait).
	SlotWait time.Duration `yaml:"slotWait"`
	// MinRate is the slowest accepted upload, in bytes per second averaged over RateWindow (minRate); 0
	// disables the check.
	MinRate ByteSize `yaml:"minRate"`
	// RateWindow is the span MinRate is measured over (rateWindow).
	RateWindow time.Duration `yaml:"rateWindow"`
	// MaxDuration bounds the whole upload body (maxDuration); 0 disables it.
	MaxDuration time.Duration `yaml:"maxDuration"`
}

// HTTP configures the HTTP server against slow clients.
type HTTP struct {
	// ReadHeaderTimeout bounds reading a request's headers (readHeaderTimeout).
	ReadHeaderTimeout time.Duration `yaml:"readHeaderTimeout"`
	// IdleTimeout is how long a kept-alive connection may wait for its next request (idleTimeout).
	IdleTimeout time.Duration `yaml:"idleTimeout"`
	// BodyTimeout bounds reading the body of a request other than a jar upload, such as a JSON job request
	// (bodyTimeout).
	BodyTimeout time.Duration `yaml:"bodyTimeout"`
}

// Limits configures the limits per client (today its remote address; its authenticated principal once
// authentication lands) and the cap on long polls.
type Limits struct {
	// Writes limits the mutating requests (POST, DELETE) of one client (writes).
	Writes RateLimit `yaml:"writes"`
	// Reads limits the reads (GET) of one client, long polls included (reads).
	Reads RateLimit `yaml:"reads"`
	// LongPolls caps concurrent long polls (?wait=) (longPolls).
	LongPolls LongPolls `yaml:"longPolls"`
}

// RateLimit is a token bucket: Rate requests per second on average, Burst at once.
type RateLimit struct {
	// Rate is requests per second (rate); 0 disables the limit.
	Rate float64 `yaml:"rate"`
	// Burst is how many requests may come at once (burst).
	Burst int `yaml:"burst"`
}

// LongPolls caps concurrent long polls; a long poll beyond a cap is refused (429 rate_limited).
type LongPolls struct {
	// Total caps long polls of all clients together (total); 0: no cap.
	Total int `yaml:"total"`
	// PerClient caps the long polls of one client (perClient); 0: no cap.
	PerClient int `yaml:"perClient"`
}

// YARN configures the ResourceManager client.
type YARN struct {
	// RMURLs overrides the ResourceManager web addresses from yarn-site.xml (rmUrls).
	RMURLs []string `yaml:"rmUrls"`
	// RequestTimeout bounds one ResourceManager REST call (requestTimeout).
	RequestTimeout time.Duration `yaml:"requestTimeout"`
}

// ZooKeeper configures the ZooKeeper client: ResourceManager and JobManager leaders, and the zookeeper
// registry with its election.
type ZooKeeper struct {
	// Quorum overrides the connect string (host:port,...) from hadoop.zk.address (quorum).
	Quorum string `yaml:"quorum"`
	// Digest is "user:password" for ZooKeeper digest authentication (digest). It never prints. Every gateway
	// instance sharing a registry uses the same one: the registry's and the election's znodes admit only
	// this identity.
	Digest Secret `yaml:"digest"`
	// DigestFile is a file holding Digest (digestFile), read at start-up, for a secret kept out of the
	// environment and the command line. Set Digest or DigestFile, not both.
	DigestFile string `yaml:"digestFile"`
}

// Flink configures the Flink distributions.
type Flink struct {
	// Homes are local Flink distributions (each with lib/, plugins/, conf/), such as /opt/flink-1.20.3
	// (homes). Each is uploaded to HDFS once, on first use.
	Homes []string `yaml:"homes"`
	// DefaultVersion is the version a job gets when it names none, such as 1.20 or 2.2 (defaultVersion);
	// empty means the first of Homes.
	DefaultVersion string `yaml:"defaultVersion"`
	// LibRoot is the HDFS directory the distributions are uploaded to (libRoot); it and its parents must
	// be world-executable, because YARN localises the files as PUBLIC resources. Default:
	// <hdfs.stagingRoot>/flink.
	LibRoot string `yaml:"libRoot"`
	// HA configures ZooKeeper high availability of the launched JobManagers (ha).
	HA FlinkHA `yaml:"ha"`
}

// HA modes of FlinkHA.Mode.
const (
	// HAAuto launches with ZooKeeper HA when a ZooKeeper quorum is known.
	HAAuto = "auto"
	// HAZooKeeper always launches with ZooKeeper HA; a quorum is required.
	HAZooKeeper = "zookeeper"
	// HANone launches without HA.
	HANone = "none"
)

// FlinkHA configures ZooKeeper high availability of the launched JobManagers: with it, YARN restarts a
// failed JobManager in a new application attempt, the job recovers from its last checkpoint, and the
// gateway follows the new leader through ZooKeeper.
type FlinkHA struct {
	// Mode is auto (ZooKeeper HA when a quorum is known), zookeeper or none (mode).
	Mode string `yaml:"mode"`
	// PathRoot is high-availability.zookeeper.path.root of every launch (pathRoot).
	PathRoot string `yaml:"pathRoot"`
	// StorageDir is high-availability.storageDir, an HDFS path or URI (storageDir). Default:
	// <hdfs.stagingRoot>/ha.
	StorageDir string `yaml:"storageDir"`
	// SessionTimeout is high-availability.zookeeper.client.session-timeout (sessionTimeout): how long the
	// leader znode of a JobManager that died stays, and so how long a new attempt waits to take over.
	SessionTimeout time.Duration `yaml:"sessionTimeout"`
}

// Jobs configures job launches.
type Jobs struct {
	// JobManagerMemory is the JobManager process size a job gets when it names none (jobManagerMemory).
	JobManagerMemory string `yaml:"jobManagerMemory"`
	// TaskManagerMemory is the TaskManager process size a job gets when it names none (taskManagerMemory).
	TaskManagerMemory string `yaml:"taskManagerMemory"`
	// TaskManagerSlots is the slot count per TaskManager a job gets when it names none (taskManagerSlots).
	TaskManagerSlots int `yaml:"taskManagerSlots"`
	// MaxWait caps the long poll of GET /v1/jobs/{id}?wait= (maxWait).
	MaxWait time.Duration `yaml:"maxWait"`
	// Savepoints is the retention of each job's completed savepoints (savepoints).
	Savepoints SavepointRetention `yaml:"savepoints"`
	// UpgradeHealthTimeout is how long the new application of an upgrade may take to run and complete a
	// checkpoint before it is rolled back (upgradeHealthTimeout).
	UpgradeHealthTimeout time.Duration `yaml:"upgradeHealthTimeout"`
}

// SavepointRetention bounds the completed savepoints kept per job; those dropped are disposed of (their
// files removed). The newest completed savepoint is always kept.
type SavepointRetention struct {
	// MaxCount is how many completed savepoints a job keeps, 0 for no limit (maxCount).
	MaxCount int `yaml:"maxCount"`
	// MaxAge is how long a completed savepoint is kept, 0 for no limit (maxAge).
	MaxAge time.Duration `yaml:"maxAge"`
}

// Registry backends.
const (
	// RegistryAuto keeps the records in ZooKeeper when a quorum is known, else in the embedded store.
	RegistryAuto = "auto"
	// RegistryZooKeeper keeps the records in ZooKeeper, shared by every instance using the same root.
	RegistryZooKeeper = "zookeeper"
	// RegistryEmbedded keeps the records in a local database file, for a single instance.
	RegistryEmbedded = "embedded"
)

// Clusters configures the existing Flink clusters registered from the configuration.
type Clusters struct {
	// File is a YAML file listing Flink clusters to register at start-up, each as the body of
	// POST /v1/clusters (id, name, rest, zookeeper, yarnApplicationId, acl) (file); empty: none.
	File string `yaml:"file"`
}

// Registry configures the durable records of jobs and sessions.
type Registry struct {
	// Backend is auto, zookeeper or embedded (backend).
	Backend string `yaml:"backend"`
	// Path is the database file of the embedded backend (path).
	Path string `yaml:"path"`
	// ZKRoot is the znode under which the zookeeper backend keeps records, key claims and the election of
	// the reconciler (zkRoot). Instances sharing it form one service. With zookeeper.digest it and everything
	// below it admit only the digest identity.
	ZKRoot string `yaml:"zkRoot"`
	// ZKOpenACL lets the zookeeper backend run without zookeeper.digest (zkOpenACL): its znodes are then
	// world-writable, and anything that reaches the quorum (every launched job does, for Flink HA) can change
	// or delete records and take the reconciler's election. Without it the gateway refuses to start with a
	// zookeeper registry and no digest.
	ZKOpenACL bool `yaml:"zkOpenACL"`
	// ReconcileInterval is the period of the reconciler: one ResourceManager list call each (reconcileInterval).
	ReconcileInterval time.Duration `yaml:"reconcileInterval"`
	// Retention is how long the record of an ended job is kept after YARN forgot the application (retention).
	Retention time.Duration `yaml:"retention"`
	// LostGrace is how long a record may miss its application before it is marked LOST (lostGrace).
	LostGrace time.Duration `yaml:"lostGrace"`
	// GCInterval is the period of the staging garbage collection (gcInterval).
	GCInterval time.Duration `yaml:"gcInterval"`
}

// Health configures the health checks of running jobs (JobManager REST calls made by the
// reconciler at a lower frequency than its passes).
type Health struct {
	// Interval is the period of one job's checks; 0 disables them (interval).
	Interval time.Duration `yaml:"interval"`
	// RestartWindow is the window restarts are counted in (restartWindow).
	RestartWindow time.Duration `yaml:"restartWindow"`
	// MaxRestarts: this many restarts in the window make a job unhealthy, fewer (but some) degraded; 0 disables
	// (maxRestarts).
	MaxRestarts int `yaml:"maxRestarts"`
	// CheckpointAge: a checkpointing job without a completed checkpoint for longer is unhealthy; 0 disables
	// (checkpointAge).
	CheckpointAge time.Duration `yaml:"checkpointAge"`
	// Backpressure: high backpressure makes a job degraded (backpressure).
	Backpressure bool `yaml:"backpressure"`
	// AutoRestart lets jobs that ask for it (their request's autoRestart) be restarted automatically when
	// they stay unhealthy; off by default (autoRestart).
	AutoRestart bool `yaml:"autoRestart"`
}

// Notify configures webhook notifications.
type Notify struct {
	// Webhooks receive the events of every job and session (webhooks).
	Webhooks []NotifyWebhook `yaml:"webhooks"`
	// Secrets are the signing secrets by name; webhooks name theirs (secrets).
	Secrets map[string]Secret `yaml:"secrets"`
	// AllowHosts may be called over plain http and may resolve to non-public addresses (allowHosts).
	AllowHosts []string `yaml:"allowHosts"`
	// MaxAttempts bounds the delivery rounds of one event (maxAttempts).
	MaxAttempts int `yaml:"maxAttempts"`
	// MaxAge gives up events older than this (maxAge).
	MaxAge time.Duration `yaml:"maxAge"`
	// Timeout bounds one webhook call (timeout).
	Timeout time.Duration `yaml:"timeout"`
	// MinBackoff and MaxBackoff bound the wait between delivery rounds of an event, doubled per failed
	// round (minBackoff, maxBackoff).
	MinBackoff time.Duration `yaml:"minBackoff"`
	MaxBackoff time.Duration `yaml:"maxBackoff"`
}

// NotifyWebhook is a global webhook.
type NotifyWebhook struct {
	// URL is called with POST (url).
	URL string `yaml:"url"`
	// Events are the event types sent: state, health, savepoint, upgrade; empty: all (events).
	Events []string `yaml:"events"`
	// Secret names the entry of notify.secrets that signs the calls (secret).
	Secret string `yaml:"secret"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error (level).
	Level string `yaml:"level"`
	// Format is text or json (format).
	Format string `yaml:"format"`
}

// Default returns the built-in defaults. env looks up environment variables (os.Getenv in production); it
// supplies HADOOP_CONF_DIR.
func Default(env func(string) string) Config {
	return Config{
		Listen:        "127.0.0.1:8080",
		HadoopConfDir: env("HADOOP_CONF_DIR"),
		User:          osUser(env),
		Auth: Auth{Methods: []string{AuthNone}, Cookie: AuthCookie{Lifetime: 10 * time.Hour},
			OIDC: AuthOIDC{PrincipalClaim: "sub", GroupsClaim: "groups"}, AuthToLocal: "DEFAULT",
			Admins: AuthAdmins{Users: []string{}, Groups: []string{}},
			Impersonation: AuthImpersonation{Enabled: true, Users: []string{}, Groups: []string{},
				DenyUsers: []string{"root", "hdfs", "yarn", "mapred"}}},
		Kerberos: Kerberos{Krb5Conf: defaultKrb5Conf(env)},
		HDFS: HDFS{
			DialTimeout: 10 * time.Second,
			IOTimeout:   60 * time.Second,
			PoolSize:    8,
			TempMaxAge:  24 * time.Hour,
		},
		Jars: Jars{MaxSize: 2 * GiB, IdleTimeout: 60 * time.Second, UploadSlots: 4, SlotWait: 10 * time.Second,
			MinRate: 16 * KiB, RateWindow: 30 * time.Second, MaxDuration: time.Hour},
		HTTP: HTTP{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, BodyTimeout: 30 * time.Second},
		Limits: Limits{
			Writes:    RateLimit{Rate: 10, Burst: 50},
			Reads:     RateLimit{Rate: 100, Burst: 200},
			LongPolls: LongPolls{Total: 1000, PerClient: 100},
		},
		YARN:  YARN{RequestTimeout: 30 * time.Second},
		Flink: Flink{HA: FlinkHA{Mode: HAAuto, PathRoot: "/yarngate-flink", SessionTimeout: 10 * time.Second}},
		Jobs: Jobs{JobManagerMemory: "1600m", TaskManagerMemory: "1728m", TaskManagerSlots: 1, MaxWait: 5 * time.Minute,
			Savepoints: SavepointRetention{MaxCount: 10}, UpgradeHealthTimeout: 5 * time.Minute},
		Registry: Registry{Backend: RegistryAuto, Path: "yarngate-registry.db", ZKRoot: "/yarngate",
			ReconcileInterval: time.Second, Retention: 7 * 24 * time.Hour, LostGrace: time.Minute, GCInterval: 5 * time.Minute},
		Health: Health{Interval: 30 * time.Second, RestartWindow: 10 * time.Minute, MaxRestarts: 3, CheckpointAge: 10 * time.Minute,
			Backpressure: true},
		Notify: Notify{Webhooks: []NotifyWebhook{}, Secrets: map[string]Secret{}, AllowHosts: []string{}, MaxAttempts: 12, MaxAge: 24 * time.Hour,
			Timeout: 10 * time.Second, MinBackoff: time.Second, MaxBackoff: 5 * time.Minute},
		Log:             Log{Level: "info", Format: "text"},
		ShutdownTimeout: 30 * time.Second,
	}
}

// osUser returns the operating-system user name, or $USER when the user database cannot say.
func osUser(env func(string) string) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return env("USER")
}

// defaultKrb5Conf is where MIT Kerberos looks for krb5.conf: the first file of $KRB5_CONFIG, else
// /etc/krb5.conf.
func defaultKrb5Conf(env func(string) string) string {
	if first, _, _ := strings.Cut(env("KRB5_CONFIG"), ":"); first != "" {
		return first
	}
	return "/etc/krb5.conf"
}

// DefaultStagingRoot returns the staging root used when none is configured.
func DefaultStagingRoot(user string) string {
	return "/user/" + user + "/.yarngate"
}

// YAML renders the configuration as YAML, secrets redacted.
func (c Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	return buf.Bytes(), nil
}

// Secret is a string that redacts itself whenever it is printed, logged or serialised. Use Reveal to get
// the value.
type Secret string

const redacted = "<redacted>"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns "<redacted>" for a non-empty secret and "" otherwise.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts the secret in %#v output.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// MarshalYAML redacts the secret in YAML output.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText redacts the secret in JSON and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue redacts the secret in log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// lookupEnv adapts an environment list (os.Environ format) to a lookup function.
func lookupEnv(environ []string) func(string) string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}
