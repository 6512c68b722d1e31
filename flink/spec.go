package flink

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/yarngate/yarngate/yarnclient"
)

// Mode is the kind of Flink cluster to launch.
type Mode string

// Cluster modes. Per-job mode needs a client-side JobGraph and is gone in Flink 2.
const (
	// ModeApplication runs the user's main() in the JobManager (YarnApplicationClusterEntryPoint).
	ModeApplication Mode = "application"
	// ModeSession starts an empty session cluster (YarnSessionClusterEntrypoint).
	ModeSession Mode = "session"
)

// LaunchSpec is everything needed to build a launch. Zero optional fields take Flink's defaults.
type LaunchSpec struct {
	// Dist is the local distribution (version, stock configuration, log configuration).
	Dist *Dist
	// Libs is the uploaded distribution from UploadDist.
	Libs *ProvidedLibs
	// UserJar is the staged program jar (application mode). Its Key is ignored: the key is the
	// jar's base name, as Flink registers pipeline.jars.
	UserJar RemoteFile
	// ApplicationID is the id from new-application.
	ApplicationID string
	// Mode is application or session.
	Mode Mode
	// JobID fixes the Flink job ID of an application-mode job ($internal.pipeline.job-id, 32 lower-case
	// hex digits), so that the caller knows it before the cluster runs; empty lets Flink choose.
	JobID string
	// EntryClass is the program's main class; empty lets Flink read the jar manifest.
	EntryClass string
	// Args are the program arguments, passed to main() exactly.
	Args []string
	// Parallelism sets parallelism.default when > 0.
	Parallelism int
	// JobManagerMemory is jobmanager.memory.process.size, such as "1600m"; empty keeps the
	// distribution's value.
	JobManagerMemory string
	// TaskManagerMemory is taskmanager.memory.process.size; empty keeps the distribution's value.
	TaskManagerMemory string
	// TaskManagerSlots sets taskmanager.numberOfTaskSlots when > 0.
	TaskManagerSlots int
	// FlinkConfig are the request's overrides, applied over the distribution's configuration and under
	// GatewayConfig and the explicit fields above. Keys a request may not set (CheckFlinkConfig) are rejected.
	FlinkConfig map[string]string
	// GatewayConfig is configuration the gateway's admission decided (archive directory, HA session timeout,
	// failed-job reporting), applied over FlinkConfig. Only keys that reach a launch script are checked.
	GatewayConfig map[string]string
	// Savepoint restores the job from a savepoint or retained checkpoint.
	Savepoint *Savepoint
	// Queue is the YARN queue; empty leaves the scheduler's placement.
	Queue string
	// Name is the YARN application name; empty gives Flink's default name.
	Name string
	// Tags are YARN application tags; they are lower-cased and de-duplicated.
	Tags []string
	// MaxAttempts is the number of AM attempts; 0 gives Flink's default (1, or 2 with HA).
	MaxAttempts int
	// HA enables ZooKeeper high availability.
	HA *HighAvailability
	// User is the Hadoop user the cluster acts as (HADOOP_USER_NAME).
	User string
	// StagingDir is the fully qualified staging root, such as hdfs://nn:8020/user/yarngate; the
	// application's files go to <StagingDir>/.flink/<ApplicationID> (Flink's layout).
	StagingDir string
	// YarnClasspath is yarn.application.classpath from yarn-site.xml; nil uses Hadoop's default
	// (YarnConfiguration.DEFAULT_YARN_APPLICATION_CLASSPATH).
	YarnClasspath []string
	// MinAllocationMB is yarn.scheduler.minimum-allocation-mb; the AM container is raised to it.
	// 0 means Hadoop's default, 1024.
	MinAllocationMB int64
	// MaxResource, when set (from NewApplication), makes the build fail early for containers larger
	// than the cluster grants.
	MaxResource *yarnclient.Resource
	// JavaHome is the Java home expression in the AM command; empty means "$JAVA_HOME" as Flink
	// writes it (the NodeManager's launch script expands it).
	JavaHome string
	// Security, on a Kerberized cluster, carries the tokens and Kerberos files the containers need; nil on
	// a cluster with simple authentication.
	Security *Security
}

// Savepoint says where to restore from.
type Savepoint struct {
	// Path is the savepoint or checkpoint directory.
	Path string
	// AllowNonRestoredState skips state that cannot be mapped to the new program.
	AllowNonRestoredState bool
	// ClaimMode is CLAIM, NO_CLAIM or LEGACY (before Flink 2 only); "" for Flink's default (NO_CLAIM).
	ClaimMode string
}

// HighAvailability configures ZooKeeper HA.
type HighAvailability struct {
	// Quorum is the ZooKeeper connect string.
	Quorum string
	// PathRoot is high-availability.zookeeper.path.root; empty keeps Flink's "/flink".
	PathRoot string
	// StorageDir is high-availability.storageDir (required), such as hdfs:///flink/ha.
	StorageDir string
}

