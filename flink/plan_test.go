package flink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/yarngate/yarngate/yarnclient"
)

var update = flag.Bool("update", false, "rewrite golden files")

// trickyArgs must reach main() exactly.
var trickyArgs = []string{"--input", "hdfs:///in put/a b.txt", `say "hi"`, "it's", "a;b", "# not a comment", "$HOME", "ünïcødé ✓", "", "true", "0123", "null", "- dash", "{x: 1}"}

// testSpec is an application launch on an uploaded fake distribution.
func testSpec(t testing.TB, version, stock string) (LaunchSpec, *memFS) {
	t.Helper()
	ctx := context.Background()
	d := fakeDist(t, version, stock)
	mfs := newMemFS()
	libs, err := UploadDist(ctx, mfs, d, UploadOptions{FSURI: "hdfs://localhost:19000", Root: "/yarngate/flink"})
	if err != nil {
		t.Fatal(err)
	}
	// Pin the digest-named directory so that golden files do not depend on temp-dir content.
	pin := func(f *RemoteFile) {
		i := strings.Index(f.URI, version+"-")
		f.URI = f.URI[:i] + version + "-0123456789abcdef" + f.URI[i+len(version)+17:]
	}
	for i := range libs.Files {
		pin(&libs.Files[i])
	}
	pin(&libs.DistJar)
	pin(&libs.LogConfig)
	return LaunchSpec{
		Dist:              d,
		Libs:              libs,
		UserJar:           RemoteFile{URI: "hdfs://localhost:19000/yarngate/jars/ab12/wordcount.jar", Size: 4242, ModTime: 1700000001234},
		ApplicationID:     "application_1700000000000_0007",
		Mode:              ModeApplication,
		EntryClass:        "org.example.WordCount",
		Args:              trickyArgs,
		Parallelism:       2,
		JobManagerMemory:  "1600m",
		TaskManagerMemory: "1728m",
		TaskManagerSlots:  2,
		FlinkConfig:       map[string]string{"state.checkpoints.dir": "hdfs:///ck", "containerized.master.env.FOO": "bar baz"},
		Queue:             "default",
		Name:              "wordcount",
		Tags:              []string{"YarnGate", "yg-job-42", "yarngate"},
		User:              "yarngate",
		StagingDir:        "hdfs://localhost:19000/user/yarngate",
		YarnClasspath:     []string{"{{HADOOP_CONF_DIR}}", "{{HADOOP_COMMON_HOME}}/share/hadoop/common/*"},
		MinAllocationMB:   64,
	}, mfs
}

func TestPlanGolden(t *testing.T) {
	tests := []struct {
		name    string
		version string
		stock   string
		mutate  func(*LaunchSpec)
	}{
		{"application-1.20", "1.20.3", stockConfig120, func(*LaunchSpec) {}},
		{"application-2.2", "2.2.1", stockConfig22, func(*LaunchSpec) {}},
		{"session-ha-2.2", "2.2.1", stockConfig22, func(s *LaunchSpec) {
			s.Mode, s.EntryClass, s.Args, s.UserJar = ModeSession, "", nil, RemoteFile{}
			s.HA = &HighAvailability{Quorum: "localhost:12181", PathRoot: "/yarngate-flink", StorageDir: "hdfs:///flink/ha"}
			s.Name, s.Tags = "", nil
		}},
		{"application-ha-1.20", "1.20.3", stockConfig120, func(s *LaunchSpec) {
			// What the gateway launches with flink.ha: its session timeout travels in GatewayConfig.
			s.HA = &HighAvailability{Quorum: "localhost:12181", PathRoot: "/yarngate-flink", StorageDir: "hdfs://localhost:19000/user/yarngate/.yarngate/ha"}
			s.GatewayConfig = map[string]string{"high-availability.zookeeper.client.session-timeout": "10000"}
			s.Tags = append(s.Tags, "yarngate-ha")
		}},
		{"savepoint-1.20", "1.20.3", stockConfig120, func(s *LaunchSpec) {
			s.Savepoint = &Savepoint{Path: "hdfs:///savepoints/sp-1", AllowNonRestoredState: true, ClaimMode: "CLAIM"}
			s.Args = []string{"--mode", "unbounded"}
			s.MaxAttempts = 3
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, mfs := testSpec(t, tt.version, tt.stock)
			tt.mutate(&spec)
			plan, err := NewPlan(spec)
			if err != nil {
				t.Fatal(err)
			}
			cfgFile, err := plan.Stage(context.Background(), mfs)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := plan.Submission(cfgFile)
			if err != nil {
				t.Fatal(err)
			}
			js, err := sc.JSON(true)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".golden.json", js)
			golden(t, tt.name+".golden.yaml", plan.ConfigYAML)
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./flink -update to accept):\n%s", p, got)
	}
}

