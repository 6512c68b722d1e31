package jarfile

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"
)

// entry is one file of a test jar.
type entry struct {
	name   string
	body   string
	stored bool // zip.Store instead of zip.Deflate
}

// buildJar returns a zip archive with the given entries and archive comment.
func buildJar(t testing.TB, comment string, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		method := zip.Deflate
		if e.stored {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if comment != "" {
		if err := zw.SetComment(comment); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawManifestJar returns a jar whose manifest entry is written raw: body is deflated as given and the header
// claims size and crc, so tests can lie about both.
func rawManifestJar(t testing.TB, body []byte, claimedSize uint64, crc uint32) []byte {
	t.Helper()
	var compressed bytes.Buffer
	fw, err := flate.NewWriter(&compressed, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(body)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: ManifestName, Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(compressed.Len()), UncompressedSize64: claimedSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(compressed.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zip64Claim returns bytes that end in a zip64 end-of-central-directory record announcing entries entries,
// its locator and a classic record whose counts overflowed.
func zip64Claim(entries uint64) []byte {
	rec := make([]byte, zip64EOCDLen)
	binary.LittleEndian.PutUint32(rec, zip64EOCDSignature)
	binary.LittleEndian.PutUint64(rec[4:], zip64EOCDLen-12)
	binary.LittleEndian.PutUint64(rec[24:], entries)
	binary.LittleEndian.PutUint64(rec[zip64EntriesOffset:], entries)
	loc := make([]byte, zip64LocatorLen)
	binary.LittleEndian.PutUint32(loc, zip64LocatorSig)
	binary.LittleEndian.PutUint64(loc[8:], 0)
	eocd := make([]byte, eocdLen)
	binary.LittleEndian.PutUint32(eocd, eocdSignature)
	binary.LittleEndian.PutUint16(eocd[8:], 0xffff)
	binary.LittleEndian.PutUint16(eocd[eocdEntriesOffset:], 0xffff)
	binary.LittleEndian.PutUint32(eocd[12:], 0xffffffff)
	binary.LittleEndian.PutUint32(eocd[16:], 0xffffffff)
	return append(append(rec, loc...), eocd...)
}

func TestInspect(t *testing.T) {
	manifest := "Manifest-Version: 1.0\r\nCreated-By: test\r\nMain-Class: com.example.WordCount\r\n\r\n"
	valid := buildJar(t, "", entry{name: ManifestName, body: manifest}, entry{name: "com/example/WordCount.class", body: "\xca\xfe\xba\xbe"})
	bigManifest := "Manifest-Version: 1.0\n" + strings.Repeat("X-Padding: "+strings.Repeat("p", 60)+"\n", 20000)
	tests := []struct {
		name    string
		data    []byte
		want    Info
		wantErr error
	}{
		{name: "valid jar with Main-Class", data: valid, want: Info{Entries: 2, HasManifest: true, MainClass: "com.example.WordCount"}},
		{name: "stored manifest with LF endings", data: buildJar(t, "", entry{name: ManifestName, body: "Manifest-Version: 1.0\nMain-Class: a.B\n", stored: true}),
			want: Info{Entries: 1, HasManifest: true, MainClass: "a.B"}},
		{name: "continuation lines", data: buildJar(t, "", entry{name: ManifestName, body: "Manifest-Version: 1.0\r\nMain-Class: org.apache.flink.streaming.examples.wordcou\r\n nt.WordCount\r\n\r\n"}),
			want: Info{Entries: 1, HasManifest: true, MainClass: "org.apache.flink.streaming.examples.wordcount.WordCount"}},
		{name: "header names are case-insensitive", data: buildJar(t, "", entry{name: ManifestName, body: "main-class: x.Y\n"}),
			want: Info{Entries: 1, HasManifest: true, MainClass: "x.Y"}},
		{name: "manifest name matched case-insensitively", data: buildJar(t, "", entry{name: "meta-inf/manifest.mf", body: "Main-Class: x.Y\n"}),
			want: Info{Entries: 1, HasManifest: true, MainClass: "x.Y"}},
		{name: "Main-Class of a per-entry section is ignored", data: buildJar(t, "", entry{name: ManifestName, body: "Manifest-Version: 1.0\n\nName: a/B.class\nMain-Class: a.B\n"}),
			want: Info{Entries: 1, HasManifest: true}},
		{name: "no manifest", data: buildJar(t, "", entry{name: "a/B.class", body: "x"}), want: Info{Entries: 1}},
		{name: "manifest without Main-Class", data: buildJar(t, "", entry{name: ManifestName, body: "Manifest-Version: 1.0\r\n\r\n"}),
			want: Info{Entries: 1, HasManifest: true}},
		{name: "archive comment", data: buildJar(t, "built by test", entry{name: "a.txt", body: "x"}), want: Info{Entries: 1}},
		{name: "entry name escaping the root is still a jar", data: buildJar(t, "", entry{name: "../evil.class", body: "x"}), want: Info{Entries: 1}},
		{name: "empty", data: nil, wantErr: ErrEmpty},
		{name: "text file", data: []byte("this is not a jar\n"), wantErr: ErrNotZip},
		{name: "truncated by ten bytes", data: valid[:len(valid)-10], wantErr: ErrNotZip},
		{name: "truncated to half", data: valid[:len(valid)/2], wantErr: ErrNotZip},
		{name: "central directory cut off", data: valid[len(valid)/2:], wantErr: ErrNotZip},
		{name: "zip without entries", data: buildJar(t, ""), wantErr: ErrNoEntries},
		{name: "zip64 record announcing too many entries", data: zip64Claim(MaxEntries + 1), wantErr: ErrTooManyEntries},
		{name: "manifest too large", data: buildJar(t, "", entry{name: ManifestName, body: bigManifest}), wantErr: ErrManifestTooLarge},
		{name: "manifest larger than its header claims", data: rawManifestJar(t, []byte(bigManifest), 100, 0), wantErr: ErrBadManifest},
		{name: "manifest with a bad checksum", data: rawManifestJar(t, []byte("Main-Class: a.B\n"), 16, 12345), wantErr: ErrBadManifest},
		{name: "manifest line without separator", data: buildJar(t, "", entry{name: ManifestName, body: "Manifest-Version 1.0\n"}), wantErr: ErrBadManifest},
		{name: "Main-Class that is no class name", data: buildJar(t, "", entry{name: ManifestName, body: "Main-Class: com..Foo\n"}), wantErr: ErrBadManifest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Inspect(bytes.NewReader(tc.data), int64(len(tc.data)))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Inspect() error = %v, want %v (and ErrInvalid)", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Inspect() error = %v", err)
			}
			if got != tc.want {
				t.Errorf("Inspect() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// failingReaderAt serves data but fails every read that touches offsets at or beyond failAt.
type failingReaderAt struct {
	data   []byte
	failAt int64
	err    error
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.failAt {
		return 0, f.err
	}
	return bytes.NewReader(f.data).ReadAt(p, off)
}

func TestInspectReportsReadErrors(t *testing.T) {
	valid := buildJar(t, "", entry{name: ManifestName, body: "Main-Class: a.B\n"})
	errBroken := errors.New("datanode went away")
	tests := []struct {
		name   string
		failAt int64
	}{
		{name: "end of archive unreadable", failAt: 0},
		{name: "manifest data unreadable", failAt: 40},
	}
	sentinels := []error{ErrInvalid, ErrEmpty, ErrNotZip, ErrNoEntries, ErrTooManyEntries, ErrManifestTooLarge, ErrBadManifest}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Inspect(failingReaderAt{data: valid, failAt: tc.failAt, err: errBroken}, int64(len(valid)))
			if !errors.Is(err, errBroken) {
				t.Fatalf("Inspect() error = %v, want it to wrap %v", err, errBroken)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					t.Errorf("Inspect() error %v also matches %v; an I/O failure must not look like a bad jar", err, s)
				}
			}
		})
	}
}

func TestInspectCRCOfGoodManifest(t *testing.T) {
	// A raw manifest with the right CRC must pass, proving the bad-checksum case above fails for its CRC.
	body := []byte("Main-Class: a.B\n")
	data := rawManifestJar(t, body, uint64(len(body)), crc32.ChecksumIEEE(body))
	got, err := Inspect(bytes.NewReader(data), int64(len(data)))
	if err != nil || got.MainClass != "a.B" {
		t.Fatalf("Inspect() = %+v, %v; want Main-Class a.B", got, err)
	}
}
