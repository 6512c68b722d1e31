// Package jartest builds valid jars for tests and benchmarks, in memory or streamed, of any size.
//
// Payload entries are stored uncompressed and filled with pseudo-random bytes from a seed, so that the
// archive has the requested size, different seeds give different content (different SHA-256), and the
// same seed gives the same bytes again.
package jartest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// chunkSize is the size of one payload entry; large jars consist of many.
const chunkSize = 8 << 20

// Options describes a jar to build.
type Options struct {
	// MainClass goes into the manifest's Main-Class when set.
	MainClass string
	// PayloadSize is the number of pseudo-random payload bytes; the jar is slightly larger.
	PayloadSize int64
	// Seed selects the payload bytes.
	Seed uint64
}

// Write streams the jar described by opts to w and returns the number of bytes written. Memory use is
// bounded by one small buffer whatever the size.
func Write(w io.Writer, opts Options) (int64, error) {
	cw := &countingWriter{w: w}
	zw := zip.NewWriter(cw)
	manifest := "Manifest-Version: 1.0\r\nCreated-By: yarngate jartest\r\n"
	if opts.MainClass != "" {
		manifest += "Main-Class: " + opts.MainClass + "\r\n"
	}
	if err := writeEntry(zw, "META-INF/MANIFEST.MF", zip.Deflate, bytes.NewReader([]byte(manifest+"\r\n"))); err != nil {
		return cw.n, err
	}
	if err := writeEntry(zw, "com/example/Job.class", zip.Store, bytes.NewReader([]byte("\xca\xfe\xba\xbe\x00\x00\x00\x3d"))); err != nil {
		return cw.n, err
	}
	rng := rand.NewChaCha8(seedBytes(opts.Seed))
	for i, left := 0, opts.PayloadSize; left > 0; i++ {
		n := min(left, chunkSize)
		name := fmt.Sprintf("payload/%06d.bin", i)
		if err := writeEntry(zw, name, zip.Store, io.LimitReader(rng, n)); err != nil {
			return cw.n, err
		}
		left -= n
	}
	if err := zw.Close(); err != nil {
		return cw.n, fmt.Errorf("finish jar: %w", err)
	}
	return cw.n, nil
}

// Bytes returns the jar described by opts; it fails the test on error.
func Bytes(tb testing.TB, opts Options) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if _, err := Write(&buf, opts); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func writeEntry(zw *zip.Writer, name string, method uint16, r io.Reader) error {
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
	if err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	return b
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
