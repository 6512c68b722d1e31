package job

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/yarnclient"
)

// Targets a job can run on.
const (
	targetApplication = "application"
	targetSession     = "session"
	targetCluster     = "cluster"
)

// maxNameLen bounds a job name.
const maxJobNameLen = 256

// normalizeJobRequest fills defaults and checks what can be checked without the cluster. It returns the flink
// configuration as strings.
func normalizeJobRequest(r *api.JobRequest) (map[string]string, error) {
	var e api.SpecError
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		r.Name = "yarngate-job"
	}
	if len(r.Name) > maxJobNameLen || strings.IndexFunc(r.Name, unicode.IsControl) >= 0 {
		e.Add("name", "must be at most %d characters without control characters", maxJobNameLen)
	}
	if r.Target == "" {
		r.Target = targetApplication
	}
	switch r.Target {
	case targetApplication:
		if r.SessionID != "" {
			e.Add("sessionId", "only allowed with target session")
		}
		if r.ClusterID != "" {
			e.Add("clusterId", "only allowed with target cluster")
		}
	case targetCluster:
		if !ident.ValidClusterID(r.ClusterID) {
			e.Add("clusterId", "required with target cluster: the id of a registered cluster (POST /v1/clusters)")
		}
		if r.SessionID != "" {
			e.Add("sessionId", "only allowed with target session")
		}
		for _, f := range []struct {
			field string
			set   bool
		}{{"queue", r.Queue != ""}, {"jobManager", r.JobManager != nil}, {"taskManager", r.TaskManager != nil},
			{"flinkVersion", r.FlinkVersion != ""}, {"flinkConfig", len(r.FlinkConfig) > 0}, {"multipleJobs", r.MultipleJobs},
			{"keytabId", r.KeytabID != ""}} {
			if f.set {
				e.Add(f.field, "not allowed with target cluster: the cluster decides it")
			}
		}
	case targetSession:
		if !yarnclient.ValidApplicationID(r.SessionID) {
			e.Add("sessionId", "required with target session: the id of a session (POST /v1/sessions)")
		}
		if r.ClusterID != "" {
			e.Add("clusterId", "only allowed with target cluster")
		}
		for _, f := range []struct {
			field string
			set   bool
		}{{"queue", r.Queue != ""}, {"jobManager", r.JobManager != nil}, {"taskManager", r.TaskManager != nil},
			{"flinkVersion", r.FlinkVersion != ""}, {"flinkConfig", len(r.FlinkConfig) > 0}, {"multipleJobs", r.MultipleJobs},
			{"keytabId", r.KeytabID != ""}} {
			if f.set {
				e.Add(f.field, "not allowed with target session: the session decides it")
			}
		}
	default:
		e.Add("target", "%q is not one of application, session, cluster", r.Target)
	}
	switch {
	case r.JarID == "" && r.JarPath == "":
		e.Add("jarId", "either jarId or jarPath is required")
	case r.JarID != "" && r.JarPath != "":
		e.Add("jarPath", "give jarId or jarPath, not both")
	case r.JarPath != "":
		if u, err := url.Parse(r.JarPath); err != nil || u.Scheme != "hdfs" || !strings.HasPrefix(u.Path, "/") {
			e.Add("jarPath", "must be an hdfs:// URI with an absolute path")
		} else if !strings.HasSuffix(u.Path, ".jar") {
			e.Add("jarPath", "must name a .jar file")
		} else if !flink.ShellSafeURI(r.JarPath) {
			e.Add("jarPath", "must consist of letters, digits and -._~/:@%%+= only")
		}
	}
	if r.EntryClass != "" && !validClassName(r.EntryClass) {
		e.Add("entryClass", "%q is not a Java class name", r.EntryClass)
	}
	for i, a := range r.Args {
		if strings.ContainsRune(a, 0) {
			e.Add(fmt.Sprintf("args[%d]", i), "must not contain NUL")
		}
	}
	if r.Parallelism != nil && *r.Parallelism < 1 {
		e.Add("parallelism", "must be at least 1")
	}
	if r.TaskManager != nil && r.TaskManager.Slots != nil && *r.TaskManager.Slots < 1 {
		e.Add("taskManager.slots", "must be at least 1")
	}
	if r.Savepoint != nil && strings.TrimSpace(r.Savepoint.Path) == "" {
		e.Add("savepoint.path", "is required with savepoint")
	}
	if r.Savepoint != nil {
		switch r.Savepoint.ClaimMode {
		case "", api.ClaimModeClaim, api.ClaimModeNoClaim, api.ClaimModeLegacy:
		default:
			e.Add("savepoint.claimMode", "must be CLAIM, NO_CLAIM or LEGACY, not %q", r.Savepoint.ClaimMode)
		}
	}
	checkAutoRestart(r, &e)
	checkKeytabID(r.KeytabID, &e)
	cfg := flinkConfigStrings(r.FlinkConfig, &e)
	return cfg, e.OrNil()
}

// maxAutoRestarts bounds a job's autoRestart.maxRestarts.
const maxAutoRestarts = 100

// checkAutoRestart checks a request's autoRestart: a job alone in its own application cluster, with a
// positive delay and limit.
func checkAutoRestart(r *api.JobRequest, e *api.SpecError) {
	a := r.AutoRestart
	if a == nil {
		return
	}
	if r.Target != targetApplication {
		e.Add("autoRestart", "only for jobs in their own application cluster, not with target %s", r.Target)
	}
	if r.MultipleJobs {
		e.Add("autoRestart", "not with multipleJobs: only an application of one Flink job is restarted automatically")
	}
	if a.AfterSeconds < 1 {
		e.Add("autoRestart.afterSeconds", "must be at least 1")
	}
	if a.MaxRestarts < 1 || a.MaxRestarts > maxAutoRestarts {
		e.Add("autoRestart.maxRestarts", "must be 1 to %d", maxAutoRestarts)
	}
}

// checkKeytabID checks the form of a request's keytabId.
func checkKeytabID(id string, e *api.SpecError) {
	if id != "" && !ValidKeytabID(id) {
		e.Add("keytabId", "must be the id of a stored keytab (POST /v1/keytabs): 32 lower-case hex digits")
	}
}

// flinkConfigStrings converts a request's flinkConfig to strings, adding a problem to e for each value
// that is not a string, number or boolean and for each key a request may not set (flink.CheckFlinkConfig).
func flinkConfigStrings(in map[string]any, e *api.SpecError) map[string]string {
	cfg := make(map[string]string, len(in))
	for k, v := range in {
		switch v := v.(type) {
		case string:
			cfg[k] = v
		case bool:
			cfg[k] = strconv.FormatBool(v)
		case float64:
			cfg[k] = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			e.Add("flinkConfig."+k, "must be a string, number or boolean")
		}
	}
	for _, p := range flink.CheckFlinkConfig(cfg) {
		e.Add(p.Field, "%s", p.Reason)
	}
	return cfg
}

// jobRequestFingerprint is a short hash of the request, to tell a retry from a different request that reuses an
// idempotency key.
func jobRequestFingerprint(r *api.JobRequest) string {
	b, _ := json.Marshal(r) // map keys are sorted; field order is fixed
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// validClassName reports whether s looks like a binary Java class name (a.b.C, a.b.C$D).
func validClassName(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i, c := range part {
			if !(unicode.IsLetter(c) || c == '_' || c == '$' || (i > 0 && unicode.IsDigit(c))) {
				return false
			}
		}
	}
	return true
}
