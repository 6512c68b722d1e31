package flink

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/yarngate/yarngate/yarnclient"
)

// Environment variable names the Flink AM and TaskManagers read (YarnConfigKeys, ConfigConstants).
const (
	EnvFlinkClasspath  = "_FLINK_CLASSPATH"
	EnvFlinkDistJar    = "_FLINK_DIST_JAR"
	EnvAppID           = "_APP_ID"
	EnvClientHomeDir   = "_CLIENT_HOME_DIR"
	EnvClientShipFiles = "_CLIENT_SHIP_FILES"
	EnvFlinkYarnFiles  = "_FLINK_YARN_FILES"
	EnvHadoopUserName  = "HADOOP_USER_NAME"
	EnvFlinkLibDir     = "FLINK_LIB_DIR"
	EnvFlinkOptDir     = "FLINK_OPT_DIR"
)

// defaultYarnClasspath is YarnConfiguration.DEFAULT_YARN_APPLICATION_CLASSPATH (Hadoop 3.4).
var defaultYarnClasspath = []string{
	"$HADOOP_CONF_DIR",
	"$HADOOP_COMMON_HOME/share/hadoop/common/*", "$HADOOP_COMMON_HOME/share/hadoop/common/lib/*",
	"$HADOOP_HDFS_HOME/share/hadoop/hdfs/*", "$HADOOP_HDFS_HOME/share/hadoop/hdfs/lib/*",
	"$HADOOP_YARN_HOME/share/hadoop/yarn/*", "$HADOOP_YARN_HOME/share/hadoop/yarn/lib/*",
}

// Staged are the plan's files in the application directory, for Submission.
type Staged struct {
	// Config is the configuration file.
	Config RemoteFile
	// Krb5Conf and Keytab are the Kerberos files of a Kerberized launch (zero when not shipped).
	Krb5Conf, Keytab RemoteFile
}

// Stage writes the configuration file, and on a Kerberized launch the Kerberos files, into the application
// directory (created 0700, as YarnApplicationFileUploader does; the keytab 0600), and returns their
// coordinates for Submission.
func (p *Plan) Stage(ctx context.Context, fsys FileSystem) (Staged, error) {
	u, err := url.Parse(p.AppDir)
	if err != nil {
		return Staged{}, fmt.Errorf("stage flink files: app dir %q: %w", p.AppDir, err)
	}
	if err := fsys.MkdirAll(ctx, u.Path, 0o700); err != nil {
		return Staged{}, fmt.Errorf("stage flink files: %w", err)
	}
	var st Staged
	if st.Config, err = p.stageFile(ctx, fsys, u.Path, p.ConfigName, p.ConfigYAML); err != nil {
		return Staged{}, err
	}
	for name, data := range p.stagedSecurityFiles() {
		f, err := p.stageFile(ctx, fsys, u.Path, name, data)
		if err != nil {
			return Staged{}, err
		}
		switch name {
		case Krb5ConfName:
			st.Krb5Conf = f
		case KeytabName:
			if err := fsys.Chmod(ctx, path.Join(u.Path, name), 0o600); err != nil {
				return Staged{}, fmt.Errorf("stage %s: %w", name, err)
			}
			st.Keytab = f
		}
	}
	return st, nil
}

// stageFile writes data to dir/name and returns the file's coordinates, the URI under the plan's AppDir.
func (p *Plan) stageFile(ctx context.Context, fsys FileSystem, dir, name string, data []byte) (RemoteFile, error) {
	full := path.Join(dir, name)
	w, err := fsys.Create(ctx, full)
	if err != nil {
		return RemoteFile{}, fmt.Errorf("stage %s: %w", name, err)
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return RemoteFile{}, fmt.Errorf("stage %s: write %s: %w", name, full, err)
	}
	if err := w.Close(); err != nil {
		return RemoteFile{}, fmt.Errorf("stage %s: close %s: %w", name, full, err)
	}
	st, err := fsys.Stat(ctx, full)
	if err != nil {
		return RemoteFile{}, fmt.Errorf("stage %s: %w", name, err)
	}
	if st.Size != int64(len(data)) {
		return RemoteFile{}, fmt.Errorf("stage %s: %s has %d bytes, wrote %d", name, full, st.Size, len(data))
	}
	return RemoteFile{Key: name, URI: p.AppDir + "/" + name, Size: st.Size, ModTime: st.ModTime}, nil
}

