// Package airflow_test runs the yarngate Airflow provider (yarngate_provider, in this directory) and the HTTP
// example DAG (docs/airflow) in a real Airflow 3, installed from requirements.txt by install.sh into the download
// cache, against a real gateway (bin/yarngate serve, built and started by the test) and the test cluster: each test
// runs `airflow dags test` on SQLite in a private AIRFLOW_HOME.
//
// Without a test cluster the tests skip, and fail under CI=true or YARNGATE_REQUIRE_CLUSTER=1, as every
// integration test does (package testenv). TestProviderUnit runs the provider's pytest suite (a fake gateway); it
// needs the virtualenv only, and skips outside CI until one was built.
package airflow_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/testenv"
)

// token is the bearer token the Airflow connections carry; the gateway knows its SHA-256.
const token = "airflow-integration-token"

// scratch holds what the tests share (the provider installed for the venv, the gateway binary, a migrated
// Airflow database); TestMain removes it.
var scratch string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "yarngate-airflow-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratch = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// shared is built once per test binary by prepare.
type shared struct {
	venv    string // the virtualenv of install.sh
	site    string // the provider, installed (with its entry point) for PYTHONPATH
	gateway string // the yarngate binary
	db      string // an Airflow database migrated once, copied by each test
	err     error
}

var (
	venvOnce  sync.Once
	venvDir   string
	venvErr   error
	setupOnce sync.Once
	setup     shared
	// jobSlots bounds the Flink jobs these tests run at once on the shared cluster (2 GiB or so each).
	jobSlots = make(chan struct{}, 2)
)

// ensureVenv runs install.sh (idempotent; minutes when it must build, instant after).
func ensureVenv() (string, error) {
	venvOnce.Do(func() {
		start := time.Now()
		out, err := exec.Command("./install.sh").Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			venvErr = fmt.Errorf("install.sh: %v\n%s", err, stderr)
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		venvDir = lines[len(lines)-1]
		fmt.Fprintf(os.Stderr, "airflow virtualenv %s ready in %s\n", venvDir, time.Since(start).Round(time.Second))
	})
	return venvDir, venvErr
}

var (
	siteOnce sync.Once
	siteDir  string
	siteErr  error
)

// installProvider installs the provider as a package (with its entry point, which registers the connection
// type) into a directory of this run for PYTHONPATH: the cached virtualenv stays the same for every checkout.
func installProvider() (string, error) {
	siteOnce.Do(func() {
		venv, err := ensureVenv()
		if err != nil {
			siteErr = err
			return
		}
		src := filepath.Join(scratch, "provider-src")
		siteDir = filepath.Join(scratch, "site")
		if siteErr = copyTree(".", src, func(rel string) bool {
			return rel == "pyproject.toml" || rel == "README.md" ||
				strings.HasPrefix(rel, "yarngate_provider") && !strings.Contains(rel, "__pycache__")
		}); siteErr != nil {
			return
		}
		siteErr = run(venv+"/bin/python", "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
			"--no-build-isolation", "--target", siteDir, src)
	})
	return siteDir, siteErr
}

