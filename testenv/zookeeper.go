package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ZooKeeperTickTime is the tick of a private ZooKeeper server. The server grants session timeouts between 2
// and 120 ticks (0.5 s to 30 s), so tests can make sessions expire quickly.
const ZooKeeperTickTime = 250 * time.Millisecond

const (
	zkStartTimeout = 90 * time.Second // a JVM start on a loaded two-core machine
	zkStopTimeout  = 20 * time.Second
)

// ZooKeeper is a private, standalone ZooKeeper server for one test, started by StartZooKeeper. Tests can stop
// and start it at will without disturbing the shared test cluster. Its methods must be called from the test's
// goroutine.
type ZooKeeper struct {
	tb       testing.TB
	java     string
	cp       string
	cfg      string // zoo.cfg
	dir      string // data dir, zoo.cfg and log
	addr     string // 127.0.0.1:port, the same across restarts
	log4jCfg string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// StartZooKeeper starts a private ZooKeeper server (org.apache.zookeeper.server.ZooKeeperServerMain from the
// test cluster's Hadoop classpath, with the cluster's Java) on a free loopback port and a fresh data directory,
// and waits until it answers ruok with imok. It needs cluster.env only to find Java and the classpath: like
// Require it skips the test without a cluster, or fails it under CI. The server is stopped at cleanup.
func StartZooKeeper(tb testing.TB) *ZooKeeper {
	tb.Helper()
	c := Require(tb)
	cp, err := zooKeeperClasspath(c)
	if err != nil {
		tb.Fatalf("private ZooKeeper: %v", err)
	}
	java := filepath.Join(c.JavaHome, "bin", "java")
	if c.JavaHome == "" {
		java = "java"
	}
	port, err := freePort()
	if err != nil {
		tb.Fatalf("private ZooKeeper: %v", err)
	}
	dir := tb.TempDir()
	z := &ZooKeeper{
		tb: tb, java: java, cp: cp, dir: dir, cfg: filepath.Join(dir, "zoo.cfg"),
		addr: fmt.Sprintf("127.0.0.1:%d", port),
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		z.log4jCfg = filepath.Join(filepath.Dir(file), "hadoop", "log4j.properties")
	}
	cfg := strings.Join([]string{
		"dataDir=" + filepath.Join(dir, "data"),
		fmt.Sprintf("clientPort=%d", port),
		"clientPortAddress=127.0.0.1",
		fmt.Sprintf("tickTime=%d", ZooKeeperTickTime.Milliseconds()),
		"maxSessionTimeout=30000",
		"admin.enableServer=false",
		"4lw.commands.whitelist=ruok,stat,mntr,srvr",
	}, "\n") + "\n"
	if err := os.WriteFile(z.cfg, []byte(cfg), 0o644); err != nil {
		tb.Fatalf("private ZooKeeper: %v", err)
	}
	tb.Cleanup(func() {
		if err := z.stop(); err != nil {
			tb.Errorf("private ZooKeeper: %v", err)
		}
	})
	z.Start()
	return z
}

// zooKeeperClasspath returns the cached Hadoop launcher classpath, which holds the ZooKeeper server jars. It
// sits next to the fake Hadoop home that cluster.env's HADOOP_CLASSPATH points into.
func zooKeeperClasspath(c *Cluster) (string, error) {
	hcp := c.Env["HADOOP_CLASSPATH"]
	i := strings.Index(hcp, "/home/share/")
	if i < 0 {
		return "", fmt.Errorf("cannot locate the Hadoop cache from HADOOP_CLASSPATH %q", hcp)
	}
	raw, err := os.ReadFile(filepath.Join(hcp[:i], "launcher.cp"))
	if err != nil {
		return "", fmt.Errorf("read the Hadoop classpath: %w", err)
	}
	return strings.TrimSpace(string(raw)), nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Addr returns the server's client address, 127.0.0.1:port. It stays the same across Stop and Start.
func (z *ZooKeeper) Addr() string { return z.addr }

// Start starts the server if it is not running (again on the same port and data directory, so sessions and
// znodes survive a Stop) and waits until it answers ruok with imok. It fails the test otherwise.
func (z *ZooKeeper) Start() {
	z.tb.Helper()
	z.mu.Lock()
	if z.cmd != nil {
		z.mu.Unlock()
		return
	}
	args := []string{"-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.jmx.log4j.disable=true"}
	if z.log4jCfg != "" {
		args = append(args, "-Dlog4j.configuration=file:"+z.log4jCfg,
			"-Dyarngate.log.file="+filepath.Join(z.dir, "zookeeper.log"))
	}
	args = append(args, "-cp", z.cp, "org.apache.zookeeper.server.ZooKeeperServerMain", z.cfg)
	out, err := os.OpenFile(filepath.Join(z.dir, "zookeeper.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		z.mu.Unlock()
		z.tb.Fatalf("private ZooKeeper: %v", err)
	}
	cmd := exec.Command(z.java, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		z.mu.Unlock()
		z.tb.Fatalf("private ZooKeeper: start %s: %v", z.java, err)
	}
	done := make(chan struct{})
	z.cmd, z.done = cmd, done
	z.mu.Unlock()
	go func() { // owned: ends when the JVM exits, which stop waits for
		_ = cmd.Wait()
		out.Close()
		close(done)
	}()

	deadline := time.Now().Add(zkStartTimeout)
	for !z.ruok() {
		select {
		case <-done:
			z.tb.Fatalf("private ZooKeeper on %s exited during start:\n%s", z.addr, z.logTail())
		default:
		}
		if time.Now().After(deadline) {
			z.tb.Fatalf("private ZooKeeper on %s not answering imok after %v:\n%s", z.addr, zkStartTimeout, z.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops the server (SIGTERM to its process group, SIGKILL after 20 s) and waits until it has exited, so
// its port refuses connections. Stopping a stopped server does nothing.
func (z *ZooKeeper) Stop() {
	z.tb.Helper()
	if err := z.stop(); err != nil {
		z.tb.Fatalf("private ZooKeeper: %v", err)
	}
}

func (z *ZooKeeper) stop() error {
	z.mu.Lock()
	cmd, done := z.cmd, z.done
	z.cmd, z.done = nil, nil
	z.mu.Unlock()
	if cmd == nil {
		return nil
	}
	pid := cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop pid %d: %w", pid, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(zkStopTimeout):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-done
	return fmt.Errorf("pid %d ignored SIGTERM for %v; killed", pid, zkStopTimeout)
}

// ruok reports whether the server answers the four-letter word ruok with imok.
func (z *ZooKeeper) ruok() bool {
	conn, err := net.DialTimeout("tcp", z.addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("ruok")); err != nil {
		return false
	}
	reply, err := io.ReadAll(conn)
	return err == nil && string(reply) == "imok"
}

// logTail returns the end of the server's output, for failure messages.
func (z *ZooKeeper) logTail() string {
	var b strings.Builder
	for _, name := range []string{"zookeeper.out", "zookeeper.log"} {
		raw, err := os.ReadFile(filepath.Join(z.dir, name))
		if err != nil {
			continue
		}
		if len(raw) > 4000 {
			raw = raw[len(raw)-4000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", name, raw)
	}
	return b.String()
}
