package flink

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/yarngate/yarngate/redact"
	"github.com/yarngate/yarngate/yarnclient"
)

// Entry-point classes (flink-yarn entrypoint package).
const (
	ApplicationEntrypoint = "org.apache.flink.yarn.entrypoint.YarnApplicationClusterEntryPoint"
	SessionEntrypoint     = "org.apache.flink.yarn.entrypoint.YarnSessionClusterEntrypoint"
)

// defaultStartCommandTemplate is yarn.container-start-command-template's default (YarnConfigOptions).
const defaultStartCommandTemplate = "%java% %jvmmem% %jvmopts% %logging% %class% %args% %redirects%"

// Plan is a launch built from a LaunchSpec: the configuration file to stage and everything else
// of the submission. Fields are for inspection; build the submission with Submission.
type Plan struct {
	// Version is the Flink version launched.
	Version Version
	// ApplicationID is the YARN application id.
	ApplicationID string
	// Config is the effective Flink configuration shipped to the containers.
	Config Config
	// ConfigName is the file name (and local resource key) of the configuration.
	ConfigName string
	// ConfigYAML is the configuration file content.
	ConfigYAML []byte
	// Memory is the JobManager memory layout.
	Memory JobManagerMemory
	// AMResource is the ApplicationMaster (JobManager) container size.
	AMResource yarnclient.Resource
	// AppDir is the fully qualified application directory, <staging>/.flink/<appId>; the AM deletes
	// it when the cluster shuts down (_FLINK_YARN_FILES).
	AppDir string
	// Command is the JobManager start command.
	Command string
	// Name, Type, Queue and Tags describe the YARN application.
	Name, Type, Queue string
	Tags              yarnclient.Tags
	// MaxAttempts, KeepContainers and AttemptFailuresValidityMs are the YARN attempt settings.
	MaxAttempts               int
	KeepContainers            bool
	AttemptFailuresValidityMs int64

	spec LaunchSpec
}

// NewPlan validates spec and builds the plan. Validation failures wrap ErrInvalidSpec and carry a
// *FieldError per problem.
func NewPlan(spec LaunchSpec) (*Plan, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	v := spec.Dist.Version
	cfg := effectiveConfig(&spec)
	p := &Plan{
		Version:       v,
		ApplicationID: spec.ApplicationID,
		Config:        cfg,
		ConfigName:    v.ConfigFileName(),
		AppDir:        strings.TrimRight(spec.StagingDir, "/") + "/.flink/" + spec.ApplicationID,
		spec:          spec,
	}
	invalid := func(field string, err error) error {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, &FieldError{Field: field, Reason: err.Error()})
	}
	mem, err := DeriveJobManagerMemory(cfg)
	if err != nil {
		return nil, invalid("jobManager.memory", err)
	}
	p.Memory = mem
	minAlloc := spec.MinAllocationMB
	if minAlloc <= 0 {
		minAlloc = 1024
	}
	vcores, err := intOption(cfg, "yarn.appmaster.vcores", 1)
	if err != nil {
		return nil, invalid("flinkConfig.yarn.appmaster.vcores", err)
	}
	p.AMResource = yarnclient.Resource{MemoryMB: max(mem.TotalProcess().MiB(), minAlloc), VCores: vcores}
	if err := p.checkMaxResource(); err != nil {
		return nil, err
	}
	if err := p.attemptSettings(); err != nil {
		return nil, err
	}
	p.describeApplication()
	if p.Tags, err = normalizeTags(append(append([]string(nil), spec.Tags...), splitList(cfg, "yarn.tags", ",")...)); err != nil {
		return nil, invalid("tags", err)
	}
	if p.ConfigYAML, err = cfg.MarshalYAML(); err != nil {
		return nil, fmt.Errorf("build flink launch: %w", err)
	}
	p.Command = p.command()
	return p, nil
}

