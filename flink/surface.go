package flink

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/yarngate/yarngate/yarnclient"
)

// What a launch request may put into a Flink configuration, and what it may not.
//
// The NodeManager starts every container with a bash script (ContainerLaunch's UnixShellScriptBuilder) that
// writes each environment variable as `export NAME="value"` and the command as `exec /bin/bash -c "<command>"`,
// neither escaped, after replacing {{ with $, }} with nothing and <LOG_DIR> with the log directory
// (ContainerLaunch.expandEnvironment). Flink puts JVM options from env.java.* and the start-command template
// into the JobManager's and the TaskManagers' commands as they are, and containerized.*.env.* into their
// environments. So a value that reaches either is shell code. The gateway lets none through but environment
// variables with allow-listed names and plain values, and keeps the keys it relies on for itself.

// refusal is one row of the table of refused flinkConfig keys.
type refusal struct {
	// key is the key refused, or with prefix set, the prefix of the keys refused (ending in ".").
	key    string
	prefix bool
	// reason is what the 400 answer says about the key.
	reason string
	// accept, when set, decides instead of refusing outright: it returns "" for a key (as written) and value
	// that may pass, else the reason to refuse them.
	accept func(key, value string) string
	// shell marks keys whose values reach the containers' launch scripts: NewPlan refuses them whoever set
	// them, also in configuration the gateway adds itself.
	shell bool
}

// Reasons shared by several rows.
const (
	reasonShell      = "reaches the containers' start command or launch script, which runs it as shell code; the gateway sets no JVM options, Java home or start command from a request"
	reasonStaging    = "the gateway stages the cluster's files and sets it"
	reasonExecution  = "the gateway decides how the cluster runs the job"
	reasonSavepoint  = "set by the request's savepoint field"
	reasonApp        = "the request's name and queue fields describe the YARN application; the rest of it is the gateway's"
	reasonACL        = "who may see and control the application is the gateway's to decide"
	reasonSecurity   = "security settings (Kerberos credentials and delegation tokens, TLS of the REST API the gateway calls) are the gateway's"
	reasonHA         = "JobManager high availability is the gateway's; the only HA setting a request may make is high-availability.type: none"
	reasonREST       = "the gateway reaches the JobManager's REST API where YARN and ZooKeeper report it"
	reasonRESTAccess = "the gateway uploads and runs session jobs and cancels jobs through the JobManager's REST API"
	reasonInternal   = "internal settings are the gateway's and Flink's"
)

