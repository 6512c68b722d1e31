package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"
	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/jarfile/jartest"
)

// clusterConfig is the configuration `make run` would use, with a private staging root.
func clusterConfig(t *testing.T, root *hdfstest.Root) config.Config {
	t.Helper()
	env := []string{"HADOOP_CONF_DIR=" + root.Cluster.HadoopConfDir, "YARNGATE_USER=" + root.Cluster.User,
		"YARNGATE_HDFS_STAGING_ROOT=" + root.Path}
	cfg, err := config.Load(config.LoadOptions{File: "../configs/dev.yaml", Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Jars.MaxSize = 8 * config.MiB
	isolateRegistry(t, &cfg, root.Cluster.Env["YARNGATE_ZK"])
	return cfg
}

// isolateRegistry gives a test gateway a registry of its own: a fresh ZooKeeper root (removed after the
// test) under digest credentials of its own, and an embedded database file in a temporary directory, whichever
// the backend resolves to.
func isolateRegistry(t *testing.T, cfg *config.Config, quorum string) {
	t.Helper()
	cfg.Registry.Path = filepath.Join(t.TempDir(), "registry.db")
	b := make([]byte, 4)
	rand.Read(b)
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	cfg.Registry.ZKRoot = "/yarngate-test/" + name + "-" + hex.EncodeToString(b)
	cfg.Registry.ReconcileInterval = 500 * time.Millisecond
	cfg.ZooKeeper.Digest = config.Secret(testDigest())
	if quorum == "" {
		return
	}
	root, digest := cfg.Registry.ZKRoot, cfg.ZooKeeper.Digest.Reveal()
	t.Cleanup(func() { removeZNodes(t, quorum, digest, root) })
}

// testDigest returns new ZooKeeper digest credentials (user:password) for a test gateway.
func testDigest() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "yarngate-test:" + hex.EncodeToString(b)
}

// removeZNodes deletes a znode and everything below it, authenticated with digest ("" for none).
func removeZNodes(t *testing.T, quorum, digest, root string) {
	conn, _, err := gozk.Connect(strings.Split(quorum, ","), 5*time.Second, gozk.WithLogInfo(false))
	if err != nil {
		t.Logf("remove %s: %v", root, err)
		return
	}
	defer conn.Close()
	if digest != "" {
		if err := conn.AddAuth("digest", []byte(digest)); err != nil {
			t.Logf("remove %s: %v", root, err)
			return
		}
	}
	var remove func(p string) error
	remove = func(p string) error {
		children, _, err := conn.Children(p)
		if errors.Is(err, gozk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := remove(p + "/" + c); err != nil {
				return err
			}
		}
		if err := conn.Delete(p, -1); err != nil && !errors.Is(err, gozk.ErrNoNode) {
			return err
		}
		return nil
	}
	if err := remove(root); err != nil {
		t.Logf("remove %s: %v", root, err)
	}
}

type jarResponse struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Size      int64   `json:"size"`
	Path      string  `json:"path"`
	MainClass *string `json:"mainClass"`
}

func post(t *testing.T, url, contentType string, body io.Reader) (int, jarResponse, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, body)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var j jarResponse
	json.Unmarshal(raw, &j)
	return resp.StatusCode, j, string(raw)
}