func TestPlanFixedJobID(t *testing.T) {
	spec, _ := testSpec(t, "2.2.1", stockConfig22)
	spec.JobID = "0000019a1b2c3d4e0000000000000007"
	plan, err := NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := plan.Config.String("$internal.pipeline.job-id"); got != spec.JobID {
		t.Fatalf("$internal.pipeline.job-id = %q, want %q", got, spec.JobID)
	}
	spec.JobID = ""
	plan, err = NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plan.Config["$internal.pipeline.job-id"]; ok {
		t.Fatal("a job id was set without one in the spec")
	}
}

func TestPlanApplicationDetails(t *testing.T) {
	spec, mfs := testSpec(t, "1.20.3", stockConfig120)
	plan, err := NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfgFile, err := plan.Stage(context.Background(), mfs)
	if err != nil {
		t.Fatal(err)
	}
	if cfgFile.Config.URI != "hdfs://localhost:19000/user/yarngate/.flink/application_1700000000000_0007/config.yaml" {
		t.Errorf("config staged at %s", cfgFile.Config.URI)
	}
	if st, _ := mfs.Stat(context.Background(), "/user/yarngate/.flink/application_1700000000000_0007"); st.Mode.Perm() != 0o700 {
		t.Errorf("app dir mode %v", st.Mode)
	}
	sc, err := plan.Submission(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	env := sc.AMContainerSpec.Environment
	wantCP := ".:lib/flink-cep-1.20.3.jar:lib/flink-table-runtime-1.20.3.jar:lib/log4j-api-2.24.3.jar:wordcount.jar:lib/flink-dist-1.20.3.jar:config.yaml:"
	checks := map[string]string{
		EnvFlinkClasspath: wantCP,
		"CLASSPATH":       wantCP + ":{{HADOOP_CONF_DIR}}:{{HADOOP_COMMON_HOME}}/share/hadoop/common/*",
		EnvHadoopUserName: "yarngate",
		EnvAppID:          "application_1700000000000_0007",
		EnvFlinkYarnFiles: "hdfs://localhost:19000/user/yarngate/.flink/application_1700000000000_0007",
		EnvClientHomeDir:  "hdfs://localhost:19000/user/yarngate",
		"FOO":             "bar baz",
	}
	for k, want := range checks {
		if env[k] != want {
			t.Errorf("env %s = %q, want %q", k, env[k], want)
		}
	}
	ship := strings.Split(env[EnvClientShipFiles], ";")
	var keys []string
	for _, d := range ship {
		// Jackson reads Flink's single-quoted JSON; swap the quotes to read it here.
		var desc struct {
			ResourceKey, Path, Visibility, ResourceType string
			Size, ModificationTime                      int64
		}
		if strings.Contains(d, `"`) {
			t.Fatalf("descriptor with double quotes (eaten by the NodeManager's launch script): %s", d)
		}
		if err := json.Unmarshal([]byte(strings.ReplaceAll(d, "'", `"`)), &desc); err != nil {
			t.Fatalf("descriptor %s: %v", d, err)
		}
		keys = append(keys, desc.ResourceKey)
	}
	for _, k := range []string{"config.yaml", "wordcount.jar", "log4j.properties", "lib/flink-dist-1.20.3.jar", "plugins/metrics-jmx/flink-metrics-jmx-1.20.3.jar"} {
		if !contains(keys, k) {
			t.Errorf("_CLIENT_SHIP_FILES lacks %s: %v", k, keys)
		}
	}
	lr := sc.AMContainerSpec.LocalResources
	if lr["wordcount.jar"].Visibility != yarnclient.VisibilityApplication || lr["lib/flink-dist-1.20.3.jar"].Visibility != yarnclient.VisibilityPublic ||
		lr["config.yaml"].Timestamp != cfgFile.Config.ModTime || lr["log4j.properties"].Visibility != yarnclient.VisibilityPublic {
		t.Errorf("local resources %+v", lr)
	}
	if len(lr) != len(spec.Libs.Files)+3 {
		t.Errorf("%d local resources", len(lr))
	}
	wantCmd := `$JAVA_HOME/bin/java -Xmx1073741824 -Xms1073741824 -XX:MaxMetaspaceSize=268435456 --add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED -XX:+IgnoreUnrecognizedVMOptions -Dlog.file="<LOG_DIR>/jobmanager.log" -Dlog4j.configuration=file:log4j.properties -Dlog4j.configurationFile=file:log4j.properties org.apache.flink.yarn.entrypoint.YarnApplicationClusterEntryPoint -D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=201326592b -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=1073741824b -D jobmanager.memory.jvm-overhead.max=201326592b 1> <LOG_DIR>/jobmanager.out 2> <LOG_DIR>/jobmanager.err`
	if sc.AMContainerSpec.Commands[0] != wantCmd {
		t.Errorf("command\n got %s\nwant %s", sc.AMContainerSpec.Commands[0], wantCmd)
	}
	if sc.Resource != (yarnclient.Resource{MemoryMB: 1600, VCores: 1}) || sc.MaxAppAttempts != 1 || sc.KeepContainersAcrossApplicationAttempts {
		t.Errorf("resource %+v attempts %d keep %v", sc.Resource, sc.MaxAppAttempts, sc.KeepContainersAcrossApplicationAttempts)
	}
	if !reflect.DeepEqual([]string(sc.ApplicationTags), []string{"yarngate", "yg-job-42"}) || sc.ApplicationType != "Apache Flink" {
		t.Errorf("tags %v type %s", sc.ApplicationTags, sc.ApplicationType)
	}
	if !strings.Contains(plan.String(), "config.yaml (secrets redacted) ---") {
		t.Errorf("String() lacks the config: %s", plan)
	}
}

// TestPlanStringHidesSecrets: the plan's dump for logs carries no secret of the configuration or arguments.
func TestPlanStringHidesSecrets(t *testing.T) {
	spec, _ := testSpec(t, "2.2.1", stockConfig22)
	spec.FlinkConfig = map[string]string{"fs.s3a.secret.key": "s3cr3t", "state.checkpoints.dir": "s3://AKIA:s3cr3t@b/ck",
		"metrics.reporter.dd.apikey": "dd-key-1"}
	spec.Args = []string{"--password", "hunter2", "--db", "jdbc:postgresql://u:pgpass@h/d"}
	plan, err := NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	out := plan.String()
	for _, secret := range []string{"s3cr3t", "dd-key-1", "hunter2", "pgpass"} {
		if strings.Contains(out, secret) {
			t.Errorf("String() shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "s3://<redacted>@b/ck") || !strings.Contains(string(plan.ConfigYAML), "s3cr3t") {
		t.Errorf("redaction went wrong, or reached the configuration shipped:\n%s", out)
	}
}

// The configuration written must give back every value, as Flink's YAML loader reads it.
func TestPlanConfigRoundTrip(t *testing.T) {
	spec, _ := testSpec(t, "2.2.1", stockConfig22)
	plan, err := NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := yaml.Unmarshal(plan.ConfigYAML, &back); err != nil {
		t.Fatal(err)
	}
	args, ok := back["$internal.application.program-args"].([]any)
	if !ok {
		t.Fatalf("program args %T", back["$internal.application.program-args"])
	}
	var got []string
	for _, a := range args {
		s, ok := a.(string)
		if !ok {
			t.Fatalf("arg %v read back as %T", a, a)
		}
		got = append(got, s)
	}
	if !reflect.DeepEqual(got, trickyArgs) {
		t.Errorf("args\n got %q\nwant %q", got, trickyArgs)
	}
	for _, k := range []string{"jobmanager.bind-host", "taskmanager.bind-host", "taskmanager.host", "rest.bind-address"} {
		if _, ok := back[k]; ok {
			t.Errorf("%s should be removed", k)
		}
	}
	want := map[string]any{
		"execution.target": "yarn-application", "$internal.application.main": "org.example.WordCount",
		"high-availability.cluster-id": "application_1700000000000_0007", "parallelism.default": 2,
		"taskmanager.numberOfTaskSlots": 2, "jobmanager.memory.process.size": "1600m",
		"internal.cluster.execution-mode": "NORMAL", "state.checkpoints.dir": "hdfs:///ck",
	}
	for k, v := range want {
		if !reflect.DeepEqual(back[k], v) {
			t.Errorf("%s = %#v, want %#v", k, back[k], v)
		}
	}
	if jars, _ := back["pipeline.jars"].([]any); len(jars) != 1 || jars[0] != spec.UserJar.URI {
		t.Errorf("pipeline.jars %v", back["pipeline.jars"])
	}
}

func TestPlanValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*LaunchSpec)
		field  string
	}{
		{"bad app id", func(s *LaunchSpec) { s.ApplicationID = "app" }, "applicationId"},
		{"unknown mode", func(s *LaunchSpec) { s.Mode = "per-job" }, "target"},
		{"no jar", func(s *LaunchSpec) { s.UserJar = RemoteFile{} }, "jar"},
		{"jar without mtime", func(s *LaunchSpec) { s.UserJar.ModTime = 0 }, "jar"},
		{"bad jm memory", func(s *LaunchSpec) { s.JobManagerMemory = "lots" }, "jobManager.memory"},
		{"tiny tm memory", func(s *LaunchSpec) { s.TaskManagerMemory = "1m" }, "taskManager.memory"},
		{"jm memory below metaspace+overhead", func(s *LaunchSpec) { s.JobManagerMemory = "300m" }, "jobManager.memory"},
		{"negative parallelism", func(s *LaunchSpec) { s.Parallelism = -1 }, "parallelism"},
		{"bad job id", func(s *LaunchSpec) { s.JobID = "ABC" }, "jobId"},
		{"reserved key", func(s *LaunchSpec) { s.FlinkConfig = map[string]string{"pipeline.jars": "x"} }, "flinkConfig.pipeline.jars"},
		{"internal key", func(s *LaunchSpec) { s.FlinkConfig = map[string]string{"$internal.application.main": "x"} }, "flinkConfig.$internal.application.main"},
		{"session with args", func(s *LaunchSpec) { s.Mode = ModeSession }, "target"},
		{"ha without storage", func(s *LaunchSpec) { s.HA = &HighAvailability{Quorum: "zk:2181"} }, "ha"},
		{"relative staging", func(s *LaunchSpec) { s.StagingDir = "/user/x" }, "stagingDir"},
		{"too many tags", func(s *LaunchSpec) { s.Tags = strings.Split("a b c d e f g h i j k", " ") }, "tags"},
		{"jm above cluster max", func(s *LaunchSpec) { s.MaxResource = &yarnclient.Resource{MemoryMB: 1024, VCores: 8} }, "jobManager.memory"},
		{"slots above max vcores", func(s *LaunchSpec) { s.MaxResource = &yarnclient.Resource{MemoryMB: 8192, VCores: 1} }, "taskManager.slots"},
		{"bad wildcard acl", func(s *LaunchSpec) { s.FlinkConfig = map[string]string{"yarn.view.acls": "a*"} }, "flinkConfig.yarn.view.acls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, mfs := testSpec(t, "1.20.3", stockConfig120)
			tt.mutate(&spec)
			err := buildAll(spec, mfs)
			var fe *FieldError
			if !errors.Is(err, ErrInvalidSpec) || !errors.As(err, &fe) {
				t.Fatalf("err = %v, want ErrInvalidSpec with a FieldError", err)
			}
			if !strings.Contains(err.Error(), tt.field+":") {
				t.Errorf("err %v does not name field %s", err, tt.field)
			}
		})
	}
}

