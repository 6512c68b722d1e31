package flink

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Version is a Flink release version such as 1.20.3 or 2.2.1.
type Version struct {
	Major, Minor, Patch int
	// Raw is the version as written in the flink-dist jar name, such as "1.20.3" or "2.1-SNAPSHOT".
	Raw string
}

// ErrUnsupportedVersion is returned for Flink versions this package cannot launch.
var ErrUnsupportedVersion = errors.New("unsupported flink version")

var versionPattern = regexp.MustCompile(`^([0-9]+)\.([0-9]+)(?:\.([0-9]+))?(?:[-.].*)?$`)

// ParseVersion parses "1.20.3", "2.2", "2.1-SNAPSHOT".
func ParseVersion(s string) (Version, error) {
	m := versionPattern.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("parse flink version %q: not major.minor[.patch]", s)
	}
	v := Version{Raw: s}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, nil
}

// String returns Raw.
func (v Version) String() string { return v.Raw }

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// Supported reports whether launches for v can be built: Flink 1.19 and newer. Older versions
// encode local-resource descriptors in a regex format and start the AM differently (1.17 lacks
// -XX:+IgnoreUnrecognizedVMOptions, neither reads env.java.default-opts.*), which is not built here.
func (v Version) Supported() error {
	if !v.AtLeast(1, 19) {
		return fmt.Errorf("%w: %s (need 1.19 or newer)", ErrUnsupportedVersion, v)
	}
	return nil
}

// ConfigFileName is the name of the configuration file shipped to the containers.
//
// Flink 2.x reads only config.yaml (standard YAML). Flink 1.19 and 1.20 read flink-conf.yaml first
// and else config.yaml from the container working directory (GlobalConfiguration.loadConfiguration),
// and their own client ships the file under the name its conf dir used; the 1.19+ distributions ship
// conf/config.yaml. Only one file is shipped, so the loader takes it; config.yaml is chosen for all
// supported versions because the legacy flink-conf.yaml parser drops everything after a '#' and
// skips empty values, which would corrupt program arguments. 1.17/1.18 (flink-conf.yaml only) are
// not supported.
func (v Version) ConfigFileName() string {
	return "config.yaml"
}

// SavepointKeys returns the keys for the restore path and for allowing non-restored state:
// execution.state-recovery.* from 1.20 on (StateRecoveryOptions, the old keys stay as deprecated
// keys), execution.savepoint.* before.
func (v Version) SavepointKeys() (path, ignoreUnclaimed string) {
	if v.AtLeast(1, 20) {
		return "execution.state-recovery.path", "execution.state-recovery.ignore-unclaimed-state"
	}
	return "execution.savepoint.path", "execution.savepoint.ignore-unclaimed-state"
}

// ClaimModeKey returns the key of the restore's claim mode: execution.state-recovery.claim-mode from 1.20 on,
// execution.savepoint-restore-mode (its deprecated key) before.
func (v Version) ClaimModeKey() string {
	if v.AtLeast(1, 20) {
		return "execution.state-recovery.claim-mode"
	}
	return "execution.savepoint-restore-mode"
}

// CheckClaimMode returns why a restore's claim mode is refused on this version, or "": CLAIM, NO_CLAIM and,
// before Flink 2 (which removed it), LEGACY.
func (v Version) CheckClaimMode(mode string) string {
	switch mode {
	case "", "CLAIM", "NO_CLAIM":
		return ""
	case "LEGACY":
		if v.AtLeast(2, 0) {
			return "LEGACY was removed in Flink 2; use CLAIM or NO_CLAIM"
		}
		return ""
	}
	return fmt.Sprintf("must be CLAIM, NO_CLAIM or LEGACY, not %q", mode)
}

// removedInFlink2 are configuration keys and key prefixes that Flink 2.0 removed (release notes
// "Configuration"): the legacy heap options and the YARN-specific env prefixes. Setting them has no
// effect on 2.x, so they are rejected rather than silently ignored.
var removedInFlink2 = []struct {
	key, prefix, use string
}{
	{key: "jobmanager.heap.size", use: "jobmanager.memory.process.size"},
	{key: "jobmanager.heap.mb", use: "jobmanager.memory.process.size"},
	{key: "taskmanager.heap.size", use: "taskmanager.memory.process.size"},
	{key: "taskmanager.heap.mb", use: "taskmanager.memory.process.size"},
	{prefix: "yarn.application-master.env.", use: "containerized.master.env."},
	{prefix: "yarn.taskmanager.env.", use: "containerized.taskmanager.env."},
	{key: "high-availability.zookeeper.path.jobgraphs", use: "high-availability.zookeeper.path.execution-plans"},
}

// checkKeyForVersion rejects keys that the version no longer reads.
func (v Version) checkKeyForVersion(key string) error {
	if v.Major < 2 {
		return nil
	}
	for _, r := range removedInFlink2 {
		if (r.key != "" && key == r.key) || (r.prefix != "" && len(key) > len(r.prefix) && key[:len(r.prefix)] == r.prefix) {
			return fmt.Errorf("%q was removed in Flink 2.0; use %q", key, r.use)
		}
	}
	return nil
}
