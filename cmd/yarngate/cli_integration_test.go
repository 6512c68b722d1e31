package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/app"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
)

// These tests run the client commands in-process against a real gateway (app.Run) on the test cluster, as
// a user with a bearer token from the gateway's tokens file.

// cliGateway is a gateway started for a test, and the flags that reach it.
type cliGateway struct {
	root  *hdfstest.Root
	addr  string
	token string
}

// startCLIGateway starts a gateway on the test cluster with static bearer tokens (auth.methods [token]).
func startCLIGateway(t *testing.T) *cliGateway {
	t.Helper()
	root := hdfstest.New(t)
	c := root.Cluster
	token := rand.Text()
	sum := sha256.Sum256([]byte(token))
	tokens := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(tokens, []byte("tokens:\n  - sha256: "+hex.EncodeToString(sum[:])+"\n    principal: "+c.User+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HADOOP_CONF_DIR=" + c.HadoopConfDir, "YARNGATE_USER=" + c.User, "YARNGATE_HDFS_STAGING_ROOT=" + root.Path}
	cfg, err := config.Load(config.LoadOptions{File: "../../configs/dev.yaml", Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Registry.Path = filepath.Join(t.TempDir(), "registry.db")
	cfg.Registry.ReconcileInterval = 500 * time.Millisecond
	cfg.Flink.Homes = []string{c.FlinkHome, c.Flink2Home}
	cfg.Flink.DefaultVersion = "1.20"
	cfg.Flink.LibRoot = "/user/" + c.User + "/it-flink" // shared with the app tests: uploads are content-addressed
	cfg.Jars.MaxSize = 64 << 20
	cfg.Auth.Methods, cfg.Auth.TokensFile = []string{config.AuthToken}, tokens

	ctx, stop := context.WithCancel(context.Background())
	addrs, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), OnListen: func(a net.Addr) { addrs <- a }})
	}()
	g := &cliGateway{root: root, token: token}
	select {
	case a := <-addrs:
		g.addr = "http://" + a.String()
	case err := <-done:
		t.Fatalf("app.Run returned before listening: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("app.Run did not start listening")
	}
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(cfg.ShutdownTimeout + time.Minute):
			t.Error("app.Run did not return after cancel")
		}
	})
	return g
}

// cli runs the yarngate command against g with its token; the environment is not read for the gateway's
// address or credentials (the flags are explicit), so tests may run in parallel.
func (g *cliGateway) cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	full := append(slices.Clone(args), "--addr", g.addr, "--token", g.token, "--auth", "token")
	if i := slices.Index(args, "--"); i >= 0 { // the connection flags go before the program arguments
		full = slices.Concat(args[:i], []string{"--addr", g.addr, "--token", g.token, "--auth", "token"}, args[i:])
	}
	start := time.Now()
	code := run(full, &stdout, &stderr)
	t.Logf("yarngate %s → exit %d in %v\nstderr: %s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond), stderr.String())
	return code, stdout.String(), stderr.String()
}

// killAfter kills the job a command printed as JSON (if any) when the test ends, whatever happened: a job
// left running would hold the shared cluster's memory. A job that has ended is left as it is (200).
func (g *cliGateway) killAfter(t *testing.T, stdout string) {
	var j api.Job
	if json.Unmarshal([]byte(stdout), &j) == nil && j.ID != "" && !j.Terminal {
		t.Cleanup(func() { g.cli(t, "jobs", "cancel", "--kill", j.ID) })
	}
}

// jsonOut decodes a command's -o json output into v.
func jsonOut(t *testing.T, stdout string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("-o json output %q does not parse as %T: %v", stdout, v, err)
	}
}

