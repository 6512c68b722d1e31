package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildGateway builds ./cmd/yarngate into dir and returns the binary's path.
func buildGateway(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "yarngate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/yarngate")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the gateway (run from the repository root): %w", err)
	}
	return bin, nil
}

// gatewayProc is a gateway running as a subprocess.
type gatewayProc struct {
	cmd      *exec.Cmd
	url      string
	exited   chan error
	registry string // its embedded registry file
}

// startGateway starts `yarngate serve` on a free loopback port with the given staging root (and extra
// KEY=VALUE settings) and waits until it listens. On a Kerberized cluster it gets the cluster's principal,
// keytab and krb5.conf.
func startGateway(ctx context.Context, binary string, env cluster, stagingRoot string, extraEnv ...string) (*gatewayProc, error) {
	cmd := exec.Command(binary, "serve")
	registryPath := filepath.Join(os.TempDir(), fmt.Sprintf("yarngate-bench-registry-%d.db", time.Now().UnixNano()))
	cmd.Env = append(filteredEnv(),
		"HADOOP_CONF_DIR="+env.hadoopConfDir,
		"YARNGATE_USER="+env.user,
		"YARNGATE_LISTEN=127.0.0.1:0",
		"YARNGATE_LOG_FORMAT=json",
		"YARNGATE_LOG_LEVEL=info",
		"YARNGATE_HDFS_STAGING_ROOT="+stagingRoot,
		"YARNGATE_JARS_MAX_SIZE=4GiB",
		// Each gateway gets an embedded registry of its own, removed when it stops.
		"YARNGATE_REGISTRY_BACKEND=embedded",
		"YARNGATE_REGISTRY_PATH="+registryPath,
		// The benchmarks measure throughput from one address: no per-client limits.
		"YARNGATE_LIMITS_READS_RATE=0",
		"YARNGATE_LIMITS_WRITES_RATE=0",
		"YARNGATE_LIMITS_LONG_POLLS_TOTAL=0",
		"YARNGATE_LIMITS_LONG_POLLS_PER_CLIENT=0",
	)
	cmd.Env = append(cmd.Env, env.gatewayEnv()...)
	cmd.Env = append(cmd.Env, extraEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	g := &gatewayProc{cmd: cmd, exited: make(chan error, 1), registry: registryPath}
	addr := make(chan string, 1)
	go func() {
		// Read the log until the gateway says where it listens, then keep draining it.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var rec struct {
				Msg   string `json:"msg"`
				Addr  string `json:"addr"`
				Level string `json:"level"`
				Error string `json:"error"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			if rec.Msg == "listening" {
				addr <- rec.Addr
			}
			if rec.Level == "ERROR" {
				fmt.Fprintf(os.Stderr, "  gateway: %s %s\n", rec.Msg, rec.Error)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { g.exited <- cmd.Wait() }()
	select {
	case a := <-addr:
		g.url = "http://" + a
		return g, nil
	case err := <-g.exited:
		return nil, fmt.Errorf("gateway exited at start-up: %v", err)
	case <-time.After(30 * time.Second):
		g.stop()
		return nil, errors.New("gateway did not start listening within 30s")
	case <-ctx.Done():
		g.stop()
		return nil, ctx.Err()
	}
}

// filteredEnv is the environment without YARNGATE_* settings that would change the gateway under test.
func filteredEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "YARNGATE_") || strings.HasPrefix(kv, "HADOOP_CONF_DIR=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// upload posts the jar and returns how long the request took; the jar is deleted afterwards, so that the
// next run stages it again.
func (g *gatewayProc) upload(ctx context.Context, jar jarFile) (time.Duration, error) {
	f, err := os.Open(jar.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url+"/v1/jars?name=bench.jar", f)
	if err != nil {
		return 0, err
	}
	req.ContentLength = jar.size
	req.Header.Set("Content-Type", "application/java-archive")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("upload answered %d: %s", resp.StatusCode, body)
	}
	var j struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &j); err != nil {
		return 0, err
	}
	del, _ := http.NewRequestWithContext(ctx, http.MethodDelete, g.url+"/v1/jars/"+j.ID, nil)
	dresp, err := http.DefaultClient.Do(del)
	if err != nil {
		return 0, err
	}
	dresp.Body.Close()
	if dresp.StatusCode != http.StatusNoContent {
		return 0, fmt.Errorf("delete answered %d", dresp.StatusCode)
	}
	return elapsed, nil
}

// peakRSS returns VmHWM of the gateway process in bytes.
func (g *gatewayProc) peakRSS() (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// stop sends SIGTERM and waits for the gateway to exit (killing it after 30s).
func (g *gatewayProc) stop() error {
	defer os.Remove(g.registry)
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.exited:
		if err != nil {
			return fmt.Errorf("gateway exit: %w", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		g.cmd.Process.Kill()
		<-g.exited
		return errors.New("gateway did not stop within 30s after SIGTERM")
	}
}
