package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair writes a self-signed certificate for 127.0.0.1 with common name cn, and its key.
func writePair(t *testing.T, certFile, keyFile, cn string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// touch moves both files' modification times forward, as a new write would.
func touch(t *testing.T, files ...string) {
	t.Helper()
	at := time.Now().Add(time.Duration(len(t.Name())) * time.Second)
	for _, f := range files {
		if err := os.Chtimes(f, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// servedCN dials a TLS server that uses r and returns the common name of the certificate it presents.
func servedCN(t *testing.T, r *Reloader) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, certFile, keyFile, "first")
	r, err := New(Options{CertFile: certFile, KeyFile: keyFile, CheckInterval: time.Nanosecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		change func(t *testing.T)
		want   string
	}{
		{name: "initial", change: func(*testing.T) {}, want: "first"},
		{name: "renewed", change: func(t *testing.T) { writePair(t, certFile, keyFile, "second"); touch(t, certFile, keyFile) }, want: "second"},
		{name: "half-written: the key does not match", change: func(t *testing.T) {
			other := filepath.Join(dir, "other")
			writePair(t, other+".crt", other+".key", "third")
			b, _ := os.ReadFile(other + ".crt")
			os.WriteFile(certFile, b, 0o600)
			touch(t, certFile)
		}, want: "second"},
		{name: "garbage", change: func(t *testing.T) { os.WriteFile(certFile, []byte("nope"), 0o600); touch(t, certFile) }, want: "second"},
		{name: "removed", change: func(t *testing.T) { os.Remove(keyFile) }, want: "second"},
		{name: "written again", change: func(t *testing.T) { writePair(t, certFile, keyFile, "fourth"); touch(t, certFile, keyFile) }, want: "fourth"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change(t)
			if got := servedCN(t, r); got != st.want {
				t.Errorf("served %q, want %q", got, st.want)
			}
		})
	}
}

func TestNewFails(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, opts := range map[string]Options{
		"missing files": {CertFile: filepath.Join(dir, "a"), KeyFile: filepath.Join(dir, "b"), Logger: logger},
		"no files":      {Logger: logger},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