func TestCLIAgainstGateway(t *testing.T) {
	t.Parallel()
	g := startCLIGateway(t)
	exampleJar := g.root.Cluster.ExampleJar
	if _, err := os.Stat(exampleJar); err != nil {
		t.Fatalf("example jar (make example-jar): %v", err)
	}

	// Without the token the gateway refuses, and the command says so with the error's code.
	var stdout, stderr strings.Builder
	if code := run([]string{"jobs", "list", "--addr", g.addr, "--auth", "none"}, &stdout, &stderr); code != exitError ||
		!strings.Contains(stderr.String(), "unauthenticated: ") || !strings.Contains(stderr.String(), "HTTP 401") {
		t.Errorf("without a token: exit %d, stderr %q", code, stderr.String())
	}
	// A token from a file.
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(g.token+"\n"), 0o600)
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"jars", "list", "--addr", g.addr, "--token-file", tokenFile, "-o", "json"}, &stdout, &stderr); code != 0 {
		t.Errorf("with a token file: exit %d, stderr %q", code, stderr.String())
	} else {
		var l api.JarList
		jsonOut(t, stdout.String(), &l)
	}

	// jars upload | list | rm
	code, out, _ := g.cli(t, "jars", "upload", exampleJar, "-o", "json")
	if code != 0 {
		t.Fatalf("jars upload: exit %d", code)
	}
	var jar api.Jar
	jsonOut(t, out, &jar)
	if len(jar.ID) != 64 || jar.Name != filepath.Base(exampleJar) || jar.MainClass == nil {
		t.Errorf("uploaded jar %+v", jar)
	}
	code, out, _ = g.cli(t, "jars", "list", "-o", "json")
	var jars api.JarList
	jsonOut(t, out, &jars)
	if code != 0 || len(jars.Jars) != 1 || jars.Jars[0].ID != jar.ID {
		t.Errorf("jars list: exit %d, %+v", code, jars)
	}

	t.Run("jobs", func(t *testing.T) {
		t.Run("bounded job finishes: exit 0", func(t *testing.T) {
			t.Parallel()
			const n = 1000
			output := g.root.Path + "/sum"
			code, out, stderr := g.cli(t, "jobs", "submit", "--jar", exampleJar, "--name", "cli-bounded", "--wait", "FINISHED",
				"--timeout", "15m", "-o", "json", "--", "--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://"+output)
			g.killAfter(t, out)
			if code != exitOK {
				t.Fatalf("exit %d, want 0: %s", code, stderr)
			}
			var j api.Job
			jsonOut(t, out, &j)
			if j.State != api.StateFinished || j.Name != "cli-bounded" || !strings.HasPrefix(j.ID, "application_") {
				t.Errorf("job %s %s %s", j.ID, j.Name, j.State)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			got, err := g.root.Cluster.ReadHDFS(ctx, output)
			if want := fmt.Sprintf("count=%d sum=%d", n, int64(n)*(n+1)*(2*n+1)/6); err != nil || strings.TrimSpace(string(got)) != want {
				t.Errorf("result %q (%v), want %q", got, err, want)
			}
			code, out, _ = g.cli(t, "jobs", "get", j.ID, "-o", "json")
			var again api.Job
			jsonOut(t, out, &again)
			if code != 0 || again.ID != j.ID || again.State != api.StateFinished {
				t.Errorf("jobs get: exit %d, %s %s", code, again.ID, again.State)
			}
			code, out, _ = g.cli(t, "jobs", "list", "--state", "finished", "-o", "json")
			var list api.JobList
			jsonOut(t, out, &list)
			if code != 0 || !slices.ContainsFunc(list.Jobs, func(x api.Job) bool { return x.ID == j.ID }) {
				t.Errorf("jobs list --state finished: exit %d, %d jobs without %s", code, len(list.Jobs), j.ID)
			}
		})
		t.Run("failing job: exit 3 with the failure", func(t *testing.T) {
			t.Parallel()
			code, out, stderr := g.cli(t, "jobs", "submit", "--jar-id", jar.ID, "--name", "cli-fails", "--wait", "FINISHED",
				"--timeout", "15m", "-o", "json", "--", "--fail")
			g.killAfter(t, out)
			if code != exitFailed {
				t.Fatalf("exit %d, want %d (FAILED): %s", code, exitFailed, stderr)
			}
			if !strings.Contains(out, "FAILED") || !strings.Contains(stderr, "ended FAILED") {
				t.Errorf("stdout %q, stderr %q", out, stderr)
			}
		})
		t.Run("unbounded job: RUNNING exit 0, its JobManager log, cancel, then exit 4 for CANCELED", func(t *testing.T) {
			t.Parallel()
			code, out, stderr := g.cli(t, "jobs", "submit", "--jar-id", jar.ID, "--name", "cli-unbounded", "--wait", "RUNNING",
				"--timeout", "15m", "-o", "json", "--", "--mode", "unbounded", "--rate", "10")
			var j api.Job
			if out != "" {
				jsonOut(t, out, &j)
			}
			if j.ID != "" {
				t.Cleanup(func() { g.cli(t, "jobs", "cancel", "--kill", j.ID) }) // whatever happens below
			}
			if code != exitOK || j.State != api.StateRunning {
				t.Fatalf("jobs submit --wait RUNNING: exit %d, state %s: %s", code, j.State, stderr)
			}
			// The running JobManager's whole log (the NodeManager serves it) holds the line the example's main()
			// writes first.
			if code, out, stderr := g.cli(t, "jobs", "logs", "--all", j.ID); code != exitOK || !strings.Contains(out, "yarngate example SumJob main() started") {
				t.Errorf("jobs logs --all of a running job: exit %d, %d bytes without the example's line: %s", code, len(out), stderr)
			}
			code, out, stderr = g.cli(t, "jobs", "cancel", j.ID, "--wait", "-o", "json")
			var canceled api.Job
			jsonOut(t, out, &canceled)
			if code != exitOK || canceled.State != api.StateCanceled {
				t.Errorf("jobs cancel --wait: exit %d, state %s: %s", code, canceled.State, stderr)
			}
			if code, _, stderr := g.cli(t, "jobs", "get", j.ID, "--wait", "FINISHED"); code != exitCanceled || !strings.Contains(stderr, "ended CANCELED") {
				t.Errorf("jobs get --wait FINISHED of a canceled job: exit %d, want %d: %s", code, exitCanceled, stderr)
			}
		})
		t.Run("sessions create, list, stop", func(t *testing.T) {
			t.Parallel()
			code, out, stderr := g.cli(t, "sessions", "create", "--name", "cli-session", "--wait", "RUNNING", "--timeout", "15m", "-o", "json")
			var s api.Session
			if out != "" {
				jsonOut(t, out, &s)
			}
			if s.ID != "" {
				t.Cleanup(func() { g.cli(t, "sessions", "stop", s.ID) }) // whatever happens below
			}
			if code != exitOK || s.State != api.SessionRunning {
				t.Fatalf("sessions create: exit %d, state %s: %s", code, s.State, stderr)
			}
			code, out, stderr = g.cli(t, "jobs", "submit", "--session", s.ID, "--jar-id", jar.ID, "--name", "cli-in-session",
				"--wait", "FINISHED", "--timeout", "10m", "-o", "json", "--", "--mode", "bounded", "--n", "100", "--output", "hdfs://"+g.root.Path+"/session-sum")
			var sj api.Job
			if out != "" {
				jsonOut(t, out, &sj)
			}
			if code != exitOK || sj.Target != "session" || !strings.HasPrefix(sj.ID, s.ID+".") || sj.State != api.StateFinished {
				t.Errorf("jobs submit --session --wait FINISHED: exit %d, job %s %s %s: %s", code, sj.ID, sj.Target, sj.State, stderr)
			}
			code, out, _ = g.cli(t, "sessions", "list", "-o", "json")
			var l api.SessionList
			jsonOut(t, out, &l)
			if code != 0 || !slices.ContainsFunc(l.Sessions, func(x api.Session) bool { return x.ID == s.ID }) {
				t.Errorf("sessions list: exit %d, %+v", code, l)
			}
			code, out, stderr = g.cli(t, "sessions", "stop", s.ID, "--wait", "STOPPED", "--timeout", "10m", "-o", "json")
			var stopped api.Session
			jsonOut(t, out, &stopped)
			if code != exitOK || stopped.State != api.SessionStopped {
				t.Errorf("sessions stop --wait STOPPED: exit %d, state %s: %s", code, stopped.State, stderr)
			}
		})
	})

	// The jobs have ended: the jar can go.
	if code, _, _ := g.cli(t, "jars", "rm", jar.ID); code != 0 {
		t.Errorf("jars rm: exit %d", code)
	}
	code, out, _ = g.cli(t, "jars", "list", "-o", "json")
	jars = api.JarList{}
	jsonOut(t, out, &jars)
	if code != 0 || len(jars.Jars) != 0 {
		t.Errorf("jars list after rm: exit %d, %+v", code, jars)
	}
	if code, _, stderr := g.cli(t, "jars", "rm", jar.ID); code != exitError || !strings.Contains(stderr, "not_found") {
		t.Errorf("jars rm again: exit %d, stderr %q", code, stderr)
	}
}
