// Package tlscert serves a TLS certificate from PEM files and reloads it when the files change, so that a
// renewed certificate (cert-manager, certbot, a secret mounted into a container) takes effect without a
// restart.
//
// The files are looked at on new TLS handshakes, at most once per CheckInterval: when the modification time
// or size of either file changed, the pair is loaded again. A pair that fails to load (a half-written file,
// a key that does not match) leaves the certificate in use and is logged; the next check tries again. No
// goroutine is involved.
//
// Dependency rule: tlscert imports nothing of ours; app configures the HTTP server with it.
package tlscert

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Options configures New.
type Options struct {
	// CertFile is the PEM certificate chain, the server's certificate first. Required.
	CertFile string
	// KeyFile is the PEM private key. Required.
	KeyFile string
	// CheckInterval is the least time between two looks at the files. Default 10s.
	CheckInterval time.Duration
	// Logger receives reloads and failures. Required.
	Logger *slog.Logger
}

// Reloader holds the current certificate of a certificate and key file pair. It is safe for concurrent use.
type Reloader struct {
	opts Options

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked time.Time
}

// fileStamp is what tells that a file changed.
type fileStamp struct {
	mod  time.Time
	size int64
}

// New loads the pair once; it fails when it cannot.
func New(opts Options) (*Reloader, error) {
	if opts.CertFile == "" || opts.KeyFile == "" {
		return nil, errors.New("tlscert: certificate and key files are required")
	}
	if opts.Logger == nil {
		return nil, errors.New("tlscert: no logger")
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = 10 * time.Second
	}
	r := &Reloader{opts: opts}
	stamp, err := r.stamps()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tlscert: %w", err)
	}
	r.cert, r.stamp, r.checked = &cert, stamp, time.Now()
	return r, nil
}

// TLSConfig returns a server configuration (TLS 1.2 or later) that serves the current certificate.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// GetCertificate returns the current certificate, loading the files again when they changed; it is
// tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.checked) < r.opts.CheckInterval {
		return r.cert, nil
	}
	r.checked = now
	stamp, err := r.stamps()
	if err != nil {
		r.opts.Logger.Warn("TLS certificate files unreadable; serving the certificate loaded before", "error", err)
		return r.cert, nil
	}
	if stamp == r.stamp {
		return r.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.opts.CertFile, r.opts.KeyFile)
	if err != nil {
		// Possibly between the writes of the certificate and of the key: keep the stamp, try again next time.
		r.opts.Logger.Warn("TLS certificate files changed but do not load; serving the certificate loaded before",
			"certFile", r.opts.CertFile, "error", err)
		return r.cert, nil
	}
	r.cert, r.stamp = &cert, stamp
	attrs := []any{"certFile", r.opts.CertFile}
	if cert.Leaf != nil {
		attrs = append(attrs, "subject", cert.Leaf.Subject.String(), "notAfter", cert.Leaf.NotAfter)
	}
	r.opts.Logger.Info("TLS certificate reloaded", attrs...)
	return r.cert, nil
}

func (r *Reloader) stamps() ([2]fileStamp, error) {
	var s [2]fileStamp
	for i, f := range []string{r.opts.CertFile, r.opts.KeyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return s, fmt.Errorf("tlscert: %w", err)
		}
		s[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return s, nil
}