func TestPlanRejectsKeysRemovedInFlink2(t *testing.T) {
	for _, key := range []string{"jobmanager.heap.size", "yarn.application-master.env.FOO"} {
		t.Run(key, func(t *testing.T) {
			spec, _ := testSpec(t, "2.2.1", stockConfig22)
			spec.FlinkConfig = map[string]string{key: "1"}
			if _, err := NewPlan(spec); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "removed in Flink 2.0") {
				t.Fatalf("err = %v", err)
			}
			spec1, _ := testSpec(t, "1.20.3", stockConfig120)
			spec1.FlinkConfig = map[string]string{key: "1024m"}
			if _, err := NewPlan(spec1); err != nil && strings.Contains(err.Error(), "removed") {
				t.Fatalf("1.20 rejected %s: %v", key, err)
			}
		})
	}
}

func TestSubmissionRejectsUnstagedConfig(t *testing.T) {
	spec, _ := testSpec(t, "1.20.3", stockConfig120)
	plan, err := NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Submission(Staged{Config: RemoteFile{Key: "config.yaml", URI: "hdfs:///x"}}); err == nil {
		t.Fatal("accepted a config without size and mtime")
	}
}

func buildAll(spec LaunchSpec, fsys FileSystem) error {
	plan, err := NewPlan(spec)
	if err != nil {
		return err
	}
	cfg, err := plan.Stage(context.Background(), fsys)
	if err != nil {
		return err
	}
	_, err = plan.Submission(cfg)
	return err
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

func TestDescriptorFormat(t *testing.T) {
	tests := []struct {
		name    string
		file    RemoteFile
		want    string
		wantErr bool
	}{
		{"single-quoted like Flink", RemoteFile{Key: "lib/a.jar", URI: "hdfs://nn:8020/d/lib/a.jar", Size: 12, ModTime: 1700000000000},
			"{'resourceKey':'lib/a.jar','path':'hdfs://nn:8020/d/lib/a.jar','size':12,'modificationTime':1700000000000,'visibility':'PUBLIC','resourceType':'FILE'}", false},
		{"quote in path", RemoteFile{Key: "a.jar", URI: "hdfs:///it's/a.jar"}, "", true},
		{"dollar in key", RemoteFile{Key: "$a.jar", URI: "hdfs:///a.jar"}, "", true},
		{"separator in path", RemoteFile{Key: "a.jar", URI: "hdfs:///x;y/a.jar"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := describeFile(tt.file, yarnclient.VisibilityPublic)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("describeFile = %q, %v", got, err)
			}
		})
	}
}
