package jarfile

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzInspect feeds arbitrary bytes to Inspect. It must never panic, must finish quickly, and must either
// succeed with at least one entry or fail with one of the package's sentinel errors (a bytes.Reader has no
// I/O errors of its own).
func FuzzInspect(f *testing.F) {
	valid := buildJar(f, "", entry{name: ManifestName, body: "Manifest-Version: 1.0\r\nMain-Class: com.example.Job\r\n\r\n"},
		entry{name: "com/example/Job.class", body: "\xca\xfe\xba\xbe"})
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	f.Add(valid[:len(valid)/2])
	f.Add(buildJar(f, "comment", entry{name: "a.txt", body: "x", stored: true}))
	f.Add(buildJar(f, "", entry{name: ManifestName, body: "Main-Class: a.B\n continued\n", stored: true}))
	f.Add(buildJar(f, ""))
	f.Add(zip64Claim(12))
	f.Add([]byte("this is a text file, not a jar\n"))
	f.Add([]byte{})
	sentinels := []error{ErrEmpty, ErrNotZip, ErrNoEntries, ErrTooManyEntries, ErrManifestTooLarge, ErrBadManifest}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		info, err := Inspect(bytes.NewReader(data), int64(len(data)))
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Fatalf("Inspect took %v on %d bytes", elapsed, len(data))
		}
		if err == nil {
			if info.Entries < 1 {
				t.Fatalf("Inspect() succeeded with %d entries", info.Entries)
			}
			if info.MainClass != "" && checkClassName(info.MainClass) != nil {
				t.Fatalf("Inspect() returned invalid Main-Class %q", info.MainClass)
			}
			return
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Inspect() error %v does not match ErrInvalid", err)
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("Inspect() error %v wraps no sentinel error", err)
	})
}