// describeFile writes YarnLocalResourceDescriptor's 1.19+ string form: a JSON object with keys
// resourceKey, path, size, modificationTime, visibility, resourceType, written with single quotes as
// Flink's own writer does (JsonFactoryBuilder().quoteChar('\”)). The quotes matter: the NodeManager
// writes environment values into its launch script as export NAME="value" without escaping, so
// double quotes would be eaten by the shell and the TaskManagers could not parse the descriptor.
func describeFile(f RemoteFile, vis yarnclient.Visibility) (string, error) {
	for _, s := range []string{f.Key, f.URI} {
		if strings.ContainsAny(s, "'\"\\$`;") {
			return "", fmt.Errorf("resource %q: quotes, backslashes, '$', '`' and ';' cannot be carried in Flink's resource descriptors", s)
		}
	}
	return fmt.Sprintf("{'resourceKey':'%s','path':'%s','size':%d,'modificationTime':%d,'visibility':'%s','resourceType':'%s'}",
		f.Key, f.URI, f.Size, f.ModTime, vis, yarnclient.ResourceFile), nil
}

// Submission builds the YARN submission once the plan's files are staged (see Stage).
//
// Local resources are those of Flink's provided-lib-dirs mode: every uploaded lib/ and plugins/
// file and the log configuration PUBLIC, the user jar and the configuration file APPLICATION. The
// AM environment carries the variables YarnResourceManagerDriverConfiguration requires and the
// classpath built like startAppMaster (yarn.classpath.include-user-jar ORDER: sorted lib jars,
// "." and the user jar, then flink-dist, then the configuration file) and Utils.setupYarnClassPath.
func (p *Plan) Submission(staged Staged) (*yarnclient.SubmissionContext, error) {
	config := staged.Config
	if config.Key != p.ConfigName || config.URI == "" || config.Size <= 0 || config.ModTime <= 0 {
		return nil, fmt.Errorf("build flink submission: configuration file %+v is not a staged %s", config, p.ConfigName)
	}
	s := &p.spec
	type reg struct {
		file RemoteFile
		vis  yarnclient.Visibility
	}
	var regs []reg
	for _, f := range s.Libs.Files {
		regs = append(regs, reg{f, yarnclient.VisibilityPublic})
	}
	if s.Libs.LogConfig.Key != "" {
		regs = append(regs, reg{s.Libs.LogConfig, yarnclient.VisibilityPublic})
	}
	var sysCP []string
	for _, f := range s.Libs.Files {
		if f.Key != s.Libs.DistJar.Key && !strings.HasPrefix(f.Key, "plugins/") {
			if strings.HasSuffix(f.Key, "jar") {
				sysCP = append(sysCP, f.Key)
			} else {
				sysCP = append(sysCP, path.Dir(f.Key))
			}
		}
	}
	if s.Libs.LogConfig.Key != "" {
		sysCP = append(sysCP, ".") // the log configuration's directory (registerMultipleLocalResources)
	}
	if s.Mode == ModeApplication {
		jar := s.UserJar
		jar.Key = base(jar.URI)
		regs = append(regs, reg{jar, yarnclient.VisibilityApplication})
		sysCP = append(sysCP, jar.Key) // UserJarInclusion.ORDER
	}
	regs = append(regs, reg{config, yarnclient.VisibilityApplication})

	resources := yarnclient.EntryMap[yarnclient.LocalResource]{}
	var ship []string
	for _, r := range regs {
		if _, dup := resources[r.file.Key]; dup {
			return nil, fmt.Errorf("build flink submission: two local resources with key %q", r.file.Key)
		}
		resources[r.file.Key] = yarnclient.LocalResource{Resource: r.file.URI, Type: yarnclient.ResourceFile,
			Visibility: r.vis, Size: r.file.Size, Timestamp: r.file.ModTime}
		d, err := describeFile(r.file, r.vis)
		if err != nil {
			return nil, fmt.Errorf("build flink submission: %w", err)
		}
		ship = append(ship, d)
	}
	sort.Strings(ship)
	// Kerberos files are localized for the AM but are not ship files: the JobManager registers them for
	// the TaskManagers itself, from _KRB5_PATH and _REMOTE_KEYTAB_PATH.
	for _, f := range []RemoteFile{staged.Krb5Conf, staged.Keytab} {
		if f.Key == "" {
			continue
		}
		if _, dup := resources[f.Key]; dup {
			return nil, fmt.Errorf("build flink submission: two local resources with key %q", f.Key)
		}
		resources[f.Key] = yarnclient.LocalResource{Resource: f.URI, Type: yarnclient.ResourceFile,
			Visibility: yarnclient.VisibilityApplication, Size: f.Size, Timestamp: f.ModTime}
	}
	distDesc, err := describeFile(s.Libs.DistJar, yarnclient.VisibilityPublic)
	if err != nil {
		return nil, fmt.Errorf("build flink submission: %w", err)
	}

	sysCP = dedupSorted(sysCP)
	var cp strings.Builder
	for _, e := range sysCP {
		cp.WriteString(e + ":")
	}
	cp.WriteString(s.Libs.DistJar.Key + ":" + p.ConfigName + ":")

	env := yarnclient.EntryMap[string]{}
	for k := range p.Config {
		if name, ok := strings.CutPrefix(k, "containerized.master.env."); ok && name != "" {
			env[name], _ = p.Config.String(k)
		}
	}
	if p.Version.Major >= 2 {
		if jh, ok := p.Config.String("env.java.home"); ok && jh != "" {
			env["JAVA_HOME"] = jh
		}
	}
	yarnCP := s.YarnClasspath
	if yarnCP == nil {
		yarnCP = defaultYarnClasspath
	}
	classpath := cp.String()
	for _, e := range yarnCP {
		classpath += ":" + strings.TrimSpace(e)
	}
	for k, v := range map[string]string{
		EnvFlinkClasspath:  cp.String(),
		EnvFlinkLibDir:     "./lib",
		EnvFlinkOptDir:     "./opt",
		EnvFlinkDistJar:    distDesc,
		EnvAppID:           p.ApplicationID,
		EnvClientHomeDir:   strings.TrimRight(s.StagingDir, "/"),
		EnvClientShipFiles: strings.Join(ship, ";"),
		EnvFlinkYarnFiles:  p.AppDir,
		EnvHadoopUserName:  s.User,
		"CLASSPATH":        classpath,
	} {
		env[k] = v
	}
	secEnv, err := securityEnv(p.spec.Security, staged)
	if err != nil {
		return nil, err
	}
	for k, v := range secEnv {
		env[k] = v
	}

	sc := &yarnclient.SubmissionContext{
		ApplicationID:   p.ApplicationID,
		ApplicationName: p.Name,
		Queue:           p.Queue,
		AMContainerSpec: yarnclient.ContainerLaunchContext{
			LocalResources: resources,
			Environment:    env,
			Commands:       yarnclient.Commands{p.Command},
		},
		MaxAppAttempts:                          p.MaxAttempts,
		Resource:                                p.AMResource,
		ApplicationType:                         p.Type,
		KeepContainersAcrossApplicationAttempts: p.KeepContainers,
		ApplicationTags:                         p.Tags,
		AttemptFailuresValidityInterval:         p.AttemptFailuresValidityMs,
	}
	if sec := p.spec.Security; sec != nil {
		sc.AMContainerSpec.Credentials = &yarnclient.Credentials{Tokens: yarnclient.EntryMap[string](sec.Tokens)}
	}
	if err := p.applyOptionalSettings(sc); err != nil {
		return nil, err
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("build flink submission: %w", err)
	}
	return sc, nil
}

