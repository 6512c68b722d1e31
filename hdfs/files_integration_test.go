package hdfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/yarngate/yarngate/hdfs"
	"github.com/yarngate/yarngate/jarfile/jartest"
)

func TestFilesRoundTrip(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dir := path.Join(c.root, "files", "a")
	if err := c.store.MkdirAll(ctx, dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := c.store.Stat(ctx, dir)
	if err != nil || !st.Mode.IsDir() || st.Mode.Perm() != 0o755 {
		t.Fatalf("stat dir = %+v, %v", st, err)
	}

	name := path.Join(dir, "f.bin")
	data := bytes.Repeat([]byte("yarngate"), 300_000) // 2.4 MB: more than one packet
	for range 2 {                                     // the second round replaces the file
		w, err := c.store.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	st, err = c.store.Stat(ctx, name)
	if err != nil || st.Size != int64(len(data)) || st.Mode.IsDir() {
		t.Fatalf("stat file = %+v, %v", st, err)
	}
	raw, err := c.raw.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if st.ModTime.UnixMilli() != raw.ModTime().UnixMilli() {
		t.Errorf("mtime %d ms, NameNode says %d ms", st.ModTime.UnixMilli(), raw.ModTime().UnixMilli())
	}
	if got := c.store.URI(name); got != c.fsURI+name {
		t.Errorf("URI = %q", got)
	}

	r, err := c.store.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(data))
	}

	other := path.Join(dir, "g.bin")
	w, _ := c.store.Create(ctx, other)
	w.Close()
	if err := c.store.Rename(ctx, name, other); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("rename onto an existing file: %v, want fs.ErrExist", err)
	}
	moved := path.Join(dir, "h.bin")
	if err := c.store.Rename(ctx, name, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := c.store.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old name after rename: %v, want fs.ErrNotExist", err)
	}
	if err := c.store.Chmod(ctx, moved, 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.store.Stat(ctx, moved); st.Mode.Perm() != 0o600 {
		t.Errorf("mode after chmod = %v", st.Mode)
	}

	entries, err := c.store.ReadDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, fmt.Sprintf("%s:%d", e.Name, e.Size))
	}
	if got := strings.Join(names, ","); got != "g.bin:0,h.bin:"+fmt.Sprint(len(data)) {
		t.Errorf("ReadDir = %s", got)
	}
	if _, err := c.store.ReadDir(ctx, path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir of a missing directory: %v, want fs.ErrNotExist", err)
	}

	if err := c.store.RemoveAll(ctx, path.Join(c.root, "files")); err != nil {
		t.Fatal(err)
	}
	if err := c.store.RemoveAll(ctx, path.Join(c.root, "files")); err != nil {
		t.Fatalf("removing a missing path: %v", err)
	}
	if _, err := c.store.Stat(ctx, dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat after remove: %v", err)
	}
	if err := c.store.RemoveAll(ctx, "/"); err == nil {
		t.Fatal("RemoveAll(/) succeeded")
	}
}

func TestCreateHonoursCanceledContext(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	if err := c.store.MkdirAll(ctx, c.root, 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := c.store.Create(ctx, path.Join(c.root, "canceled"))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := w.Write([]byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("write after cancel: %v, want context.Canceled", err)
	}
	w.Close()
}

func TestInspect(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := c.store.MkdirAll(ctx, c.root, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := path.Join(c.root, name)
		w, err := c.store.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jar := write("good.jar", jartest.Bytes(t, jartest.Options{MainClass: "com.example.Main", PayloadSize: 4096}))
	fi, info, err := c.store.Inspect(ctx, jar)
	if err != nil || info.MainClass != "com.example.Main" || fi.Size == 0 {
		t.Fatalf("Inspect(good) = %+v, %+v, %v", fi, info, err)
	}
	text := write("text.jar", []byte("just text"))
	if _, _, err := c.store.Inspect(ctx, text); !errors.Is(err, hdfs.ErrInvalidJar) {
		t.Fatalf("Inspect(text) = %v, want ErrInvalidJar", err)
	}
	if _, _, err := c.store.Inspect(ctx, path.Join(c.root, "missing.jar")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Inspect(missing) = %v, want fs.ErrNotExist", err)
	}
	// The client survived the bad jar: the pool still works.
	if err := c.store.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFilesAsUser: files made for another user (AsUser) are that user's; in a world-writable directory with
// the sticky bit, the Store's own user (no HDFS superuser) cannot look into another user's 0700 directory, and
// RemoveAll removes it all the same, as its owner.
func TestFilesAsUser(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil)
	if !c.store.CanActAs() {
		t.Skip("the store cannot act for users on this cluster")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	shared := path.Join(c.root, "shared")
	if err := c.store.MkdirAll(ctx, shared, fs.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	if st, err := c.store.Stat(ctx, shared); err != nil || st.Mode != fs.ModeDir|fs.ModeSticky|0o777 {
		t.Fatalf("shared: %+v, %v", st, err)
	}
	alice := hdfs.AsUser(ctx, "alice")
	dir := path.Join(shared, "app")
	if err := c.store.MkdirAll(alice, dir, 0o700); err != nil {
		t.Fatal(err)
	}
	w, err := c.store.Create(alice, path.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("a: b\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := c.store.Stat(alice, path.Join(dir, "config.yaml")); err != nil || st.Owner != "alice" || st.Size != 5 {
		t.Fatalf("config.yaml as alice: %+v, %v", st, err)
	}
	if st, err := c.store.Stat(ctx, dir); err != nil || st.Owner != "alice" || st.Mode.Perm() != 0o700 {
		t.Fatalf("alice's directory: %+v, %v", st, err)
	}
	if _, err := c.store.Stat(ctx, path.Join(dir, "config.yaml")); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("the store's own user looks into alice's directory: %v", err)
	}
	if err := c.store.RemoveAll(ctx, dir); err != nil {
		t.Fatalf("remove alice's directory: %v", err)
	}
	if _, err := c.store.Stat(ctx, dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after removal: %v", err)
	}
}