// effectiveConfig layers the distribution's configuration, the request's overrides, the gateway's, the explicit spec
// fields and the keys the launch owns, as YarnClusterDescriptor.startAppMaster leaves them.
func effectiveConfig(s *LaunchSpec) Config {
	cfg := s.Dist.StockConfig.Clone()
	for k, v := range s.FlinkConfig {
		cfg[k] = v
	}
	for k, v := range s.GatewayConfig {
		cfg[k] = v
	}
	// removeLocalhostBindHostSetting, and taskmanager.host is "unconditionally overridden anyway".
	for _, k := range []string{"jobmanager.bind-host", "taskmanager.bind-host", "rest.bind-address"} {
		// rest.bind-address: localhost (in the 1.20 stock config) is overridden on YARN up to
		// 1.20.3 but honoured from 1.20.4 and in 2.x (YarnEntrypointUtils), which would hide the UI.
		if v, _ := cfg.String(k); v == "localhost" {
			delete(cfg, k)
		}
	}
	delete(cfg, "taskmanager.host")
	if s.JobManagerMemory != "" {
		cfg[keyJMProcess] = s.JobManagerMemory
	}
	if s.TaskManagerMemory != "" {
		cfg["taskmanager.memory.process.size"] = s.TaskManagerMemory
	}
	if s.TaskManagerSlots > 0 {
		cfg["taskmanager.numberOfTaskSlots"] = s.TaskManagerSlots
	}
	if s.Parallelism > 0 {
		cfg["parallelism.default"] = s.Parallelism
	}
	if s.MaxAttempts > 0 {
		cfg["yarn.application-attempts"] = s.MaxAttempts
	}
	cfg["internal.cluster.execution-mode"] = "NORMAL"
	if s.HA != nil {
		delete(cfg, "high-availability")
		delete(cfg, "recovery.mode")
		cfg["high-availability.type"] = "zookeeper"
		cfg["high-availability.zookeeper.quorum"] = s.HA.Quorum
		cfg["high-availability.storageDir"] = s.HA.StorageDir
		if s.HA.PathRoot != "" {
			cfg["high-availability.zookeeper.path.root"] = s.HA.PathRoot
		}
	}
	if _, ok := cfg["high-availability.cluster-id"]; !ok {
		cfg["high-availability.cluster-id"] = s.ApplicationID // setHAClusterIdIfNotSet
	}
	switch s.Mode {
	case ModeApplication:
		cfg["execution.target"] = "yarn-application"
		cfg["pipeline.jars"] = []string{s.UserJar.URI}
		args := append([]string{}, s.Args...)
		cfg["$internal.application.program-args"] = args
		if s.EntryClass != "" {
			cfg["$internal.application.main"] = s.EntryClass
		}
		if s.JobID != "" {
			cfg["$internal.pipeline.job-id"] = s.JobID // PipelineOptionsInternal.PIPELINE_FIXED_JOB_ID
		}
	case ModeSession:
		cfg["execution.target"] = "yarn-session"
	}
	applySecurity(cfg, s.Security)
	if s.Savepoint != nil {
		pathKey, ignoreKey := s.Dist.Version.SavepointKeys()
		cfg[pathKey] = s.Savepoint.Path
		cfg[ignoreKey] = s.Savepoint.AllowNonRestoredState
		if s.Savepoint.ClaimMode != "" {
			cfg[s.Dist.Version.ClaimModeKey()] = s.Savepoint.ClaimMode
		}
	}
	return cfg
}

// haActive is HighAvailabilityMode.isHighAvailabilityModeActivated.
func haActive(cfg Config) bool {
	for _, k := range []string{"high-availability.type", "high-availability", "recovery.mode"} {
		if v, ok := cfg.String(k); ok {
			v = strings.ToLower(strings.TrimSpace(v))
			return v != "" && v != "none" && v != "standalone"
		}
	}
	return false
}

// attemptSettings follows startAppMaster: with HA, yarn.application-attempts (default Hadoop's 2),
// keep containers and the failure validity interval; without HA, yarn.application-attempts or 1.
func (p *Plan) attemptSettings() error {
	ha := haActive(p.Config)
	def := 1
	if ha {
		def = 2
	}
	n, err := intOption(p.Config, "yarn.application-attempts", def)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, &FieldError{Field: "maxAttempts", Reason: err.Error()})
	}
	p.MaxAttempts = n
	if ha {
		p.KeepContainers = true
		ms, err := intOption(p.Config, "yarn.application-attempt-failures-validity-interval", 10000)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidSpec, &FieldError{Field: "flinkConfig.yarn.application-attempt-failures-validity-interval", Reason: err.Error()})
		}
		p.AttemptFailuresValidityMs = int64(ms)
	}
	return nil
}

func (p *Plan) describeApplication() {
	s := &p.spec
	p.Name = s.Name
	if p.Name == "" {
		p.Name, _ = p.Config.String("yarn.application.name")
	}
	if p.Name == "" {
		p.Name = map[Mode]string{ModeApplication: "Flink Application Cluster", ModeSession: "Flink session cluster"}[s.Mode]
	}
	p.Type, _ = p.Config.String("yarn.application.type")
	if p.Type == "" {
		p.Type = "Apache Flink"
	}
	p.Queue = s.Queue
	if p.Queue == "" {
		p.Queue, _ = p.Config.String("yarn.application.queue")
	}
}

// checkMaxResource mirrors validateClusterResources and isReadyForDeployment's vcore check.
func (p *Plan) checkMaxResource() error {
	maxRes := p.spec.MaxResource
	if maxRes == nil {
		return nil
	}
	var errs []error
	if p.AMResource.MemoryMB > maxRes.MemoryMB {
		errs = append(errs, &FieldError{Field: "jobManager.memory", Reason: fmt.Sprintf("%d MB exceeds the cluster maximum of %d MB", p.AMResource.MemoryMB, maxRes.MemoryMB)})
	}
	if s, ok := p.Config.String("taskmanager.memory.process.size"); ok {
		if m, err := ParseMemorySize(s); err == nil && m.MiB() > maxRes.MemoryMB {
			errs = append(errs, &FieldError{Field: "taskManager.memory", Reason: fmt.Sprintf("%d MB exceeds the cluster maximum of %d MB", m.MiB(), maxRes.MemoryMB)})
		}
	}
	slots, _ := intOption(p.Config, "taskmanager.numberOfTaskSlots", 1)
	if tmCores, _ := intOption(p.Config, "yarn.containers.vcores", slots); tmCores > maxRes.VCores {
		errs = append(errs, &FieldError{Field: "taskManager.slots", Reason: fmt.Sprintf("%d vcores per TaskManager exceed the cluster maximum of %d", tmCores, maxRes.VCores)})
	}
	if p.AMResource.VCores > maxRes.VCores {
		errs = append(errs, &FieldError{Field: "flinkConfig.yarn.appmaster.vcores", Reason: fmt.Sprintf("%d exceeds the cluster maximum of %d", p.AMResource.VCores, maxRes.VCores)})
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, errors.Join(errs...))
	}
	return nil
}

