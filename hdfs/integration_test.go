package hdfs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path"
	"sync"
	"testing"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/hdfs/hdfstest"
	"github.com/yarngate/yarngate/jarfile"
	"github.com/yarngate/yarngate/jarfile/jartest"
)

// cluster is a Store on the real test cluster under a fresh staging root.
type cluster struct {
	*hdfstest.Root
	store *hdfs.Store
	root  string
	fsURI string
	raw   *gohdfs.Client
}

func newCluster(t *testing.T, tweak func(*hdfs.Options)) *cluster {
	t.Helper()
	r := hdfstest.New(t)
	opts := hdfs.Options{
		Addresses: r.Addresses, FSURI: r.FSURI, User: r.Cluster.User, Root: r.Path,
		MaxSize: 4 << 20, PoolSize: 4, DialTimeout: 5 * time.Second, IOTimeout: 30 * time.Second,
	}
	if tweak != nil {
		tweak(&opts)
	}
	store, err := hdfs.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := store.Close(ctx); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &cluster{Root: r, store: store, root: r.Path, fsURI: r.FSURI, raw: r.Raw}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestStoreLifecycle(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	ctx := t.Context()
	data := jartest.Bytes(t, jartest.Options{MainClass: "com.example.WordCount", PayloadSize: 300_000, Seed: 1})
	id := sha(data)

	before := time.Now().Add(-2 * time.Second)
	res, err := c.store.Put(ctx, bytes.NewReader(data), "word count.jar")
	if err != nil {
		t.Fatalf("Put() error = %v", err)
	}
	want := hdfs.Jar{ID: id, Name: "word count.jar", Size: int64(len(data)), Path: c.root + "/jars/" + id + ".jar",
		URI: c.fsURI + c.root + "/jars/" + id + ".jar", MainClass: "com.example.WordCount"}
	got := res.Jar
	if !res.Created || got.ModTime.Before(before) || got.ModTime.After(time.Now().Add(2*time.Second)) {
		t.Errorf("Put() created=%v modTime=%v", res.Created, got.ModTime)
	}
	got.ModTime = time.Time{}
	if got != want {
		t.Errorf("Put() jar = %+v\nwant %+v", got, want)
	}
	c.AssertStaged(t, id)

	// The content in HDFS is byte for byte what was sent, world-readable, in 0755 directories.
	stored, err := c.raw.ReadFile(res.Jar.Path)
	if err != nil || !bytes.Equal(stored, data) {
		t.Fatalf("stored content differs (%d vs %d bytes), err %v", len(stored), len(data), err)
	}
	for p, mode := range map[string]os.FileMode{res.Jar.Path: 0o644, c.root: 0o755, c.root + "/jars": 0o755} {
		fi, err := c.raw.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), mode)
		}
	}
	attrs, err := c.raw.ListXAttrs(res.Jar.Path)
	if err != nil || attrs["user.yarngate.name"] != "word count.jar" || attrs["user.yarngate.mainClass"] != "com.example.WordCount" {
		t.Errorf("xattrs = %v, %v", attrs, err)
	}

	// Same content again: the existing jar, untouched.
	again, err := c.store.Put(ctx, bytes.NewReader(data), "other-name.jar")
	if err != nil {
		t.Fatalf("second Put() error = %v", err)
	}
	if again.Created || again.Jar != res.Jar {
		t.Errorf("second Put() = %+v, want the existing %+v", again, res.Jar)
	}
	c.AssertStaged(t, id)

	if g, err := c.store.Get(ctx, id); err != nil || g != res.Jar {
		t.Errorf("Get() = %+v, %v", g, err)
	}
	list, err := c.store.List(ctx)
	if err != nil || len(list) != 1 || list[0] != res.Jar {
		t.Errorf("List() = %+v, %v", list, err)
	}
	if err := c.store.Delete(ctx, id); err != nil {
		t.Fatalf("Delete() error = %v", err)
	}
	if _, err := c.store.Get(ctx, id); !errors.Is(err, hdfs.ErrNotFound) {
		t.Errorf("Get() after Delete = %v, want ErrNotFound", err)
	}
	if err := c.store.Delete(ctx, id); !errors.Is(err, hdfs.ErrNotFound) {
		t.Errorf("second Delete() = %v, want ErrNotFound", err)
	}
	c.AssertStaged(t)
	if list, err := c.store.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List() after Delete = %+v, %v", list, err)
	}
}

func TestStoreRejectsBadInput(t *testing.T) {
	t.Parallel()
	c := newCluster(t, func(o *hdfs.Options) { o.MaxSize = 1 << 20 })
	valid := jartest.Bytes(t, jartest.Options{PayloadSize: 10_000, Seed: 2})
	tests := []struct {
		name    string
		body    []byte
		wantErr []error
	}{
		{name: "text file", body: []byte("hello, I am not a jar\n"), wantErr: []error{hdfs.ErrInvalidJar, jarfile.ErrNotZip}},
		{name: "truncated jar", body: valid[:len(valid)-100], wantErr: []error{hdfs.ErrInvalidJar, jarfile.ErrNotZip}},
		{name: "empty body", body: nil, wantErr: []error{hdfs.ErrInvalidJar, jarfile.ErrEmpty}},
		{name: "too large", body: jartest.Bytes(t, jartest.Options{PayloadSize: 2 << 20, Seed: 3}), wantErr: []error{hdfs.ErrTooLarge}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.store.Put(t.Context(), bytes.NewReader(tc.body), "x.jar")
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Put() error = %v, want %v", err, want)
				}
			}
			c.AssertStaged(t)
		})
	}
}

