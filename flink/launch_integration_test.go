package flink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/testenv"
	"github.com/yarngate/yarngate/yarnclient"
)

// yarnSiteValue reads one property of $HADOOP_CONF_DIR/yarn-site.xml.
func yarnSiteValue(t *testing.T, confDir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(confDir, "yarn-site.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Props []struct {
			Name  string `xml:"name"`
			Value string `xml:"value"`
		} `xml:"property"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range doc.Props {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// TestIntegrationLaunchApplication launches the example job as a real Flink application cluster on
// the test cluster, for Flink 1.20 and 2.x, through the REST API only, and checks its result.
func TestIntegrationLaunchApplication(t *testing.T) {
	c := testenv.Require(t)
	if c.WebHDFSURL == "" || c.ExampleJar == "" {
		t.Skip("cluster.env lacks WebHDFS or the example jar")
	}
	if _, err := os.Stat(c.ExampleJar); err != nil {
		t.Skipf("example jar: %v", err)
	}
	yc, err := yarnclient.New(yarnclient.Options{RMs: []yarnclient.RM{{URL: c.RMURL}}, User: c.User})
	if err != nil {
		t.Fatal(err)
	}
	fsys := newWebHDFS(c.WebHDFSURL, c.User)
	var classpath []string
	for _, e := range strings.Split(yarnSiteValue(t, c.HadoopConfDir, "yarn.application.classpath"), ",") {
		if e = strings.TrimSpace(e); e != "" {
			classpath = append(classpath, e)
		}
	}
	for _, home := range []string{c.FlinkHome, c.Flink2Home} {
		t.Run(filepath.Base(home), func(t *testing.T) {
			launchExample(t, c, yc, fsys, home, classpath)
		})
	}
}

func launchExample(t *testing.T, c *testenv.Cluster, yc *yarnclient.Client, fsys *webHDFS, home string, classpath []string) {
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	d, err := OpenDist(home)
	if err != nil {
		t.Fatal(err)
	}
	userDir := "/user/" + c.User
	libs, err := UploadDist(ctx, fsys, d, UploadOptions{FSURI: c.HDFSURL, Root: userDir + "/yarngate-it/flink"})
	if err != nil {
		t.Fatal(err)
	}
	rnd := make([]byte, 5)
	_, _ = rand.Read(rnd)
	tag := "yg-it-flink-" + hex.EncodeToString(rnd)
	work := userDir + "/yarngate-it/" + tag
	t.Cleanup(func() { _ = fsys.RemoveAll(context.Background(), work) })
	jar, err := os.ReadFile(c.ExampleJar)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.MkdirAll(ctx, work, 0o755); err != nil {
		t.Fatal(err)
	}
	w, _ := fsys.Create(ctx, work+"/yarngate-example.jar")
	_, _ = w.Write(jar)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := fsys.Stat(ctx, work+"/yarngate-example.jar")
	if err != nil {
		t.Fatal(err)
	}
	na, err := yc.NewApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := na.ApplicationID
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if app, err := yc.App(ctx, id); err == nil && !app.State.Terminal() {
			_, _ = yc.Kill(ctx, id, "test cleanup")
		}
		_ = fsys.RemoveAll(ctx, userDir+"/.flink/"+id)
	})
	output := work + "/result.txt"
	plan, err := NewPlan(LaunchSpec{
		Dist: d, Libs: libs,
		UserJar:           RemoteFile{URI: c.HDFSURL + work + "/yarngate-example.jar", Size: st.Size, ModTime: st.ModTime},
		ApplicationID:     id,
		Mode:              ModeApplication,
		EntryClass:        "dev.yarngate.example.SumJob",
		Args:              []string{"--mode", "bounded", "--n", "100", "--output", c.HDFSURL + output},
		Parallelism:       1,
		JobManagerMemory:  "1024m",
		TaskManagerMemory: "1024m",
		TaskManagerSlots:  1,
		Name:              "yarngate-it-" + filepath.Base(home),
		Tags:              []string{"yarngate-test", tag},
		User:              c.User,
		StagingDir:        c.HDFSURL + userDir,
		YarnClasspath:     classpath,
		MinAllocationMB:   64,
		MaxResource:       &na.MaximumResourceCapability,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := plan.Stage(ctx, fsys)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := plan.Submission(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := yc.Submit(ctx, sc); err != nil {
		js, _ := sc.JSON(true)
		t.Fatalf("submit: %v\n%s", err, js)
	}
	var app *yarnclient.App
	sawRunning := false
	for {
		app, err = yc.App(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		sawRunning = sawRunning || app.State == yarnclient.StateRunning
		if app.State.Terminal() {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s still %s: %s\n%s", id, app.State, app.Diagnostics, plan)
		case <-time.After(time.Second):
		}
	}
	if app.State != yarnclient.StateFinished || app.FinalStatus != yarnclient.FinalSucceeded {
		t.Fatalf("%s ended %s/%s: %s\nAM logs: %s\n%s", id, app.State, app.FinalStatus, app.Diagnostics, app.AMContainerLogs, plan)
	}
	if !sawRunning {
		t.Logf("%s finished before a RUNNING report was seen", id)
	}
	got, err := fsys.readFile(ctx, output)
	if err != nil {
		t.Fatal(err)
	}
	if want := "count=100 sum=338350\n"; string(got) != want {
		t.Fatalf("result %q, want %q", got, want)
	}
	// The AM removes the application directory (_FLINK_YARN_FILES) right after it deregisters.
	for start := time.Now(); ; {
		_, err := fsys.Stat(ctx, path.Join(userDir, ".flink", id))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("application directory of %s still present 30s after FINISHED (%v)", id, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestIntegrationLaunchSession starts a session cluster for each Flink version, checks that the
// JobManager REST API answers at the address the AM registered (amRPCAddress), and kills it.
func TestIntegrationLaunchSession(t *testing.T) {
	c := testenv.Require(t)
	if c.WebHDFSURL == "" {
		t.Skip("cluster.env lacks WebHDFS")
	}
	yc, err := yarnclient.New(yarnclient.Options{RMs: []yarnclient.RM{{URL: c.RMURL}}, User: c.User})
	if err != nil {
		t.Fatal(err)
	}
	fsys := newWebHDFS(c.WebHDFSURL, c.User)
	classpath := strings.Split(yarnSiteValue(t, c.HadoopConfDir, "yarn.application.classpath"), ",")
	for _, home := range []string{c.FlinkHome, c.Flink2Home} {
		t.Run(filepath.Base(home), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
			defer cancel()
			d, err := OpenDist(home)
			if err != nil {
				t.Fatal(err)
			}
			userDir := "/user/" + c.User
			libs, err := UploadDist(ctx, fsys, d, UploadOptions{FSURI: c.HDFSURL, Root: userDir + "/yarngate-it/flink"})
			if err != nil {
				t.Fatal(err)
			}
			na, err := yc.NewApplication(ctx)
			if err != nil {
				t.Fatal(err)
			}
			id := na.ApplicationID
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_, _ = yc.Kill(ctx, id, "test cleanup")
				_ = fsys.RemoveAll(ctx, userDir+"/.flink/"+id)
			})
			plan, err := NewPlan(LaunchSpec{
				Dist: d, Libs: libs, ApplicationID: id, Mode: ModeSession,
				JobManagerMemory: "1024m", TaskManagerMemory: "1024m",
				Tags: []string{"yarngate-test"}, User: c.User, StagingDir: c.HDFSURL + userDir,
				YarnClasspath: classpath, MinAllocationMB: 64, MaxResource: &na.MaximumResourceCapability,
			})
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := plan.Stage(ctx, fsys)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := plan.Submission(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := yc.Submit(ctx, sc); err != nil {
				t.Fatal(err)
			}
			var app *yarnclient.App
			for {
				if app, err = yc.App(ctx, id); err != nil {
					t.Fatal(err)
				}
				if app.State == yarnclient.StateRunning && app.AMRPCAddress != "" {
					break
				}
				if app.State.Terminal() {
					t.Fatalf("%s ended %s: %s", id, app.State, app.Diagnostics)
				}
				select {
				case <-ctx.Done():
					t.Fatalf("%s still %s", id, app.State)
				case <-time.After(500 * time.Millisecond):
				}
			}
			var overview struct {
				Version string `json:"flink-version"`
			}
			if err := getJSON(ctx, "http://"+app.AMRPCAddress+"/overview", &overview); err != nil {
				t.Fatalf("JobManager REST at %s: %v", app.AMRPCAddress, err)
			}
			if overview.Version != d.Version.Raw {
				t.Errorf("JobManager reports Flink %q, launched %s", overview.Version, d.Version)
			}
			state, err := yc.Kill(ctx, id, "session test done")
			if err != nil || state != yarnclient.StateKilled {
				t.Fatalf("kill: %s %v", state, err)
			}
		})
	}
}

func getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