// prepare returns the shared set-up, building it on first use.
func prepare(t *testing.T) *shared {
	t.Helper()
	setupOnce.Do(func() {
		s := &setup
		if s.venv, s.err = ensureVenv(); s.err != nil {
			return
		}
		if s.site, s.err = installProvider(); s.err != nil {
			return
		}
		s.gateway = filepath.Join(scratch, "yarngate")
		if s.err = run("go", "build", "-o", s.gateway, "../../cmd/yarngate"); s.err != nil {
			return
		}
		home := filepath.Join(scratch, "airflow-template")
		s.db = filepath.Join(home, "airflow.db")
		cmd := exec.Command(s.venv+"/bin/airflow", "db", "migrate")
		cmd.Env = airflowEnv(s, home, filepath.Join(scratch, "no-dags"))
		if out, err := cmd.CombinedOutput(); err != nil {
			s.err = fmt.Errorf("airflow db migrate: %v\n%s", err, tail(string(out), 40))
		}
	})
	if setup.err != nil {
		t.Fatal(setup.err)
	}
	return &setup
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// copyTree copies the files under src whose relative paths keep accepts to dst.
func copyTree(src, dst string, keep func(rel string) bool) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() || !keep(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// airflowEnv is the environment of an Airflow command: this process's, without Airflow settings of its own,
// plus a private home and DAG folder and the provider on the path.
func airflowEnv(s *shared, home, dags string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AIRFLOW") && !strings.HasPrefix(kv, "PYTHONPATH=") {
			env = append(env, kv)
		}
	}
	return append(env, "AIRFLOW_HOME="+home, "AIRFLOW__CORE__DAGS_FOLDER="+dags,
		"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///"+filepath.Join(home, "airflow.db"),
		"AIRFLOW__CORE__LOAD_EXAMPLES=False", "AIRFLOW__LOGGING__LOGGING_LEVEL=INFO", "PYTHONPATH="+s.site,
		"PYTHONUNBUFFERED=1")
}

// gateway is a `yarngate serve` process of one test.
type gateway struct {
	t    *testing.T
	url  string
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
}

// startGateway starts a gateway on addr ("" for a free port) with the test's staging root and an embedded
// registry at registry (kept across restarts), token authentication, jobs running as the gateway's user.
func startGateway(t *testing.T, s *shared, root *hdfstest.Root, registry, addr string) *gateway {
	t.Helper()
	if addr == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
	}
	dir := filepath.Dir(registry)
	sum := sha256.Sum256([]byte(token))
	tokens := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(tokens, []byte("tokens:\n  - sha256: "+hex.EncodeToString(sum[:])+"\n    principal: airflow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := root.Cluster
	g := &gateway{t: t, url: "http://" + addr, env: append(os.Environ(),
		"HADOOP_CONF_DIR="+c.HadoopConfDir, "YARNGATE_USER="+c.User, "YARNGATE_FLINK_HOMES="+c.Env["YARNGATE_FLINK_HOMES"],
		"YARNGATE_LISTEN="+addr, "YARNGATE_HDFS_STAGING_ROOT="+root.Path, "YARNGATE_REGISTRY_BACKEND=embedded",
		"YARNGATE_REGISTRY_PATH="+registry, "YARNGATE_AUTH_METHODS=token", "YARNGATE_AUTH_TOKENS_FILE="+tokens,
		"YARNGATE_AUTH_IMPERSONATION=false", "YARNGATE_REGISTRY_RECONCILE_INTERVAL=500ms")}
	g.start(filepath.Join(dir, "gateway.log"))
	return g
}

func (g *gateway) start(logPath string) {
	t := g.t
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	g.cmd = exec.Command(setup.gateway, "serve", "--config", "../../configs/dev.yaml")
	g.cmd.Env = g.env
	g.cmd.Stdout, g.cmd.Stderr = logf, logf
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.done = make(chan struct{})
	go func() { g.cmd.Wait(); logf.Close(); close(g.done) }()
	t.Cleanup(g.kill)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if resp, err := http.Get(g.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-g.done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("the gateway exited: %s", tail(string(b), 30))
		case <-time.After(300 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway did not become ready within 2 minutes")
		}
	}
}

// kill stops the gateway with SIGKILL, as a crash would (idempotent).
func (g *gateway) kill() {
	select {
	case <-g.done:
		return
	default:
	}
	g.cmd.Process.Kill()
	<-g.done
}

// call sends a request to the gateway with the token and decodes a JSON answer into out (when not nil).
func (g *gateway) call(method, path string, body any, out any) int {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, g.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 3 * time.Minute}).Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

type job struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Terminal bool   `json:"terminal"`
	YARN     struct {
		ApplicationID string `json:"applicationId"`
	} `json:"yarn"`
	Flink struct {
		Failure *string `json:"failure"`
	} `json:"flink"`
}

