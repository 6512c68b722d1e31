package flink

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/testenv"
)

// checkConfigJava loads a configuration directory with Flink's own GlobalConfiguration and prints
// what the JobManager would read from it.
const checkConfigJava = `
import org.apache.flink.configuration.*;
import org.apache.flink.client.deployment.application.ApplicationConfiguration;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

public class CheckConfig {
    public static void main(String[] a) throws Exception {
        Configuration c = GlobalConfiguration.loadConfiguration(a[0]);
        ApplicationConfiguration ac = ApplicationConfiguration.fromConfiguration(c);
        for (String s : ac.getProgramArguments()) {
            System.out.println("ARG\t" + Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8)));
        }
        System.out.println("MAIN\t" + ac.getApplicationClassName());
        System.out.println("JARS\t" + c.get(PipelineOptions.JARS));
        System.out.println("PARALLELISM\t" + c.get(CoreOptions.DEFAULT_PARALLELISM));
        System.out.println("SLOTS\t" + c.get(TaskManagerOptions.NUM_TASK_SLOTS));
        System.out.println("JMPROCESS\t" + c.get(JobManagerOptions.TOTAL_PROCESS_MEMORY).getBytes());
        System.out.println("SAVEPOINT\t" + c.get(StateRecoveryOptions.SAVEPOINT_PATH) + " " + c.get(StateRecoveryOptions.SAVEPOINT_IGNORE_UNCLAIMED_STATE));
        System.out.println("CLUSTERID\t" + c.get(HighAvailabilityOptions.HA_CLUSTER_ID));
        System.out.println("OPTS\t" + c.get(CoreOptions.FLINK_JVM_OPTIONS));
    }
}
`

// TestFlinkReadsTheConfigAsWritten runs the real Flink 1.20 and 2.x configuration loaders on the
// generated config.yaml: program arguments with quotes, '#', ';', '$', unicode and an empty string
// must arrive exactly.
func TestFlinkReadsTheConfigAsWritten(t *testing.T) {
	c := testenv.Require(t)
	java, err := exec.LookPath("java")
	if c.JavaHome != "" {
		java, err = filepath.Join(c.JavaHome, "bin", "java"), nil
	}
	if err != nil {
		t.Skip("no java")
	}
	for _, home := range []string{c.FlinkHome, c.Flink2Home} {
		t.Run(filepath.Base(home), func(t *testing.T) {
			d, err := OpenDist(home)
			if err != nil {
				t.Fatal(err)
			}
			spec, _ := testSpec(t, "1.20.3", stockConfig120) // a valid spec, then the real distribution
			spec.Dist = d
			spec.Libs = &ProvidedLibs{Version: d.Version, DistJar: RemoteFile{Key: d.DistJar}}
			spec.Savepoint = &Savepoint{Path: "hdfs:///sp/1", AllowNonRestoredState: true}
			plan, err := NewPlan(spec)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, plan.ConfigName), plan.ConfigYAML, 0o644); err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(t.TempDir(), "CheckConfig.java")
			if err := os.WriteFile(src, []byte(checkConfigJava), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, java, "-cp", filepath.Join(home, "lib", "*"), src, dir)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("java: %v\n%s", err, out)
			}
			var args []string
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				k, v, _ := strings.Cut(line, "\t")
				if k == "ARG" {
					b, err := base64.StdEncoding.DecodeString(v)
					if err != nil {
						t.Fatal(err)
					}
					args = append(args, string(b))
					continue
				}
				got[k] = v
			}
			if !reflect.DeepEqual(args, trickyArgs) {
				t.Errorf("Flink read args\n %q\nwant\n %q", args, trickyArgs)
			}
			want := map[string]string{
				"MAIN":        "org.example.WordCount",
				"JARS":        "[" + spec.UserJar.URI + "]",
				"PARALLELISM": "2",
				"SLOTS":       "2",
				"JMPROCESS":   "1677721600",
				"SAVEPOINT":   "hdfs:///sp/1 true",
				"CLUSTERID":   "application_1700000000000_0007",
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if !strings.Contains(got["OPTS"], "--add-opens=java.base/java.lang=ALL-UNNAMED") {
				t.Errorf("java opts %q", got["OPTS"])
			}
		})
	}
}
