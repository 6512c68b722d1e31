package zk

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yarngate/yarngate/testenv"
)

// checkNoGoroutineLeak records the goroutine count now and, at cleanup (registered first, so it runs after
// every later cleanup such as Watcher.Close), fails the test if more goroutines remain after a grace period.
func checkNoGoroutineLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}

func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("ZK_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// adminConn is a plain go-zookeeper connection the test uses to change znodes behind the Watcher's back. It
// waits for a session, and closes (ending the session and its ephemeral znodes) at cleanup.
func adminConn(t *testing.T, server string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{server}, 10*time.Second, zk.WithLogInfo(false),
		zk.WithLogger(zkLogger{slog.New(slog.DiscardHandler)}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // drain, as every user of the library must
		defer close(done)
		for range events {
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	deadline := time.Now().Add(15 * time.Second)
	for conn.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			t.Fatalf("no ZooKeeper session with %s", server)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return conn
}

// testRoot creates a unique persistent root znode and deletes its whole tree at cleanup.
func testRoot(t *testing.T, admin *zk.Conn) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	root := "/yarngate-test-" + hex.EncodeToString(b)
	if _, err := admin.Create(root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := deleteTree(admin, root); err != nil {
			t.Errorf("delete %s: %v", root, err)
		}
	})
	return root
}

func deleteTree(c *zk.Conn, p string) error {
	children, _, err := c.Children(p)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return nil
	case errors.Is(err, zk.ErrNoAuth): // unreadable (a test's ACL): a leaf, deletable through its parent
	case err != nil:
		return err
	}
	for _, ch := range children {
		if err := deleteTree(c, p+"/"+ch); err != nil {
			return err
		}
	}
	if err := c.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

// createAll creates p and its missing parents (persistent, world ACL); the last with data and flags.
func createAll(t *testing.T, c *zk.Conn, p string, data []byte, flags int32) {
	t.Helper()
	parts := strings.Split(p[1:], "/")
	for i := 1; i < len(parts); i++ {
		parent := "/" + strings.Join(parts[:i], "/")
		if _, err := c.Create(parent, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatalf("create %s: %v", parent, err)
		}
	}
	if _, err := c.Create(p, data, flags, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
}

// newTestWatcher starts a Watcher on servers with a fresh registry and closes it at cleanup.
func newTestWatcher(t *testing.T, opts Options) (*Watcher, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, reg
}

// metricValue sums the values of every series of the named counter or gauge.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			sum := 0.0
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
			return sum
		}
	}
	return 0
}

// waitFor polls cond every 10 ms until it holds or the timeout passes, then fails with what.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// requireZK returns the test cluster's ZooKeeper address (skipping or failing as testenv.Require does).
func requireZK(t *testing.T) string {
	t.Helper()
	return testenv.Require(t).ZooKeeper
}

// proxy forwards loopback TCP connections to ZooKeeper. Tests refuse connections through it to make ZooKeeper
// unavailable to a Watcher without touching the shared server.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	refuse bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// setRefuse makes the proxy close every connection, current and new, at once (refuse=true), or forward again.
func (p *proxy) setRefuse(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = refuse
	if refuse {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.refuse {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
		p.mu.Unlock()
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	p.setRefuse(true)
	p.wg.Wait()
}

// bucketed returns the znode of key name in the table znode table (the Store's bucketed layout).
func bucketed(table, name string) string { return table + "/" + bucketOf(name) + "/" + name }