// command builds the JobManager command (setupApplicationMasterContainer, Utils.getStartCommand,
// Utils.generateJvmOptsString, YarnLogConfigUtil.getLoggingYarnCommand).
func (p *Plan) command() string {
	javaHome := p.spec.JavaHome
	if javaHome == "" {
		javaHome = "$JAVA_HOME"
	}
	var opts []string
	for _, k := range []string{"env.java.default-opts.all", "env.java.opts.all", "env.java.default-opts.jobmanager", "env.java.opts.jobmanager"} {
		v, ok := p.Config.String(k)
		if !ok && k == "env.java.opts.all" {
			v, _ = p.Config.String("env.java.opts") // deprecated key of env.java.opts.all
		}
		if v = strings.TrimSpace(v); v != "" {
			opts = append(opts, v)
		}
	}
	opts = append(opts, "-XX:+IgnoreUnrecognizedVMOptions")
	if sec := p.spec.Security; sec != nil && len(sec.Krb5Conf) > 0 {
		opts = append(opts, krb5ConfJVMOption) // Utils.generateJvmOptsString with hasKrb5
	}
	logging := ""
	switch p.spec.Libs.LogConfig.Key {
	case "log4j.properties":
		logging = `-Dlog.file="<LOG_DIR>/jobmanager.log" -Dlog4j.configuration=file:log4j.properties -Dlog4j.configurationFile=file:log4j.properties`
	case "logback.xml":
		logging = `-Dlog.file="<LOG_DIR>/jobmanager.log" -Dlogback.configurationFile=file:logback.xml`
	}
	class := ApplicationEntrypoint
	if p.spec.Mode == ModeSession {
		class = SessionEntrypoint
	}
	tmpl, ok := p.Config.String("yarn.container-start-command-template")
	if !ok || strings.TrimSpace(tmpl) == "" {
		tmpl = defaultStartCommandTemplate
	}
	for _, kv := range [][2]string{
		{"java", javaHome + "/bin/java"},
		{"jvmmem", p.Memory.JVMArgs()},
		{"jvmopts", strings.Join(opts, " ")},
		{"logging", logging},
		{"class", class},
		{"args", p.Memory.DynamicConfigs()},
		{"redirects", "1> <LOG_DIR>/jobmanager.out 2> <LOG_DIR>/jobmanager.err"},
	} {
		tmpl = strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(tmpl, "%"+kv[0]+"%", kv[1]), "  ", " "))
	}
	return tmpl
}

// String is a readable dump of the plan for logs and debugging: command, resource and the
// configuration file, without secrets (package redact: values of keys that name secrets, credentials of
// URIs, secret-looking program arguments).
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "flink %s %s launch of %s (%q, queue %q, tags %v, attempts %d)\n", p.Version, p.spec.Mode, p.ApplicationID, p.Name, p.Queue, p.Tags, p.MaxAttempts)
	fmt.Fprintf(&b, "am resource: %d MB, %d vcores\napp dir: %s\ncommand: %s\n", p.AMResource.MemoryMB, p.AMResource.VCores, p.AppDir, p.Command)
	cfg, err := redactedConfig(p.Config).MarshalYAML()
	if err != nil {
		cfg = []byte(err.Error())
	}
	fmt.Fprintf(&b, "--- %s (secrets redacted) ---\n%s", p.ConfigName, cfg)
	return b.String()
}

// redactedConfig is cfg without secrets, for logs.
func redactedConfig(cfg Config) Config {
	out := make(Config, len(cfg))
	for k, v := range cfg {
		switch x := v.(type) {
		case string:
			out[k] = redact.Value(k, x)
		case []string:
			if k == "$internal.application.program-args" {
				out[k] = redact.Args(x)
				continue
			}
			l := make([]string, len(x))
			for i, e := range x {
				l[i] = redact.Value(k, e)
			}
			out[k] = l
		default:
			if redact.SensitiveKey(k) {
				out[k] = redact.Placeholder
			} else {
				out[k] = v
			}
		}
	}
	return out
}

func intOption(cfg Config, key string, def int) (int, error) {
	s, ok := cfg.String(key)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", key, s)
	}
	return n, nil
}

func splitList(cfg Config, key, sep string) []string {
	if l, ok := cfg[key].([]string); ok {
		return l
	}
	s, _ := cfg.String(key)
	var out []string
	for _, e := range strings.Split(s, sep) {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func base(uri string) string { return path.Base(uri) }
