package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

	gohdfs "github.com/colinmarc/hdfs/v2"
	gozk "github.com/go-zookeeper/zk"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
)

// impersonationGateway starts a gateway on the simple-auth test cluster that authenticates callers with
// bearer tokens (alice, bob, airflow with proxy rights for alice, nightly without, dana an administrator). It acts in HDFS and YARN
// as the test cluster's user (yarngate), which is no HDFS superuser (the NameNode runs as another), as in
// production: what jobs write as their users, the gateway can only remove as them. It returns the gateway
// (calling as alice) and the tokens by user.
func impersonationGateway(t *testing.T) (*jobGateway, map[string]string) {
	t.Helper()
	root := hdfstest.New(t)
	c := root.Cluster
	// What jobs left as their users (HA data, archives, launch files of killed jobs) the root's clean-up, as the
	// gateway's user, cannot remove: remove it as its owners first, as the gateway's garbage collection does.
	t.Cleanup(func() {
		for _, dir := range []string{".flink", "archive", "ha"} {
			fis, _ := root.Raw.ReadDir(path.Join(root.Path, dir))
			for _, fi := range fis {
				o := fi.(*gohdfs.FileInfo).Owner()
				if o == c.User {
					continue
				}
				cl, err := gohdfs.NewClient(gohdfs.ClientOptions{Addresses: root.Addresses, User: o})
				if err != nil {
					t.Error(err)
					continue
				}
				if err := cl.RemoveAll(path.Join(root.Path, dir, fi.Name())); err != nil {
					t.Errorf("remove %s's %s: %v", o, fi.Name(), err)
				}
				cl.Close()
			}
		}
	})
	tokens := map[string]string{}
	var file strings.Builder
	file.WriteString("tokens:\n")
	for _, u := range []struct{ principal, groups string }{{"alice", "analysts"}, {"bob", "ops"}, {"airflow", "services"}, {"nightly", "services"}, {"dana", "yarngate-admins"}} {
		tokens[u.principal] = rand.Text()
		sum := sha256.Sum256([]byte(tokens[u.principal]))
		fmt.Fprintf(&file, "  - sha256: %s\n    principal: %s\n    groups: [%s]\n", hex.EncodeToString(sum[:]), u.principal, u.groups)
	}
	tokensFile := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(tokensFile, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := clusterConfig(t, root) // as the test cluster's gateway user (yarngate), which is no HDFS superuser
	cfg.Flink.Homes = []string{c.FlinkHome, c.Flink2Home}
	cfg.Flink.DefaultVersion = "1.20"
	cfg.Flink.LibRoot = "/user/" + c.User + "/it-flink" // shared: uploads are content-addressed
	cfg.Jars.MaxSize = 64 << 20
	cfg.Auth.Methods, cfg.Auth.TokensFile = []string{config.AuthToken}, tokensFile
	cfg.Auth.ProxyUsers = map[string]config.AuthProxyRule{"airflow": {Users: []string{"alice"}}}
	cfg.Auth.Admins.Groups = []string{"yarngate-admins"} // dana
	// JobManager HA, as by default where a quorum is known: the HA data is written as the job's user too.
	pathRoot := "/yarngate-it-" + strings.ToLower(rand.Text()[:8])
	cfg.ZooKeeper.Quorum = c.ZooKeeper
	cfg.Flink.HA = config.FlinkHA{Mode: config.HAZooKeeper, PathRoot: pathRoot, StorageDir: root.Path + "/ha", SessionTimeout: 10 * time.Second}
	t.Cleanup(func() {
		if conn, _, err := gozk.Connect([]string{c.ZooKeeper}, 10*time.Second, gozk.WithLogger(quietZK{})); err == nil {
			deleteTree(conn, pathRoot)
			conn.Close()
		}
	})
	r := start(t, cfg)
	g := &jobGateway{t: t, url: r.url, cluster: c, root: root, token: tokens["alice"]}
	jar, err := os.ReadFile(c.ExampleJar)
	if err != nil {
		t.Fatalf("example jar (make example-jar): %v", err)
	}
	g.jarID = g.uploadJar(jar)
	return g, tokens
}

// owner returns the owner and mode of an HDFS path.
func owner(t *testing.T, raw *gohdfs.Client, p string) (string, fs.FileMode) {
	t.Helper()
	fi, err := raw.Stat(p)
	if err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return fi.(*gohdfs.FileInfo).Owner(), fi.Mode()
}

// TestImpersonation: jobs run as their callers on the simple-auth cluster. alice's bounded job runs as
// alice in YARN and writes its output as alice; bob can neither see nor cancel it; the airflow service
// submits for alice (the job is alice's, runs as alice, records airflow as its submitter), but not for bob,
// and a service without proxy rights not at all (403). alice's launch files are hers (0700), the shared
// launch directories are world-writable with the sticky bit, and after alice's job is killed the gateway,
// which is no HDFS superuser, removes her launch files as her.
func TestImpersonation(t *testing.T) {
	t.Parallel()
	g, tokens := impersonationGateway(t)
	alice, bob, airflow, nightly := g, g.as(tokens["bob"]), g.as(tokens["airflow"]), g.as(tokens["nightly"])
	const v = "1.20"
	outDir := g.hdfsPath("out")
	if err := g.root.Raw.MkdirAll(outDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := g.root.Raw.Chmod(outDir, 0o777); err != nil {
		t.Fatal(err)
	}

	t.Run("refused proxy submissions", func(t *testing.T) {
		airflow, nightly, bob := airflow.on(t), nightly.on(t), bob.on(t)
		for _, tc := range []struct {
			name string
			gw   *jobGateway
			user string
		}{{"airflow for bob", airflow, "bob"}, {"nightly for alice", nightly, "alice"}, {"bob for alice", bob, "alice"}} {
			spec := g.spec("it-imp-refused", v, "--mode", "bounded", "--n", "10")
			spec["proxyUser"] = tc.user
			status, _, e, body := tc.gw.do(http.MethodPost, "/v1/jobs", nil, spec)
			if status != http.StatusForbidden || e.Error.Code != "forbidden" {
				t.Errorf("%s = %d %s, want 403 forbidden", tc.name, status, body)
			}
		}
	})

	t.Run("alice's bounded job", func(t *testing.T) {
		t.Parallel()
		alice, bob, g := alice.on(t), bob.on(t), g.on(t)
		out := outDir + "/sum"
		const n = 1000
		j := alice.submit(alice.spec("it-imp-bounded", v, "--mode", "bounded", "--n", fmt.Sprint(n), "--output", "hdfs://"+out), nil)
		if j.YARN.User != "alice" {
			t.Errorf("submitted job: yarn.user %q, want alice", j.YARN.User)
		}
		if status, _, _, body := bob.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil); status != http.StatusNotFound {
			t.Errorf("bob GET = %d %s, want 404", status, body)
		}
		if status, _, _, body := bob.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true}); status != http.StatusNotFound {
			t.Errorf("bob cancel = %d %s, want 404", status, body)
		}
		j = alice.wait(j.ID, "FINISHED", 6*time.Minute)
		if j.State == "FINISHED" {
			j = alice.waitYARNEnd(j.ID)
		}
		if j.State != "FINISHED" || j.YARN.User != "alice" {
			t.Fatalf("job ended %s as %q (yarn %s/%s): %s", j.State, j.YARN.User, j.YARN.State, j.YARN.FinalStatus, j.YARN.Diagnostics)
		}
		if got, want := strings.TrimSpace(readHDFS(t, g.cluster, out)), fmt.Sprintf("count=%d sum=%d", n, sumOfSquares(n)); got != want {
			t.Errorf("result %q, want %q", got, want)
		}
		if o, _ := owner(t, g.root.Raw, out); o != "alice" {
			t.Errorf("output owned by %q, want alice", o)
		}
		g.expectGone(t, g.root.Path+"/.flink/"+j.ID)
	})

	t.Run("airflow submits for alice", func(t *testing.T) {
		t.Parallel()
		alice, bob, airflow, g := alice.on(t), bob.on(t), airflow.on(t), g.on(t)
		// Jars are their uploaders': airflow stages the jar too (the same content, one file).
		jar, err := os.ReadFile(g.cluster.ExampleJar)
		if err != nil {
			t.Fatal(err)
		}
		if id := airflow.uploadJar(jar); id != g.jarID {
			t.Fatalf("airflow's jar %s, alice's %s", id, g.jarID)
		}
		spec := g.spec("it-imp-proxied", v, "--mode", "unbounded", "--rate", "20")
		spec["proxyUser"] = "alice"
		status, j, _, body := airflow.do(http.MethodPost, "/v1/jobs", nil, spec)
		if status != http.StatusAccepted {
			t.Fatalf("airflow for alice = %d %s", status, body)
		}
		t.Cleanup(func() { alice.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true}) })
		var view struct {
			Owner       string `json:"owner"`
			SubmittedBy string `json:"submittedBy"`
		}
		if _, _, _, raw := alice.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil); !decodeInto(raw, &view) || view.Owner != "alice" || view.SubmittedBy != "airflow" {
			t.Errorf("job as alice sees it: %s", raw)
		}
		if status, _, _, _ := airflow.do(http.MethodGet, "/v1/jobs/"+j.ID, nil, nil); status != http.StatusNotFound {
			t.Errorf("airflow GET = %d, want 404 (the job is alice's)", status)
		}
		j = alice.wait(j.ID, "RUNNING", 5*time.Minute)
		if j.State != "RUNNING" || j.YARN.User != "alice" {
			t.Fatalf("job %s as %q: %s", j.State, j.YARN.User, j.YARN.Diagnostics)
		}
		appDir := g.root.Path + "/.flink/" + j.ID
		if o, mode := owner(t, g.root.Raw, appDir); o != "alice" || mode.Perm() != 0o700 {
			t.Errorf("launch files %s: owner %q mode %v, want alice 0700", appDir, o, mode)
		}
		// Inside, only alice reads: the gateway's user cannot even look.
		if _, err := g.root.Raw.Stat(path.Join(appDir, "config.yaml")); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("the gateway's user stats alice's config.yaml: %v, want permission denied", err)
		}
		asAlice, err := gohdfs.NewClient(gohdfs.ClientOptions{Addresses: g.root.Addresses, User: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		defer asAlice.Close()
		if o, _ := owner(t, asAlice, path.Join(appDir, "config.yaml")); o != "alice" {
			t.Errorf("config.yaml owned by %q", o)
		}
		for _, dir := range []string{".flink", "archive", "ha"} {
			if o, mode := owner(t, g.root.Raw, g.hdfsPath(dir)); o != g.cluster.User || mode.Perm() != 0o777 || mode&0o1000 == 0 && mode&fs.ModeSticky == 0 {
				t.Errorf("shared directory %s: owner %q mode %v (%o), want yarngate, world-writable with the sticky bit", dir, o, mode, uint32(mode))
			}
		}
		if status, _, _, body := bob.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true}); status != http.StatusNotFound {
			t.Errorf("bob cancel = %d %s, want 404", status, body)
		}
		if o, _ := owner(t, g.root.Raw, g.hdfsPath("ha/"+j.ID)); o != "alice" {
			t.Errorf("HA data owned by %q, want alice", o)
		}
		// Killed, the cluster leaves its launch files; the gateway removes them as alice.
		if status, _, _, body := alice.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil, map[string]bool{"kill": true}); status != http.StatusAccepted && status != http.StatusOK {
			t.Fatalf("alice kill = %d %s", status, body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if app, err := g.cluster.WaitApp(ctx, j.ID); err != nil || app.State != "KILLED" {
			t.Errorf("YARN application after the kill: %+v, %v", app, err)
		}
		g.expectGone(t, appDir)
	})
}

// decodeInto decodes a JSON answer, reporting success.
func decodeInto(raw string, v any) bool { return json.Unmarshal([]byte(raw), v) == nil }