// TestRunWholeService drives the complete gateway, started by Run from the dev configuration, against
// the real cluster.
func TestRunWholeService(t *testing.T) {
	t.Parallel()
	root := hdfstest.New(t)
	r := start(t, clusterConfig(t, root))

	if status, body := get(t, r.url+"/readyz"); status != 200 || !strings.Contains(body, `"hdfs":"ok"`) || !strings.Contains(body, `"yarn":"ok"`) {
		t.Fatalf("readyz = %d %s", status, body)
	}
	data := jartest.Bytes(t, jartest.Options{MainClass: "com.example.Whole", PayloadSize: 3 << 20, Seed: 21})
	status, created, body := post(t, r.url+"/v1/jars?name=whole.jar", "application/java-archive", bytes.NewReader(data))
	if status != 201 || created.Size != int64(len(data)) || created.MainClass == nil || *created.MainClass != "com.example.Whole" ||
		created.Path != root.FSURI+root.Path+"/jars/"+created.ID+".jar" {
		t.Fatalf("upload = %d %s", status, body)
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("jar", "again.jar")
	fw.Write(data)
	mw.Close()
	if status, again, body := post(t, r.url+"/v1/jars", mw.FormDataContentType(), &mp); status != 200 || again.ID != created.ID || again.Name != "whole.jar" {
		t.Errorf("multipart re-upload = %d %s", status, body)
	}
	if status, body := get(t, r.url+"/v1/jars"); status != 200 || !strings.Contains(body, created.ID) {
		t.Errorf("list = %d %s", status, body)
	}
	if status, body := get(t, r.url+"/v1/jars/"+created.ID); status != 200 || !strings.Contains(body, `"name":"whole.jar"`) {
		t.Errorf("get = %d %s", status, body)
	}
	root.AssertStaged(t, created.ID)
	req, _ := http.NewRequest(http.MethodDelete, r.url+"/v1/jars/"+created.ID, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Errorf("delete = %v %v", resp, err)
	}
	root.AssertStaged(t)
	_, metrics := get(t, r.url+"/metrics")
	for _, want := range []string{`yarngate_jar_uploads_total{outcome="created"} 1`, `yarngate_jar_uploads_total{outcome="existed"} 1`,
		`yarngate_http_requests_total{method="DELETE",route="/v1/jars/:id",status="204"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Errorf("Run() = %v", err)
	}
}

// slowBody sends head, then waits for release before sending tail.
type slowBody struct {
	head, tail []byte
	release    chan struct{}
	sentHead   chan struct{}
	state      int
}

func (b *slowBody) Read(p []byte) (int, error) {
	switch b.state {
	case 0:
		n := copy(p, b.head)
		b.head = b.head[n:]
		if len(b.head) == 0 {
			b.state = 1
			close(b.sentHead)
		}
		return n, nil
	case 1:
		<-b.release
		b.state = 2
		fallthrough
	default:
		if len(b.tail) == 0 {
			return 0, io.EOF
		}
		n := copy(p, b.tail)
		b.tail = b.tail[n:]
		return n, nil
	}
}

func newSlowBody(data []byte) *slowBody {
	half := len(data) / 2
	return &slowBody{head: data[:half], tail: data[half:], release: make(chan struct{}), sentHead: make(chan struct{})}
}

// TestRunShutdownFinishesInFlightUpload: an upload running when shutdown starts completes.
func TestRunShutdownFinishesInFlightUpload(t *testing.T) {
	t.Parallel()
	root := hdfstest.New(t)
	cfg := clusterConfig(t, root)
	cfg.ShutdownTimeout = 20 * time.Second
	r := start(t, cfg)
	data := jartest.Bytes(t, jartest.Options{PayloadSize: 2 << 20, Seed: 22})
	body := newSlowBody(data)
	type result struct {
		status int
		body   string
	}
	results := make(chan result, 1)
	go func() {
		status, _, raw := post(t, r.url+"/v1/jars", "application/octet-stream", body)
		results <- result{status, raw}
	}()
	<-body.sentHead
	time.Sleep(200 * time.Millisecond) // let the server read what was sent
	r.stop()                           // shutdown begins while the upload is half done
	time.Sleep(300 * time.Millisecond)
	close(body.release)
	res := <-results
	if res.status != 201 {
		t.Fatalf("in-flight upload = %d %s, want 201", res.status, res.body)
	}
	if err := r.wait(t, 20*time.Second); err != nil {
		t.Errorf("Run() = %v", err)
	}
	if len(root.Names(t, "jars")) != 1 {
		t.Errorf("jars/ = %v", root.Names(t, "jars"))
	}
}

// TestRunShutdownAbortsStalledUpload: an upload still running when the shutdown timeout expires is
// aborted and its temporary file removed before Run returns.
func TestRunShutdownAbortsStalledUpload(t *testing.T) {
	t.Parallel()
	root := hdfstest.New(t)
	cfg := clusterConfig(t, root)
	cfg.ShutdownTimeout = time.Second
	r := start(t, cfg)
	body := newSlowBody(jartest.Bytes(t, jartest.Options{PayloadSize: 2 << 20, Seed: 23}))
	failed := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, r.url+"/v1/jars", body)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		failed <- err
	}()
	<-body.sentHead
	deadline := time.Now().Add(10 * time.Second)
	for len(root.Names(t, "tmp")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // until the upload's temporary file exists
	}
	if len(root.Names(t, "tmp")) != 1 {
		t.Fatalf("tmp/ = %v, want the upload's temporary file", root.Names(t, "tmp"))
	}
	start := time.Now()
	if err := r.wait(t, 15*time.Second); err != nil {
		t.Errorf("Run() = %v", err)
	}
	if took := time.Since(start); took < cfg.ShutdownTimeout {
		t.Errorf("Run() returned after %v, before the shutdown timeout", took)
	}
	root.AssertStaged(t) // nothing left: neither in tmp/ nor in jars/
	// Go's client only notices once its body writer returns; let it write into the closed connection.
	close(body.release)
	select {
	case err := <-failed:
		if err == nil {
			t.Error("the aborted upload got a response")
		}
	case <-time.After(5 * time.Second):
		t.Error("the aborted upload's client is still waiting")
	}
}
