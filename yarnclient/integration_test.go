package yarnclient_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/testenv"
	"github.com/yarngate/yarngate/yarnclient"
)

// integrationClient returns a client for the test cluster's ResourceManager(s).
func integrationClient(t *testing.T) (*yarnclient.Client, *testenv.Cluster) {
	t.Helper()
	c := testenv.Require(t)
	var rms []yarnclient.RM
	urls := strings.Split(c.Env["YARNGATE_RM_URLS"], ",")
	if len(urls) == 0 || urls[0] == "" {
		urls = []string{c.RMURL}
	}
	for i, u := range urls {
		rms = append(rms, yarnclient.RM{ID: "rm" + string(rune('1'+i)), URL: strings.TrimSpace(u)})
	}
	if len(rms) == 1 {
		rms[0].ID = ""
	}
	client, err := yarnclient.New(yarnclient.Options{
		RMs:    rms,
		User:   c.User,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return client, c
}

// uniqueTag returns a lower-case tag no other test run uses.
func uniqueTag(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "yg-it-" + hex.EncodeToString(b)
}

// submit creates and submits an application and registers its kill as cleanup.
func submit(t *testing.T, client *yarnclient.Client, name, tag string, spec yarnclient.ContainerLaunchContext) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	na, err := client.NewApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := na.ApplicationID
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := client.Kill(ctx, id, "yarngate test cleanup"); err != nil {
			t.Logf("cleanup kill %s: %v", id, err)
		}
	})
	sc := &yarnclient.SubmissionContext{
		ApplicationID:   id,
		ApplicationName: name,
		AMContainerSpec: spec,
		MaxAppAttempts:  1,
		Resource:        yarnclient.Resource{MemoryMB: 128, VCores: 1},
		ApplicationType: "YARNGATE-TEST",
		ApplicationTags: yarnclient.Tags{"yarngate-test", tag},
	}
	if err := client.Submit(ctx, sc); err != nil {
		t.Fatal(err)
	}
	// Submitting the same id again is accepted as the same application (retry safety).
	if err := client.Submit(ctx, sc); err != nil {
		t.Fatalf("repeated submit of %s: %v", id, err)
	}
	return id
}

