package yarnlogs

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
)

// The fixtures were written by Hadoop 3.4.2's own AggregatedLogFormat.LogWriter (testenv/hadoop/AggLog.java):
//
//	AggLog.java OUT none|gz yarngate container_1700000000000_0007_01_000001:jobmanager.log=600000 (300000 for gz)
//	  …_000001:jobmanager.out=0 …_000001:jobmanager.err=33 container_1700000000000_0007_01_000002:taskmanager.log=1234
//
// none.tfile is stored gzipped (it is mostly text). small.tfile, the fuzz seed, is the same with none,
// jobmanager.log=100, jobmanager.out=3 and taskmanager.log=40. A file's content is numbered lines,
// "<name> line %09d\n".

// generated is the content AggLog.java writes for a file of size bytes.
func generated(name string, size int64) []byte {
	var b bytes.Buffer
	for line := 1; int64(b.Len()) < size; line++ {
		fmt.Fprintf(&b, "%s line %09d\n", name, line)
	}
	return b.Bytes()[:size]
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix([]byte(name), []byte(".gz")) {
		return raw
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// countingReaderAt counts the bytes read and the largest single read.
type countingReaderAt struct {
	r                  io.ReaderAt
	total, most, calls int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.calls++
	c.total += n
	c.most = max(c.most, len(p))
	return n, err
}

func TestAggregatedFile(t *testing.T) {
	const c1, c2 = "container_1700000000000_0007_01_000001", "container_1700000000000_0007_01_000002"
	for _, tc := range []struct {
		fixture string
		jmLog   int64
	}{
		{"none.tfile.gz", 600000},
		{"gz.tfile", 300000},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			data := fixture(t, tc.fixture)
			f, err := Open(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			cs, err := f.Containers()
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]map[string]int64{
				c1: {"jobmanager.log": tc.jmLog, "jobmanager.out": 0, "jobmanager.err": 33},
				c2: {"taskmanager.log": 1234},
			}
			if len(cs) != 2 {
				t.Fatalf("containers = %+v", cs)
			}
			for _, c := range cs {
				if len(c.Files) != len(want[c.ID]) {
					t.Fatalf("%s: files %+v, want %v", c.ID, c.Files, want[c.ID])
				}
				for _, lf := range c.Files {
					size, ok := want[c.ID][lf.Name]
					if !ok || size != lf.Size {
						t.Fatalf("%s: %s of %d bytes, want %v", c.ID, lf.Name, lf.Size, want[c.ID])
					}
					whole := generated(lf.Name, lf.Size)
					for _, r := range []struct{ off, n int64 }{
						{0, lf.Size}, {0, 10}, {max(0, lf.Size-7), 7}, {lf.Size / 2, 1}, {262100, 200}, {262143, 262150},
						{lf.Size, 5}, {lf.Size + 10, 5}, {3, lf.Size * 2},
					} {
						rd, err := f.Content(lf, r.off, r.n)
						if err != nil {
							t.Fatalf("%s %d+%d: %v", lf.Name, r.off, r.n, err)
						}
						got, err := io.ReadAll(rd)
						if err != nil {
							t.Fatalf("%s %d+%d: %v", lf.Name, r.off, r.n, err)
						}
						lo := min(r.off, lf.Size)
						hi := min(lo+r.n, lf.Size)
						if !bytes.Equal(got, whole[lo:hi]) {
							t.Fatalf("%s %d+%d: %d bytes differ from the file's [%d:%d]", lf.Name, r.off, r.n, len(got), lo, hi)
						}
					}
				}
			}
		})
	}
}

func TestContentReadsThroughABoundedWindow(t *testing.T) {
	data := fixture(t, "none.tfile.gz")
	cr := &countingReaderAt{r: bytes.NewReader(data)}
	f, err := Open(cr, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := f.Containers()
	if err != nil {
		t.Fatal(err)
	}
	listing := cr.total
	if listing > 3*windowSize {
		t.Errorf("listing read %d bytes of a %d-byte file", listing, len(data))
	}
	lf := cs[0].Files[len(cs[0].Files)-1]
	for _, x := range cs[0].Files {
		if x.Name == "jobmanager.log" {
			lf = x
		}
	}
	rd, err := f.Content(lf, 500000, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rd); err != nil {
		t.Fatal(err)
	}
	if got := cr.total - listing; got > 2*windowSize {
		t.Errorf("a 100-byte range near the end read %d bytes", got)
	}
	if cr.most > windowSize {
		t.Errorf("largest read %d bytes, window %d", cr.most, windowSize)
	}
}

func TestOpenRefusesOtherFiles(t *testing.T) {
	data := fixture(t, "none.tfile.gz")
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": data[:len(data)-5],
		"text":      bytes.Repeat([]byte("not a tfile\n"), 100),
		"bad index": append(append([]byte{}, data[:len(data)-28]...), append(make([]byte, 8), data[len(data)-20:]...)...),
	} {
		if _, err := Open(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", name, err)
		}
	}
}

