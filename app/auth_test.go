package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/config"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and returns the files and the pool
// that trusts it.
func selfSigned(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "yarngate test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile, pool
}

// TestRunHTTPSWithTokens starts the gateway (HDFS down) serving HTTPS with static bearer tokens: the probes
// answer without credentials, /v1 only with a token.
func TestRunHTTPSWithTokens(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	sum := sha256.Sum256([]byte("airflow-token"))
	tokens := filepath.Join(dir, "tokens.yaml")
	os.WriteFile(tokens, []byte("tokens:\n  - sha256: "+hex.EncodeToString(sum[:])+"\n    principal: airflow\n"), 0o600)

	cfg := baseConfig(t)
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	cfg.Auth.Methods, cfg.Auth.TokensFile = []string{config.AuthToken}, tokens
	ctx, stop := context.WithCancel(t.Context())
	addrs, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), OnListen: func(a net.Addr) { addrs <- a }})
	}()
	var url string
	select {
	case a := <-addrs:
		url = "https://" + a.String()
	case err := <-done:
		t.Fatalf("Run() = %v", err)
	}
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	}()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 20 * time.Second}
	tests := []struct {
		name, path, token string
		want              int
		wantBody          string
	}{
		{name: "healthz open", path: "/healthz", want: 200},
		{name: "jars without a token", path: "/v1/jars", want: 401, wantBody: `"code":"unauthenticated"`},
		{name: "jars with a wrong token", path: "/v1/jars", token: "guess", want: 401, wantBody: `"code":"unauthenticated"`},
		{name: "jars with the token (HDFS is down)", path: "/v1/jars", token: "airflow-token", want: 503},
		{name: "openapi with the token", path: "/v1/openapi.yaml", token: "airflow-token", want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", url+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.wantBody) {
				t.Fatalf("GET %s = %d %s, want %d", tt.path, resp.StatusCode, body, tt.want)
			}
			if resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if resp, err := http.Get(strings.Replace(url, "https", "http", 1) + "/healthz"); err == nil {
		if resp.StatusCode != http.StatusBadRequest { // Go's answer to plain HTTP on a TLS port
			t.Errorf("plain HTTP on the TLS port: %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
}

// TestRunRefusesNoneOnAllInterfaces: without authentication the gateway listens on loopback only.
func TestRunRefusesNoneOnAllInterfaces(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Listen = "0.0.0.0:0"
	err := Run(t.Context(), Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "auth.methods: none (no authentication) is refused on the non-loopback listen address") {
		t.Fatalf("Run() = %v", err)
	}
}