// FieldError is a problem with one LaunchSpec field, suited for a field-level 400 answer.
type FieldError struct {
	// Field names the spec field or flinkConfig key.
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error returns "field: reason".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// ErrInvalidSpec wraps every validation failure of a LaunchSpec.
var ErrInvalidSpec = errors.New("invalid flink launch")

// validate checks the spec and returns every problem, each a *FieldError, joined and wrapped in
// ErrInvalidSpec.
func (s *LaunchSpec) validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	if s.Dist == nil || s.Libs == nil {
		bad("dist", "a distribution and its uploaded libs are required")
	} else if s.Dist.Version != s.Libs.Version {
		bad("dist", "distribution %s does not match uploaded libs %s", s.Dist.Version, s.Libs.Version)
	}
	if !yarnclient.ValidApplicationID(s.ApplicationID) {
		bad("applicationId", "%q is not an application id", s.ApplicationID)
	}
	switch s.Mode {
	case ModeApplication:
		if s.UserJar.URI == "" || s.UserJar.Size <= 0 || s.UserJar.ModTime <= 0 {
			bad("jar", "application mode needs a staged jar with size and modification time")
		} else if !strings.HasSuffix(s.UserJar.URI, ".jar") {
			bad("jar", "%q does not end in .jar", s.UserJar.URI)
		} else if strings.ContainsAny(path.Base(s.UserJar.URI), ";,: ") {
			bad("jar", "jar name %q must not contain ';', ',', ':' or spaces", path.Base(s.UserJar.URI))
		} else if !ShellSafeURI(s.UserJar.URI) {
			bad("jar", "%q: a jar URI is letters, digits and -._~/:@%%+= only (it reaches the launch script)", s.UserJar.URI)
		}
		if s.JobID != "" && !validJobID(s.JobID) {
			bad("jobId", "%q is not 32 lower-case hex digits", s.JobID)
		}
	case ModeSession:
		if s.EntryClass != "" || len(s.Args) > 0 || s.UserJar.URI != "" || s.JobID != "" {
			bad("target", "a session cluster takes no jar, entry class or arguments")
		}
	default:
		bad("target", "unknown mode %q (application or session)", s.Mode)
	}
	if s.Parallelism < 0 {
		bad("parallelism", "must be positive")
	}
	if s.TaskManagerSlots < 0 {
		bad("taskManager.slots", "must be positive")
	}
	for field, v := range map[string]string{"jobManager.memory": s.JobManagerMemory, "taskManager.memory": s.TaskManagerMemory} {
		if v == "" {
			continue
		}
		if m, err := ParseMemorySize(v); err != nil {
			bad(field, "%v", err)
		} else if m < 64*MiB {
			bad(field, "%s is too small", v)
		}
	}
	if s.Savepoint != nil && s.Savepoint.Path == "" {
		bad("savepoint.path", "is required")
	}
	if s.Savepoint != nil && s.Dist != nil {
		if why := s.Dist.Version.CheckClaimMode(s.Savepoint.ClaimMode); why != "" {
			bad("savepoint.claimMode", "%s", why)
		}
	}
	if s.HA != nil && (s.HA.Quorum == "" || s.HA.StorageDir == "") {
		bad("ha", "quorum and storageDir are required")
	}
	if s.User == "" {
		bad("user", "is required (HADOOP_USER_NAME)")
	}
	if !strings.Contains(s.StagingDir, "://") {
		bad("stagingDir", "%q must be a fully qualified URI", s.StagingDir)
	}
	if s.MaxAttempts < 0 {
		bad("maxAttempts", "must not be negative")
	}
	for k, v := range s.FlinkConfig {
		if s.Dist != nil {
			if err := s.Dist.Version.checkKeyForVersion(k); err != nil {
				bad("flinkConfig."+k, "%v", err)
				continue
			}
		}
		if reason := refusalReason(k, v); reason != "" {
			bad("flinkConfig."+k, "%s", reason)
		}
	}
	for k, v := range s.GatewayConfig {
		if reason := shellReason(k, v); reason != "" {
			bad("gatewayConfig."+k, "%s", reason)
		}
	}
	if _, err := normalizeTags(s.Tags); err != nil {
		bad("tags", "%v", err)
	}
	s.validateSecurity(bad)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, errors.Join(errs...))
	}
	return nil
}

// ShellSafeURI reports whether uri consists of letters, digits and -._~/:@%+= only: what may be written
// unquoted, or inside double quotes, into a container's launch script (a jar's URI and name reach the
// environment and the class path).
func ShellSafeURI(uri string) bool {
	if uri == "" {
		return false
	}
	for _, c := range uri {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("-._~/:@%+=", c):
		default:
			return false
		}
	}
	return true
}

// validJobID reports whether id has the form of a Flink JobID: 32 lower-case hex digits.
func validJobID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// normalizeTags lower-cases, trims and de-duplicates tags and checks YARN's limits.
func normalizeTags(in []string) (yarnclient.Tags, error) {
	var out yarnclient.Tags
	seen := map[string]bool{}
	for _, t := range in {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out, yarnclient.ValidateTags(out)
}