// applyOptionalSettings sets priority, node label, ACLs (Utils.setAclsFor) and rolled-log patterns
// (2.1+ setRolledLogConfigs) from the configuration.
func (p *Plan) applyOptionalSettings(sc *yarnclient.SubmissionContext) error {
	if prio, err := intOption(p.Config, "yarn.application.priority", -1); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, &FieldError{Field: "flinkConfig.yarn.application.priority", Reason: err.Error()})
	} else if prio >= 0 {
		sc.Priority = &prio
	}
	sc.AppNodeLabelExpression, _ = p.Config.String("yarn.application.node-label")
	acls := yarnclient.EntryMap[string]{}
	for key, typ := range map[string]string{"yarn.view.acls": yarnclient.ACLViewApp, "yarn.modify.acls": yarnclient.ACLModifyApp} {
		v, _ := p.Config.String(key)
		if strings.Contains(v, "*") && v != "*" {
			return fmt.Errorf("%w: %w", ErrInvalidSpec, &FieldError{Field: "flinkConfig." + key, Reason: "the only wildcard ACL is '*'"})
		}
		if v != "" {
			acls[typ] = v
		}
	}
	if len(acls) > 0 {
		sc.AMContainerSpec.ApplicationACLs = acls
	}
	if p.Version.AtLeast(2, 1) {
		inc, _ := p.Config.String("yarn.rolled-logs.include-pattern")
		exc, _ := p.Config.String("yarn.rolled-logs.exclude-pattern")
		if strings.TrimSpace(inc) != "" || strings.TrimSpace(exc) != "" {
			sc.LogAggregationContext = &yarnclient.LogAggregationContext{RolledIncludePattern: inc, RolledExcludePattern: exc}
		}
	}
	return nil
}

func dedupSorted(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}