func TestStoreConcurrentSameContent(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	data := jartest.Bytes(t, jartest.Options{MainClass: "a.B", PayloadSize: 1 << 20, Seed: 4})
	const n = 8
	results := make([]hdfs.PutResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = c.store.Put(t.Context(), bytes.NewReader(data), "same.jar")
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Put #%d error = %v", i, errs[i])
		}
		if results[i].Created {
			created++
		}
		if results[i].Jar != results[0].Jar {
			t.Errorf("Put #%d returned %+v, #0 returned %+v", i, results[i].Jar, results[0].Jar)
		}
	}
	if created != 1 {
		t.Errorf("%d uploads report having created the jar, want exactly 1", created)
	}
	c.AssertStaged(t, sha(data))
}

func TestStoreCancelledUploadLeavesNothing(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	go func() {
		pw.Write(make([]byte, 500_000))
		cancel()
		// A real request body fails once its context is gone; the pipe does the same.
		<-ctx.Done()
		pw.CloseWithError(ctx.Err())
	}()
	_, err := c.store.Put(ctx, pr, "slow.jar")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put() error = %v, want context.Canceled", err)
	}
	c.AssertStaged(t)
}

func TestStoreWaitsForAClaim(t *testing.T) {
	t.Parallel()
	c := newCluster(t, func(o *hdfs.Options) { o.ClaimWait = 3 * time.Second })
	ctx := t.Context()
	data := jartest.Bytes(t, jartest.Options{PayloadSize: 5000, Seed: 5})
	id := sha(data)
	final := c.root + "/jars/" + id + ".jar"
	if err := c.raw.MkdirAll(c.root+"/jars", 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("claim that never completes", func(t *testing.T) {
		if err := c.raw.CreateEmptyFile(final); err != nil {
			t.Fatal(err)
		}
		if _, err := c.store.Get(ctx, id); !errors.Is(err, hdfs.ErrNotFound) {
			t.Errorf("Get() of a claimed name = %v, want ErrNotFound", err)
		}
		_, err := c.store.Put(ctx, bytes.NewReader(data), "x.jar")
		if !errors.Is(err, hdfs.ErrBusy) {
			t.Fatalf("Put() = %v, want ErrBusy", err)
		}
		if tmp := c.Names(t, "tmp"); len(tmp) != 0 {
			t.Errorf("tmp/ holds %v", tmp)
		}
	})

	t.Run("claim completed by its owner", func(t *testing.T) {
		// Play the winning upload: stage the same content elsewhere and rename it over the claim soon. The
		// store's writer closes as production does, retrying while the last block is not yet replicated.
		other := c.root + "/other.jar"
		w, err := c.store.Create(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(500 * time.Millisecond)
			c.raw.Rename(other, final)
		}()
		res, err := c.store.Put(ctx, bytes.NewReader(data), "x.jar")
		if err != nil || res.Created || res.Jar.Size != int64(len(data)) {
			t.Fatalf("Put() = %+v, %v; want the jar its owner staged", res, err)
		}
		c.AssertStaged(t, id)
	})
}

func TestStoreCleanTemp(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	ctx := t.Context()
	if err := c.store.Prepare(ctx); err != nil {
		t.Fatalf("Prepare() error = %v", err)
	}
	old := time.Now().Add(-48 * time.Hour)
	files := map[string]bool{ // path -> should survive
		"tmp/stale":                             false,
		"tmp/fresh":                             true,
		"jars/" + sha([]byte("claim")) + ".jar": false,
	}
	for p := range files {
		full := path.Join(c.root, p)
		if err := c.raw.CreateEmptyFile(full); err != nil {
			t.Fatal(err)
		}
		if p != "tmp/fresh" {
			if err := c.raw.Chtimes(full, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A real, old jar must survive: only empty claims are cleaned in jars/.
	data := jartest.Bytes(t, jartest.Options{Seed: 6})
	res, err := c.store.Put(ctx, bytes.NewReader(data), "keep.jar")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.raw.Chtimes(res.Jar.Path, old, old); err != nil {
		t.Fatal(err)
	}
	removed, err := c.store.CleanTemp(ctx, 24*time.Hour)
	if err != nil || removed != 2 {
		t.Fatalf("CleanTemp() = %d, %v; want 2 removed", removed, err)
	}
	for p, survive := range files {
		_, err := c.raw.Stat(path.Join(c.root, p))
		if exists := err == nil; exists != survive {
			t.Errorf("%s exists=%v, want %v", p, exists, survive)
		}
	}
	if _, err := c.store.Get(ctx, res.Jar.ID); err != nil {
		t.Errorf("old jar gone after CleanTemp: %v", err)
	}
}

func TestStorePing(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	if err := c.store.Ping(t.Context()); err != nil {
		t.Fatalf("Ping() = %v", err)
	}
}
