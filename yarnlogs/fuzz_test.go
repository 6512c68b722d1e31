package yarnlogs

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// FuzzOpen: whatever an aggregated log file holds (a user can write any bytes into their log directory),
// listing it and reading its files ends, without a panic, reading at most what the file declares.
func FuzzOpen(f *testing.F) {
	for _, name := range []string{"testdata/small.tfile"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		af, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		cs, err := af.Containers()
		if err != nil {
			return
		}
		for _, c := range cs {
			for _, lf := range c.Files {
				r, err := af.Content(lf, 0, lf.Size)
				if err != nil {
					continue
				}
				n, _ := io.Copy(io.Discard, r)
				if n > lf.Size {
					t.Fatalf("%s: read %d bytes of a %d-byte file", lf.Name, n, lf.Size)
				}
			}
		}
	})
}