// refusedKeys is the one table of what a request's flinkConfig may not set (CheckFlinkConfig). Keys are
// compared in lower case; the first row that matches decides.
var refusedKeys = []refusal{
	// Keys that reach the launch script.
	{key: "env.", prefix: true, reason: reasonShell, shell: true},
	{key: "yarn.container-start-command-template", reason: reasonShell, shell: true},
	{key: "containerized.master.env.", prefix: true, accept: acceptEnv, shell: true},
	{key: "containerized.taskmanager.env.", prefix: true, accept: acceptEnv, shell: true},
	{key: "containerized.", prefix: true, reason: "only containerized.master.env.<NAME> and containerized.taskmanager.env.<NAME> may be set", shell: true},
	{key: "yarn.application-master.env.", prefix: true, reason: "a deprecated environment prefix: use containerized.master.env.<NAME>", shell: true},
	{key: "yarn.taskmanager.env.", prefix: true, reason: "a deprecated environment prefix: use containerized.taskmanager.env.<NAME>", shell: true},
	// Keys the launch writes itself, and the job's program.
	{key: "$internal.", prefix: true, reason: reasonInternal},
	{key: "internal.", prefix: true, reason: reasonInternal},
	{key: "pipeline.jars", reason: "set by the request's jarId or jarPath"},
	{key: "pipeline.classpaths", reason: "adds code from URLs to the job's class path; put the code in the job's jar"},
	{key: "execution.target", reason: reasonExecution},
	{key: "execution.attached", reason: reasonExecution},
	{key: "execution.shutdown-on-attached-exit", reason: reasonExecution},
	{key: "execution.shutdown-on-application-finish", reason: reasonExecution},
	{key: "execution.submit-failed-job-on-application-error", reason: reasonExecution},
	{key: "execution.savepoint.path", reason: reasonSavepoint},
	{key: "execution.savepoint.ignore-unclaimed-state", reason: reasonSavepoint},
	{key: "execution.state-recovery.path", reason: reasonSavepoint},
	{key: "execution.state-recovery.ignore-unclaimed-state", reason: reasonSavepoint},
	{key: "execution.state-recovery.claim-mode", reason: reasonSavepoint},
	{key: "execution.savepoint-restore-mode", reason: reasonSavepoint},
	{key: "jobmanager.archive.fs.dir", reason: "the gateway reads ended jobs' outcomes from its own archive directory"},
	{key: "yarn.provided.lib.dirs", reason: reasonStaging},
	{key: "yarn.provided.usrlib.dir", reason: reasonStaging},
	{key: "yarn.flink-dist-jar", reason: reasonStaging},
	{key: "yarn.ship-files", reason: reasonStaging},
	{key: "yarn.ship-archives", reason: reasonStaging},
	{key: "yarn.staging-directory", reason: reasonStaging},
	{key: "yarn.classpath.include-user-jar", reason: reasonStaging},
	{key: "yarn.per-job-cluster.include-user-jar", reason: reasonStaging},
	// The YARN application: identity, tags, ACLs, credentials.
	{key: "yarn.application.", prefix: true, reason: reasonApp},
	{key: "yarn.tags", accept: acceptTags},
	{key: "yarn.view.acls", reason: reasonACL},
	{key: "yarn.modify.acls", reason: reasonACL},
	{key: "yarn.security.", prefix: true, reason: reasonSecurity},
	{key: "security.", prefix: true, reason: reasonSecurity},
	// High availability: only opting out.
	{key: "high-availability.type", accept: acceptHAType},
	{key: "high-availability", reason: "a deprecated key: high-availability.type: none opts out of JobManager high availability"},
	{key: "recovery.", prefix: true, reason: "deprecated keys of high availability: high-availability.type: none opts out of JobManager high availability"},
	{key: "high-availability.", prefix: true, reason: reasonHA},
	// The JobManager REST API the gateway talks to.
	{key: "rest.address", reason: reasonREST},
	{key: "rest.port", reason: reasonREST},
	{key: "rest.bind-address", reason: reasonREST},
	{key: "rest.bind-port", reason: reasonREST},
	{key: "web.port", reason: reasonREST + " (a deprecated key of rest.port)"},
	{key: "web.address", reason: reasonREST + " (a deprecated key of rest.address)"},
	{key: "web.submit.enable", reason: reasonRESTAccess},
	{key: "web.cancel.enable", reason: reasonRESTAccess},
	{key: "jobmanager.web.", prefix: true, reason: "deprecated keys of the REST API (web.*, rest.*): " + reasonRESTAccess},
}

// maxKeyLen bounds a flinkConfig key.
const maxKeyLen = 256

// match returns the row of the table that decides key, or nil.
func match(key string) *refusal {
	k := strings.ToLower(key)
	for i := range refusedKeys {
		r := &refusedKeys[i]
		if k == r.key || r.prefix && strings.HasPrefix(k, r.key) {
			return r
		}
	}
	return nil
}

// refusalReason returns why key may not be set to value in a request's flinkConfig, "" when it may.
func refusalReason(key, value string) string {
	if key == "" || len(key) > maxKeyLen || strings.IndexFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return fmt.Sprintf("a key is 1 to %d characters without spaces or control characters", maxKeyLen)
	}
	r := match(key)
	switch {
	case r == nil:
		return ""
	case r.accept != nil:
		return r.accept(key, value)
	default:
		return r.reason
	}
}

