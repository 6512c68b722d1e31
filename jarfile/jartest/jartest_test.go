package jartest

import (
	"bytes"
	"io"
	"testing"

	"github.com/yarngate/yarngate/jarfile"
)

func TestBuiltJarsAreValid(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{name: "tiny without main class", opts: Options{}},
		{name: "with main class", opts: Options{MainClass: "com.example.Job", PayloadSize: 1000}},
		{name: "several payload entries", opts: Options{PayloadSize: 2*chunkSize + 17, Seed: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := Bytes(t, tc.opts)
			if int64(len(data)) < tc.opts.PayloadSize {
				t.Fatalf("jar has %d bytes, want at least %d", len(data), tc.opts.PayloadSize)
			}
			info, err := jarfile.Inspect(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("Inspect() error = %v", err)
			}
			if info.MainClass != tc.opts.MainClass {
				t.Errorf("MainClass = %q, want %q", info.MainClass, tc.opts.MainClass)
			}
			n, err := Write(io.Discard, tc.opts)
			if err != nil || n != int64(len(data)) {
				t.Errorf("Write() = %d, %v; want %d bytes", n, err, len(data))
			}
		})
	}
}

func TestSeedsSelectContent(t *testing.T) {
	a := Bytes(t, Options{PayloadSize: 4096, Seed: 1})
	b := Bytes(t, Options{PayloadSize: 4096, Seed: 2})
	again := Bytes(t, Options{PayloadSize: 4096, Seed: 1})
	if bytes.Equal(a, b) {
		t.Error("different seeds gave the same jar")
	}
	if !bytes.Equal(a, again) {
		t.Error("the same seed gave different jars")
	}
}
