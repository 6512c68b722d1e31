package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/yarngate/yarngate/config"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	code := m.Run()
	if builtBin != "" {
		// gatewayBinary's build (~45 MB) would otherwise stay in the temporary directory after every run.
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// running is a gateway started in-process by Run.
type running struct {
	url  string
	stop context.CancelFunc
	done chan error
}

// start runs the gateway with cfg on 127.0.0.1:0 and waits until it listens. The test fails if Run
// returns an error or does not stop at the end of the test.
func start(t *testing.T, cfg config.Config) *running {
	t.Helper()
	return startLogged(t, cfg, io.Discard)
}

// startLogged is start with the gateway's log written to w (which must be safe for concurrent use).
func startLogged(t *testing.T, cfg config.Config, w io.Writer) *running {
	t.Helper()
	return startWithLogger(t, cfg, slog.New(slog.NewTextHandler(w, nil)))
}

// startWithLogger is start with the gateway logging to logger.
func startWithLogger(t *testing.T, cfg config.Config, logger *slog.Logger) *running {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	ctx, stop := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	r := &running{stop: stop, done: make(chan error, 1)}
	go func() {
		r.done <- Run(ctx, Options{Config: cfg, Logger: logger, OnListen: func(a net.Addr) { addrs <- a }})
	}()
	select {
	case a := <-addrs:
		r.url = "http://" + a.String()
	case err := <-r.done:
		t.Fatalf("Run() returned before listening: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("Run() did not start listening")
	}
	t.Cleanup(func() {
		stop()
		select {
		case <-r.done:
		case <-time.After(cfg.ShutdownTimeout + cleanupGrace):
			t.Error("Run() did not return after cancel")
		}
	})
	return r
}

// wait cancels Run and returns its result.
func (r *running) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(within):
		t.Fatalf("Run() did not return within %v", within)
		return nil
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// unusedAddr returns a loopback address nobody listens on.
func unusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func baseConfig(t *testing.T) config.Config {
	cfg := config.Default(func(string) string { return "" })
	cfg.User = "yarngate"
	cfg.HDFS.NameNodes = []string{unusedAddr(t)}
	cfg.HDFS.StagingRoot = "/user/yarngate/.yarngate"
	cfg.HDFS.DialTimeout = time.Second
	cfg.ShutdownTimeout = 2 * time.Second
	cfg.FillDerived()
	return cfg
}

// TestRunLifecycle starts the gateway with HDFS down: it must serve, report itself live but not ready,
// and stop promptly and completely when its context ends.
func TestRunLifecycle(t *testing.T) {
	r := start(t, baseConfig(t))
	if status, body := get(t, r.url+"/healthz"); status != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("healthz = %d %s", status, body)
	}
	status, body := get(t, r.url+"/readyz")
	if status != 503 || !strings.Contains(body, `"code":"not_ready"`) || strings.Contains(body, "127.0.0.1") {
		t.Errorf("readyz with HDFS down = %d %s", status, body)
	}
	if status, body := get(t, r.url+"/metrics"); status != 200 || !strings.Contains(body, "go_goroutines") ||
		!strings.Contains(body, `yarngate_http_requests_total{method="GET",route="/readyz",status="503"} 1`) {
		t.Errorf("metrics = %d, missing expected series", status)
	}
	if status, body := get(t, r.url+"/v1/openapi.yaml"); status != 200 || !strings.HasPrefix(body, "openapi: 3") {
		t.Errorf("openapi = %d", status)
	}
	if err := r.wait(t, 5*time.Second); err != nil {
		t.Fatalf("Run() = %v, want nil after cancel", err)
	}
	if _, err := http.Get(r.url + "/healthz"); err == nil {
		t.Error("server still answers after Run returned")
	}
}

func TestRunStartupErrors(t *testing.T) {
	kerberos := t.TempDir()
	os.WriteFile(filepath.Join(kerberos, "core-site.xml"), []byte(`<configuration>
<property><name>fs.defaultFS</name><value>hdfs://nn:8020</value></property>
<property><name>hadoop.security.authentication</name><value>kerberos</value></property>
</configuration>`), 0o644)
	token := t.TempDir()
	os.WriteFile(filepath.Join(token, "core-site.xml"), []byte(`<configuration>
<property><name>fs.defaultFS</name><value>hdfs://nn:8020</value></property>
<property><name>hadoop.security.authentication</name><value>token</value></property>
</configuration>`), 0o644)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name   string
		mutate func(*config.Config)
		want   string
	}{
		{name: "invalid config", mutate: func(c *config.Config) { c.User = "" }, want: "user"},
		{name: "missing Hadoop conf dir", mutate: func(c *config.Config) {
			c.HDFS.NameNodes, c.HadoopConfDir = nil, filepath.Join(t.TempDir(), "absent")
		}, want: "no Hadoop configuration files"},
		{name: "kerberos cluster without principal and keytab", mutate: func(c *config.Config) { c.HDFS.NameNodes, c.HadoopConfDir = nil, kerberos },
			want: "hadoop.security.authentication=kerberos in " + kerberos + ": the gateway needs its Kerberos principal and keytab: " +
				"set kerberos.principal and kerberos.keytab (YARNGATE_PRINCIPAL and YARNGATE_KEYTAB"},
		{name: "unknown authentication", mutate: func(c *config.Config) { c.HDFS.NameNodes, c.HadoopConfDir = nil, token },
			want: "hadoop.security.authentication=token"},
		{name: "address in use", mutate: func(c *config.Config) { c.Listen = busy.Addr().String() }, want: "listen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t)
			tc.mutate(&cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := Run(ctx, Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run() = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name    string
		cfg     config.Log
		wantErr bool
		want    string
	}{
		{name: "json at debug", cfg: config.Log{Level: "debug", Format: "json"}, want: `"msg":"hello"`},
		{name: "text", cfg: config.Log{Level: "info", Format: "text"}, want: "msg=hello"},
		{name: "bad format", cfg: config.Log{Level: "info", Format: "xml"}, wantErr: true},
		{name: "bad level", cfg: config.Log{Level: "chatty", Format: "text"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sb strings.Builder
			l, err := NewLogger(tc.cfg, &sb)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewLogger() error = %v", err)
			}
			if err != nil {
				return
			}
			l.Debug("hello")
			l.Info("hello")
			if !strings.Contains(sb.String(), tc.want) {
				t.Errorf("output %q lacks %q", sb.String(), tc.want)
			}
		})
	}
}