// waitJob long-polls the job until it reached state or ended, within limit.
func (g *gateway) waitJob(id, state string, limit time.Duration) job {
	g.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var j job
		g.call("GET", "/v1/jobs/"+id+"?wait="+state+"&timeout=30s", nil, &j)
		if j.State == state || j.Terminal || time.Now().After(deadline) {
			return j
		}
	}
}

// cancelNamed kills every job named name that has not ended (cleanup: the shared cluster's memory).
func (g *gateway) cancelNamed(name string) {
	var list struct {
		Jobs []job `json:"jobs"`
	}
	req, _ := http.NewRequest("GET", g.url+"/v1/jobs", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	for _, j := range list.Jobs {
		if j.Name == name && !j.Terminal {
			g.call("POST", "/v1/jobs/"+j.ID+"/cancel", map[string]bool{"kill": true}, nil)
		}
	}
}

// dagRun is one `airflow dags test` process.
type dagRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    string // the file holding its output
	done   chan struct{}
	exitOK bool
}

// startDAG runs `airflow dags test <dagID>` with the DAG files dagFiles in a private AIRFLOW_HOME, the connection
// yarngate_default (and yarngate_http) to g, and env added.
func startDAG(t *testing.T, s *shared, g *gateway, dagID string, dagFiles []string, env ...string) *dagRun {
	t.Helper()
	home := t.TempDir()
	dags := filepath.Join(home, "dags")
	os.MkdirAll(dags, 0o755)
	for _, f := range dagFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dags, filepath.Base(f)), b, 0o644)
	}
	db, err := os.ReadFile(s.db)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, "airflow.db"), db, 0o644)
	conn, _ := json.Marshal(map[string]string{"conn_type": "yarngate", "host": g.url, "password": token})
	httpConn, _ := json.Marshal(map[string]string{"conn_type": "http", "host": g.url, "password": token})
	r := &dagRun{t: t, out: filepath.Join(home, "dags-test.log"), done: make(chan struct{})}
	f, err := os.Create(r.out)
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(s.venv+"/bin/airflow", "dags", "test", dagID)
	r.cmd.Env = append(airflowEnv(s, home, dags), append(env,
		"AIRFLOW_CONN_YARNGATE_DEFAULT="+string(conn), "AIRFLOW_CONN_YARNGATE_HTTP="+string(httpConn))...)
	r.cmd.Stdout, r.cmd.Stderr = f, f
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exitOK = r.cmd.Wait() == nil; f.Close(); close(r.done) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("airflow dags test %s output (end):\n%s", dagID, tail(r.output(), 150))
		}
	})
	return r
}

func (r *dagRun) output() string {
	b, _ := os.ReadFile(r.out)
	return string(b)
}

// wait waits for the process to end (within limit) and reports whether it exited 0.
func (r *dagRun) wait(limit time.Duration) bool {
	r.t.Helper()
	select {
	case <-r.done:
		return r.exitOK
	case <-time.After(limit):
		r.t.Fatalf("airflow dags test did not end within %s", limit)
		return false
	}
}