// CheckFlinkConfig checks a request's flinkConfig against the keys a request may not set and the rules for
// those it may set with care (environment variables, tags, opting out of HA). It returns a problem per
// refused key, sorted by key, each naming the field "flinkConfig.<key>"; none when every key may pass.
func CheckFlinkConfig(cfg map[string]string) []FieldError {
	var out []FieldError
	for k, v := range cfg {
		if reason := refusalReason(k, v); reason != "" {
			out = append(out, FieldError{Field: "flinkConfig." + k, Reason: reason})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// shellReason returns why a configuration entry, whoever set it, may not reach a launch: the table's
// shell rows. "" when it may.
func shellReason(key, value string) string {
	r := match(key)
	switch {
	case r == nil || !r.shell:
		return ""
	case r.accept != nil:
		return r.accept(key, value)
	default:
		return r.reason
	}
}

// acceptHAType lets a request opt out of JobManager high availability, and nothing else.
func acceptHAType(_, value string) string {
	if strings.EqualFold(strings.TrimSpace(value), "none") {
		return ""
	}
	return reasonHA
}

// acceptTags lets a request add YARN application tags of its own: never one starting with "yarngate" (the
// gateway's tags say what an application is and which request launched it), and within YARN's limits.
func acceptTags(_, value string) string {
	var tags []string
	for _, t := range strings.Split(value, ",") {
		if t = strings.ToLower(strings.TrimSpace(t)); t == "" {
			continue
		}
		if strings.HasPrefix(t, userTagForbiddenPrefix) {
			return fmt.Sprintf("tag %q: tags starting with %q are the gateway's", t, userTagForbiddenPrefix)
		}
		tags = append(tags, t)
	}
	if err := yarnclient.ValidateTags(tags); err != nil {
		return err.Error()
	}
	return ""
}

// userTagForbiddenPrefix starts every tag the gateway gives its applications (ident.TagGateway and the
// tags named after it); no tag of a request may start with it.
const userTagForbiddenPrefix = "yarngate"

// Environment variables a request may set (containerized.master.env.<NAME>, containerized.taskmanager.env.<NAME>).
const maxEnvValueLen = 4096

// deniedEnvNames are variables a request may not set (compared in upper case): they change what the shell,
// the dynamic linker, the JVM, Hadoop or Flink load or where they look, or they are the NodeManager's.
var deniedEnvNames = map[string]bool{
	"PATH": true, "CLASSPATH": true, "HOME": true, "USER": true, "LOGNAME": true, "SHELL": true, "PWD": true,
	"OLDPWD": true, "IFS": true, "ENV": true, "BASH_ENV": true, "CDPATH": true, "GLOBIGNORE": true,
	"SHELLOPTS": true, "BASHOPTS": true, "PS4": true, "PROMPT_COMMAND": true, "TMPDIR": true,
	"CONTAINER_ID": true, "LOCAL_DIRS": true, "LOG_DIRS": true, "LOCAL_USER_DIRS": true, "JVM_PID": true,
	"PRELAUNCH_OUT": true, "PRELAUNCH_ERR": true, "CLASSPATH_PREPEND_DISTCACHE": true,
	"GLIBC_TUNABLES": true, "PERL5OPT": true, "PERL5LIB": true, "PYTHONPATH": true, "PYTHONHOME": true,
	"PYTHONSTARTUP": true, "RUBYOPT": true, "NODE_OPTIONS": true,
}

// deniedEnvPrefixes are prefixes of variables a request may not set (compared in upper case).
var deniedEnvPrefixes = []string{"LD_", "DYLD_", "JAVA_", "JDK_", "HADOOP_", "YARN_", "HDFS_", "MAPRED_", "FLINK_", "NM_", "KRB5", "BASH_FUNC_"}

// envNameReason returns why name may not be set in a container's environment, "" when it may: names are
// [A-Za-z][A-Za-z0-9_]* (at most 128; names starting with '_' are Flink's and YARN's own), not denied.
func envNameReason(name string) string {
	if name == "" || len(name) > 128 {
		return "the variable name must be 1 to 128 characters"
	}
	for i, c := range name {
		letter := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if !letter && (i == 0 || c != '_' && (c < '0' || c > '9')) {
			return fmt.Sprintf("variable %q: names are a letter followed by letters, digits and '_'", name)
		}
	}
	up := strings.ToUpper(name)
	if deniedEnvNames[up] {
		return fmt.Sprintf("variable %q is set by the gateway, YARN or the shell, or changes what the container loads", name)
	}
	for _, p := range deniedEnvPrefixes {
		if strings.HasPrefix(up, p) {
			return fmt.Sprintf("variables starting with %s are set by the gateway, YARN or the JVM, or change what the container loads", p)
		}
	}
	return ""
}

// envValueReason returns why value may not be written into a launch script as export NAME="value", "" when
// it may: inside double quotes the shell still expands '$' and '`' and ends the string at '"', '\' escapes,
// a line break ends the line, and the NodeManager turns "{{" into '$'.
func envValueReason(value string) string {
	if len(value) > maxEnvValueLen {
		return fmt.Sprintf("the value is longer than %d bytes", maxEnvValueLen)
	}
	if strings.ContainsAny(value, "$`\"\\") || strings.Contains(value, "{{") || strings.Contains(value, "}}") ||
		strings.IndexFunc(value, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return "the value must not contain $, `, \", \\, {{, }} or control characters (it is written into the container's launch script)"
	}
	if !utf8.ValidString(value) {
		return "the value must be UTF-8"
	}
	return ""
}

// acceptEnv lets a request set an environment variable of the JobManager or the TaskManagers with an
// allowed name and a plain value.
func acceptEnv(key, value string) string {
	name := key[strings.Index(strings.ToLower(key), ".env.")+len(".env."):]
	if reason := envNameReason(name); reason != "" {
		return reason
	}
	return envValueReason(value)
}