// waitFor polls the report until cond holds, failing on a terminal state or after limit.
func waitFor(t *testing.T, client *yarnclient.Client, id string, limit time.Duration, cond func(*yarnclient.App) bool) *yarnclient.App {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	for {
		app, err := client.App(ctx, id)
		if err != nil {
			t.Fatalf("report of %s: %v", id, err)
		}
		if cond(app) {
			return app
		}
		if app.State.Terminal() {
			t.Fatalf("%s ended %s/%s: %s", id, app.State, app.FinalStatus, app.Diagnostics)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s still %s after %s: %s", id, app.State, limit, app.Diagnostics)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// findAndKill checks that the tag finds exactly this application, kills it and waits for KILLED.
func findAndKill(t *testing.T, client *yarnclient.Client, id, tag string) {
	t.Helper()
	apps, err := client.Apps(t.Context(), yarnclient.AppsFilter{
		ApplicationTags:  []string{strings.ToUpper(tag)}, // the RM matches tags lower-cased
		ApplicationTypes: []string{"YARNGATE-TEST"},
		DeSelects:        []string{"resourceRequests"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].ID != id || !apps[0].HasTag(tag) {
		t.Fatalf("apps with tag %s: %+v", tag, apps)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	state, err := client.Kill(ctx, id, "killed by yarnclient integration test")
	if err != nil {
		t.Fatal(err)
	}
	if state != yarnclient.StateKilled {
		t.Fatalf("after kill: %s", state)
	}
	app, err := client.App(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if app.State != yarnclient.StateKilled || app.FinalStatus != yarnclient.FinalKilled {
		t.Fatalf("report after kill: %s/%s", app.State, app.FinalStatus)
	}
}

func TestIntegrationClusterInfo(t *testing.T) {
	client, _ := integrationClient(t)
	info, err := client.ClusterInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.HAState != yarnclient.HAStateActive || info.State != "STARTED" || info.HadoopVersion == "" {
		t.Fatalf("cluster info %+v", info)
	}
	if _, ok := client.ActiveRM(); !ok {
		t.Fatal("no active RM cached after a call")
	}
}

// A shell AM never registers with the RM, so the application stays ACCEPTED while its AM container
// runs (RMAppImpl moves to RUNNING only on ATTEMPT_REGISTERED).
func TestIntegrationShellAMLifecycle(t *testing.T) {
	client, _ := integrationClient(t)
	tag := uniqueTag(t)
	id := submit(t, client, "yarngate-it-shell", tag, yarnclient.ContainerLaunchContext{
		Commands: yarnclient.Commands{"sleep 300 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"},
	})
	waitFor(t, client, id, 90*time.Second, func(a *yarnclient.App) bool {
		if a.State != yarnclient.StateAccepted {
			return false
		}
		atts, err := client.AppAttempts(t.Context(), id)
		return err == nil && len(atts) == 1 && atts[0].ContainerID != "" && atts[0].AppAttemptState == "LAUNCHED"
	})
	findAndKill(t, client, id, tag)
}

// registeringAM is a Java single-file program that registers as ApplicationMaster with the
// RM (through the Hadoop jars on yarn.application.classpath) and then sleeps, so that the
// application reaches RUNNING as a real AM's would.
const registeringAM = `
import org.apache.hadoop.yarn.client.api.AMRMClient;
import org.apache.hadoop.yarn.conf.YarnConfiguration;

public class AM {
    public static void main(String[] args) throws Exception {
        AMRMClient<AMRMClient.ContainerRequest> rm = AMRMClient.createAMRMClient();
        rm.init(new YarnConfiguration());
        rm.start();
        rm.registerApplicationMaster(System.getenv("NM_HOST"), 4242, "http://" + System.getenv("NM_HOST") + ":4242/");
        System.out.println("registered");
        for (int i = 0; i < 600; i++) {
            rm.allocate(0f);
            Thread.sleep(1000);
        }
    }
}
`

func TestIntegrationRegisteringAMReachesRunning(t *testing.T) {
	client, c := integrationClient(t)
	if c.JavaHome == "" {
		t.Skip("cluster.env has no JAVA_HOME")
	}
	tag := uniqueTag(t)
	src := base64.StdEncoding.EncodeToString([]byte(registeringAM))
	id := submit(t, client, "yarngate-it-am", tag, yarnclient.ContainerLaunchContext{
		Environment: yarnclient.EntryMap[string]{
			"YG_AM_SRC": src,
			"CLASSPATH": "{{CLASSPATH}}<CPS>./*<CPS>{{HADOOP_CONF_DIR}}<CPS>" +
				"{{HADOOP_COMMON_HOME}}/share/hadoop/common/*<CPS>{{HADOOP_COMMON_HOME}}/share/hadoop/common/lib/*<CPS>" +
				"{{HADOOP_HDFS_HOME}}/share/hadoop/hdfs/*<CPS>{{HADOOP_HDFS_HOME}}/share/hadoop/hdfs/lib/*<CPS>" +
				"{{HADOOP_YARN_HOME}}/share/hadoop/yarn/*<CPS>{{HADOOP_YARN_HOME}}/share/hadoop/yarn/lib/*",
		},
		Commands: yarnclient.Commands{"echo $YG_AM_SRC | base64 -d > AM.java && " +
			"{{JAVA_HOME}}/bin/java -Xmx96m AM.java 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"},
	})
	app := waitFor(t, client, id, 2*time.Minute, func(a *yarnclient.App) bool {
		return a.State == yarnclient.StateRunning
	})
	if !strings.HasSuffix(app.AMRPCAddress, ":4242") || app.TrackingURL == "" || app.AMHostHTTPAddress == "" {
		t.Errorf("running report lacks AM addresses: rpc %q tracking %q host %q", app.AMRPCAddress, app.TrackingURL, app.AMHostHTTPAddress)
	}
	findAndKill(t, client, id, tag)
}