// await waits until the output matches re (within limit) and returns the first submatch.
func (r *dagRun) await(re *regexp.Regexp, limit time.Duration) string {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if m := re.FindStringSubmatch(r.output()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-r.done:
			if m := re.FindStringSubmatch(r.output()); m != nil {
				return m[len(m)-1]
			}
			r.t.Fatalf("airflow dags test ended without printing %s", re)
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("airflow dags test printed no %s within %s", re, limit)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	submittedRE   = regexp.MustCompile(`Submitted yarngate job (application_\d+_\d+)`)
	reconnectedRE = regexp.MustCompile(`Reconnected to yarngate job (application_\d+_\d+)`)
)

// fixture is what each test starts with: the cluster, a staging root, a gateway, a unique job name and output.
type fixture struct {
	s      *shared
	root   *hdfstest.Root
	gw     *gateway
	reg    string
	name   string
	output string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := testenv.Require(t)
	if c.Kerberos {
		t.Skip("the Airflow tests run against a cluster without Kerberos")
	}
	s := prepare(t)
	root := hdfstest.New(t)
	reg := filepath.Join(t.TempDir(), "registry.db")
	f := &fixture{s: s, root: root, reg: reg, name: "airflow-it-" + strings.ToLower(rand.Text()[:10])}
	f.output = root.FSURI + root.Path + "/out"
	f.gw = startGateway(t, s, root, reg, "")
	t.Cleanup(func() { f.gw.cancelNamed(f.name) })
	jobSlots <- struct{}{}
	t.Cleanup(func() { <-jobSlots })
	return f
}

func (f *fixture) env(extra ...string) []string {
	return append([]string{"YG_IT_JAR=" + f.root.Cluster.ExampleJar, "YG_IT_NAME=" + f.name, "YG_IT_OUTPUT=" + f.output}, extra...)
}

const itDAGs = "testdata/dags/yarngate_it.py"

// TestAirflowBoundedJob: a bounded job submitted by a deferrable task (the trigger long-polls) ends FINISHED, the
// task and the sensor after it succeed, and the job wrote its result.
func TestAirflowBoundedJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := startDAG(t, f.s, f.gw, "yarngate_bounded", []string{itDAGs}, f.env()...)
	ok := r.wait(15 * time.Minute)
	out := r.output()
	id := r.await(submittedRE, time.Second)
	if !ok || !strings.Contains(out, "DagRun Finished: dag_id=yarngate_bounded") || !strings.Contains(out, "state=success") {
		t.Fatalf("the DAG run did not succeed (exit ok %v)", ok)
	}
	if !strings.Contains(out, "Pausing task as DEFERRED") {
		t.Error("the submit task did not defer")
	}
	if j := f.gw.waitJob(id, "FINISHED", time.Minute); j.State != "FINISHED" {
		t.Errorf("job %s is %s", id, j.State)
	}
	if _, err := f.root.Raw.Stat(f.root.Path + "/out"); err != nil {
		t.Errorf("the job's output: %v", err)
	}
}

// TestAirflowFailingJob: a job whose main() throws fails its task, with the failure in the task log.
func TestAirflowFailingJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	msg := "airflow-it-failure-" + strings.ToLower(rand.Text()[:8])
	r := startDAG(t, f.s, f.gw, "yarngate_failing", []string{itDAGs}, f.env("YG_IT_FAILURE="+msg)...)
	ok := r.wait(15 * time.Minute)
	out := r.output()
	id := r.await(submittedRE, time.Second)
	if ok || !strings.Contains(out, "state=failed") {
		t.Fatalf("the DAG run did not fail (exit ok %v)", ok)
	}
	if !regexp.MustCompile(`ended FAILED; Flink failure: [^\n]*` + msg).MatchString(out) {
		t.Errorf("the task log lacks the Flink failure with %q", msg)
	}
	if j := f.gw.waitJob(id, "FINISHED", time.Minute); j.State != "FAILED" {
		t.Errorf("job %s is %s", id, j.State)
	}
}

// TestAirflowKilledTaskCancelsJob: SIGTERM to the task's process (what Airflow sends a task it kills) runs
// on_kill, which cancels the job: it ends CANCELED.
func TestAirflowKilledTaskCancelsJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := startDAG(t, f.s, f.gw, "yarngate_kill", []string{itDAGs}, f.env()...)
	id := r.await(submittedRE, 10*time.Minute)
	if j := f.gw.waitJob(id, "RUNNING", 5*time.Minute); j.State != "RUNNING" {
		t.Fatalf("job %s is %s, not RUNNING", id, j.State)
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r.await(regexp.MustCompile(`Task killed: cancelling yarngate job `+id), 2*time.Minute)
	if j := f.gw.waitJob(id, "CANCELED", 5*time.Minute); j.State != "CANCELED" {
		t.Fatalf("job %s is %s after the task was killed, not CANCELED", id, j.State)
	}
	if r.wait(5 * time.Minute) {
		t.Error("the killed task's DAG run succeeded")
	}
}