func TestReadVLong(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want int64
	}{
		{[]byte{0x00}, 0},
		{[]byte{0x7f}, 127},
		{[]byte{0xe0}, -32},
		{[]byte{0xcc, 0x80}, 128}, // first byte 0-52
		{[]byte{0xa8, 0x80, 0x00}, 1 << 15},
		{[]byte{0x83, 0x00, 0x00, 0x01, 0x00}, 1 << 8}, // four-byte int form
		{[]byte{0xcb, 0x7f}, -129},
		{[]byte{0x87, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1<<63 - 1},
	} {
		got, err := readVLong(bytes.NewReader(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("readVLong(% x) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestLayout(t *testing.T) {
	dirs, err := Layout{Root: "/tmp/logs", Suffix: "logs"}.AppDirs("alice", "application_1796610261031_12345")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/tmp/logs/alice/bucket-logs-tfile/2345/application_1796610261031_12345", "/tmp/logs/alice/logs/application_1796610261031_12345"}
	if fmt.Sprint(dirs) != fmt.Sprint(want) {
		t.Errorf("AppDirs = %v, want %v", dirs, want)
	}
	if _, err := DefaultLayout.AppDirs("a/b", "application_1_1"); err == nil {
		t.Error("a user with a slash was accepted")
	}
	for name, want := range map[string]bool{"localhost_35531": true, "localhost_35531.tmp": false, "": false, "x": false} {
		if NodeFile(name) != want {
			t.Errorf("NodeFile(%q) = %v", name, !want)
		}
	}
}

// chunkedFile builds a File of one block holding one container whose value is cut into chunks of chunk
// bytes (as Hadoop's writer does for large logs), with one log file of content.
func chunkedFile(t *testing.T, name string, content []byte, chunk int) *File {
	t.Helper()
	vlong := func(b *bytes.Buffer, n int64) { // the four-byte form of TFile's VLong
		b.WriteByte(0x83)
		b.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	}
	utf := func(b *bytes.Buffer, s string) {
		b.Write([]byte{byte(len(s) >> 8), byte(len(s))})
		b.WriteString(s)
	}
	var value bytes.Buffer
	utf(&value, name)
	utf(&value, fmt.Sprint(len(content)))
	value.Write(content)
	var blk bytes.Buffer
	const id = "container_1_0001_01_000001"
	vlong(&blk, int64(2+len(id)))
	utf(&blk, id)
	v := value.Bytes()
	for len(v) > chunk {
		vlong(&blk, -int64(chunk))
		blk.Write(v[:chunk])
		v = v[chunk:]
	}
	vlong(&blk, int64(len(v)))
	blk.Write(v)
	data := blk.Bytes()
	return &File{r: bytes.NewReader(data), size: int64(len(data)), codec: "none", blocks: []region{{0, int64(len(data)), int64(len(data))}}}
}

func TestContentStartsAtTheNearestMark(t *testing.T) {
	content := generated("big.log", 3*markEvery+12345)
	f := chunkedFile(t, "big.log", content, 65536)
	cs, err := f.Containers()
	if err != nil || len(cs) != 1 || len(cs[0].Files) != 1 {
		t.Fatalf("Containers = %+v, %v", cs, err)
	}
	lf := cs[0].Files[0]
	if len(lf.marks) < 2 {
		t.Fatalf("%d marks in a file of %d bytes", len(lf.marks), lf.Size)
	}
	for _, r := range []struct{ off, n int64 }{
		{0, lf.Size}, {markEvery - 1, 2}, {markEvery, 10}, {2*markEvery + 65530, 100}, {lf.Size - 100, 100}, {65535, 1},
	} {
		rd, err := f.Content(lf, r.off, r.n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rd)
		if err != nil || !bytes.Equal(got, content[r.off:r.off+r.n]) {
			t.Errorf("%d+%d: %d bytes, %v; not the file's", r.off, r.n, len(got), err)
		}
	}
	// A range near the end walks the chunk headers from the mark before it (at most a mark's distance of
	// them), not from the start (48 here).
	cr := &countingReaderAt{r: f.r}
	f.r = cr
	rd, _ := f.Content(lf, lf.Size-100, 100)
	io.Copy(io.Discard, rd)
	if cr.total > 2*windowSize || cr.calls > markEvery/65536+2 {
		t.Errorf("the last 100 bytes cost %d reads of %d bytes", cr.calls, cr.total)
	}
}