// TestAirflowRetryAfterGatewayRestart: the gateway dies (SIGKILL) while the task follows its job; the task fails,
// Airflow retries it once the gateway is back, and the retry finds the same job through the Idempotency-Key:
// one YARN application, which finishes, and the DAG run succeeds.
func TestAirflowRetryAfterGatewayRestart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := startDAG(t, f.s, f.gw, "yarngate_restart", []string{itDAGs}, f.env()...)
	id := r.await(submittedRE, 10*time.Minute)
	f.gw.kill()
	addr := strings.TrimPrefix(f.gw.url, "http://")
	f.gw = startGateway(t, f.s, f.root, f.reg, addr)
	again := r.await(reconnectedRE, 10*time.Minute)
	if again != id {
		t.Fatalf("the retry found job %s, the first try launched %s", again, id)
	}
	ok := r.wait(15 * time.Minute)
	if out := r.output(); !ok || !strings.Contains(out, "state=success") {
		t.Fatalf("the DAG run did not succeed (exit ok %v)", ok)
	}
	if n := strings.Count(r.output(), "Submitted yarngate job"); n != 1 {
		t.Errorf("%d submissions launched a job, want 1", n)
	}
	if apps := rmApplications(t, f.root.Cluster.RMURL, f.name); len(apps) != 1 || apps[0] != id {
		t.Errorf("YARN applications named %s: %v, want [%s]", f.name, apps, id)
	}
}

// TestAirflowHTTPExampleDAG runs docs/airflow/yarngate_http_dag.py, which uses only Airflow's HttpOperator and
// HttpSensor: upload, submit, wait; the run succeeds and the job FINISHED.
func TestAirflowHTTPExampleDAG(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := startDAG(t, f.s, f.gw, "yarngate_http_example", []string{"../../docs/airflow/yarngate_http_dag.py"},
		"YARNGATE_EXAMPLE_JAR="+f.root.Cluster.ExampleJar, "YARNGATE_EXAMPLE_NAME="+f.name, "YARNGATE_EXAMPLE_OUTPUT="+f.output)
	ok := r.wait(15 * time.Minute)
	if out := r.output(); !ok || !strings.Contains(out, "state=success") {
		t.Fatalf("the DAG run did not succeed (exit ok %v)", ok)
	}
	apps := rmApplications(t, f.root.Cluster.RMURL, f.name)
	if len(apps) != 1 {
		t.Fatalf("YARN applications named %s: %v", f.name, apps)
	}
	if j := f.gw.waitJob(apps[0], "FINISHED", time.Minute); j.State != "FINISHED" {
		t.Errorf("job %s is %s", apps[0], j.State)
	}
}

// rmApplications lists the ids of the ResourceManager's applications named name.
func rmApplications(t *testing.T, rm, name string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", rm+"/ws/v1/cluster/apps", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Apps struct {
			App []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"app"`
		} `json:"apps"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range body.Apps.App {
		if a.Name == name {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// TestProviderUnit runs the provider's pytest suite (hook, trigger, operators, sensor against a fake gateway).
func TestProviderUnit(t *testing.T) {
	t.Parallel()
	if !testenv.Required() {
		cache := os.Getenv("YARNGATE_CACHE")
		if cache == "" {
			cache = os.ExpandEnv("$HOME/.cache/yarngate")
		}
		if _, err := os.Stat(filepath.Join(cache, "airflow")); err != nil {
			t.Skip("no Airflow virtualenv yet (integrations/airflow/install.sh builds it; make test does)")
		}
	}
	venv, err := ensureVenv()
	if err != nil {
		t.Fatal(err)
	}
	site, err := installProvider()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(venv+"/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning", "tests")
	// The installed provider, as Airflow would find it; the tests from this directory.
	cmd.Env = append(os.Environ(), "PYTHONPATH="+site, "YARNGATE_PROVIDER_INSTALLED=1", "AIRFLOW_HOME="+t.TempDir(),
		"PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pytest: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "passed") {
			t.Log(sc.Text())
		}
	}
}
