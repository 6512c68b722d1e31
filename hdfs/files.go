package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
	"github.com/yarngate/yarngate/jarfile"
)

// This file is the Store's general file access, used beside jar staging: uploading Flink distributions,
// writing per-application launch files, streaming staged jars out, and cleaning up. Every method takes a
// context for waiting on a pooled client; each HDFS call on the connection is bounded by IOTimeout.

// FileInfo is what the Store reports about a path.
type FileInfo struct {
	// Size is the length in bytes (0 for directories).
	Size int64
	// ModTime is the modification time exactly as the NameNode reports it (millisecond precision); a YARN
	// local resource for the file must carry ModTime.UnixMilli().
	ModTime time.Time
	// Mode holds the permission bits, fs.ModeDir for directories and fs.ModeSticky for the sticky bit.
	Mode fs.FileMode
	// Owner is the user the file belongs to.
	Owner string
}

// URI returns the fully qualified URI of an absolute path, such as hdfs://nn:8020/a/b.
func (s *Store) URI(name string) string { return s.opts.FSURI + name }

// FSURI returns the file system URI that qualifies paths, such as hdfs://nn:8020.
func (s *Store) FSURI() string { return s.opts.FSURI }

// stickyBit is the sticky bit as HDFS (and colinmarc, which passes modes through as numbers) spells it.
const stickyBit = 0o1000

// hdfsPerm is perm as the NameNode takes it: the permission bits and the sticky bit.
func hdfsPerm(perm fs.FileMode) fs.FileMode {
	p := perm & fs.ModePerm
	if perm&fs.ModeSticky != 0 {
		p |= stickyBit
	}
	return p
}

// modeOf is the mode of a file colinmarc reports: permission bits, fs.ModeDir and fs.ModeSticky.
func modeOf(fi os.FileInfo) fs.FileMode {
	m := fi.Mode() & (fs.ModePerm | fs.ModeDir)
	if fi.Mode()&stickyBit != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// owner is the owner of a file colinmarc reports.
func owner(fi os.FileInfo) string {
	if st, ok := fi.(*gohdfs.FileInfo); ok {
		return st.Owner()
	}
	return ""
}

// withClient runs fn with a pooled client (acting as the user ctx names, see AsUser), marking the client
// broken on transport errors.
func (s *Store) withClient(ctx context.Context, op, name string, fn func(c *gohdfs.Client) error) error {
	l, err := s.lease(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	defer l.release()
	err = fn(l.c)
	if errors.Is(err, ErrInvalidJar) { // the file's fault, not the connection's
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	if err := l.check(err); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	return nil
}

// Stat returns the status of a path; the error wraps fs.ErrNotExist when it does not exist.
func (s *Store) Stat(ctx context.Context, name string) (FileInfo, error) {
	if u, ok := s.webUser(ctx); ok {
		st, err := s.opts.ActAs.Stat(ctx, name, u)
		if err != nil {
			return FileInfo{}, fmt.Errorf("stat %s: %w", name, classifyWeb(err))
		}
		fi := FileInfo{Size: st.Length, ModTime: time.UnixMilli(st.ModificationTime), Mode: st.Mode(), Owner: st.Owner}
		if fi.Mode.IsDir() {
			fi.Size = 0
		}
		return fi, nil
	}
	var fi FileInfo
	err := s.withClient(ctx, "stat", name, func(c *gohdfs.Client) error {
		st, err := c.Stat(name)
		if err != nil {
			return err
		}
		fi = FileInfo{Size: st.Size(), ModTime: st.ModTime(), Mode: modeOf(st), Owner: owner(st)}
		if st.IsDir() {
			fi.Size = 0
		}
		return nil
	})
	return fi, err
}

// DirEntry is one entry of a directory listing.
type DirEntry struct {
	// Name is the entry's base name.
	Name string
	FileInfo
}

// ReadDir lists a directory; the error wraps fs.ErrNotExist when it does not exist.
func (s *Store) ReadDir(ctx context.Context, name string) ([]DirEntry, error) {
	var out []DirEntry
	err := s.withClient(ctx, "list", name, func(c *gohdfs.Client) error {
		infos, err := c.ReadDir(name)
		if err != nil {
			return err
		}
		out = make([]DirEntry, 0, len(infos))
		for _, st := range infos {
			e := DirEntry{Name: st.Name(), FileInfo: FileInfo{Size: st.Size(), ModTime: st.ModTime(),
				Mode: modeOf(st), Owner: owner(st)}}
			if st.IsDir() {
				e.Size = 0
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// MkdirAll creates a directory and its missing parents with perm (subject to the NameNode's umask for
// parents; the leaf gets perm).
func (s *Store) MkdirAll(ctx context.Context, name string, perm fs.FileMode) error {
	if u, ok := s.webUser(ctx); ok {
		if err := s.opts.ActAs.MkdirAll(ctx, name, perm, u); err != nil {
			return fmt.Errorf("mkdir %s: %w", name, classifyWeb(err))
		}
		return nil
	}
	return s.withClient(ctx, "mkdir", name, func(c *gohdfs.Client) error {
		if err := c.MkdirAll(name, hdfsPerm(perm)); err != nil {
			return err
		}
		return c.Chmod(name, hdfsPerm(perm))
	})
}

// Chmod sets the permission bits of a path.
func (s *Store) Chmod(ctx context.Context, name string, perm fs.FileMode) error {
	if u, ok := s.webUser(ctx); ok {
		if err := s.opts.ActAs.Chmod(ctx, name, perm, u); err != nil {
			return fmt.Errorf("chmod %s: %w", name, classifyWeb(err))
		}
		return nil
	}
	return s.withClient(ctx, "chmod", name, func(c *gohdfs.Client) error { return c.Chmod(name, hdfsPerm(perm)) })
}

// RemoveAll removes a path and everything below it; a missing path is not an error. Without a user in ctx
// (AsUser), a path another user owns is removed as that user when the Store can act for users.
func (s *Store) RemoveAll(ctx context.Context, name string) error {
	if !path.IsAbs(name) || path.Clean(name) == "/" {
		return fmt.Errorf("remove %q: refusing to remove a relative path or the root", name)
	}
	ctx, err := s.removeAsOwner(ctx, name)
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if u, ok := s.webUser(ctx); ok {
		if err := s.opts.ActAs.RemoveAll(ctx, name, u); err != nil {
			return fmt.Errorf("remove %s: %w", name, classifyWeb(err))
		}
		return nil
	}
	return s.withClient(ctx, "remove", name, func(c *gohdfs.Client) error {
		err := c.RemoveAll(name)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
}

// Rename moves oldName to newName and fails with an error wrapping fs.ErrExist when newName exists.
// HDFS itself refuses to replace a non-empty directory; for files the existence check and the rename are
// two calls, so callers that race on one name must claim it first (as jar staging does).
func (s *Store) Rename(ctx context.Context, oldName, newName string) error {
	return s.withClient(ctx, "rename", oldName, func(c *gohdfs.Client) error {
		if _, err := c.Stat(newName); err == nil {
			return fmt.Errorf("to %s: %w", newName, fs.ErrExist)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return c.Rename(oldName, newName)
	})
}

// Create creates or truncates a file (mode 0644 after the umask; its directory must exist) and returns a writer that holds a pooled
// client until Close. Close completes the file, retrying while the last block is still replicating; the
// data is durable once it returned nil. Each Write is bounded by IOTimeout or ctx's deadline.
func (s *Store) Create(ctx context.Context, name string) (io.WriteCloser, error) {
	if u, ok := s.webUser(ctx); ok {
		return &webWriter{s: s, ctx: ctx, name: name, user: u}, nil
	}
	l, err := s.lease(ctx)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	err = l.c.Remove(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		err = l.check(err)
		l.release()
		return nil, fmt.Errorf("create %s: replace: %w", name, err)
	}
	w, err := l.c.Create(name)
	if err != nil {
		err = l.check(err)
		l.release()
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return &fileWriter{s: s, ctx: ctx, l: l, w: w, name: name}, nil
}

// fileWriter is an HDFS file being written through a leased client.
type fileWriter struct {
	s    *Store
	ctx  context.Context
	l    *lease[*gohdfs.Client]
	w    *gohdfs.FileWriter
	name string
}

func (f *fileWriter) Write(p []byte) (int, error) {
	if f.w == nil {
		return 0, fmt.Errorf("write %s: %w", f.name, fs.ErrClosed)
	}
	if err := f.ctx.Err(); err != nil {
		return 0, fmt.Errorf("write %s: %w", f.name, err)
	}
	if err := f.w.SetDeadline(f.s.ioDeadline(f.ctx)); err != nil {
		return 0, fmt.Errorf("write %s: %w", f.name, err)
	}
	n, err := f.w.Write(p)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", f.name, f.l.check(err))
	}
	return n, nil
}

// Close completes the file and returns the client to the pool. A failed Close leaves the file
// incomplete; callers remove it.
func (f *fileWriter) Close() error {
	if f.w == nil {
		return nil
	}
	defer func() {
		f.w = nil
		f.l.release()
	}()
	err := retryReplicating(f.ctx, 25*time.Millisecond, func() error {
		if err := f.w.SetDeadline(f.s.ioDeadline(f.ctx)); err != nil {
			return err
		}
		return f.w.Close()
	})
	if err != nil {
		return fmt.Errorf("close %s: %w", f.name, f.l.check(err))
	}
	return nil
}

// Open returns a reader of a whole file. Reading blocks, it holds a pooled client until Close; reading
// through WebHDFS, it needs one only to open the file. Each Read is bounded by IOTimeout or ctx's deadline.
func (s *Store) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	l, err := s.lease(ctx)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	r, err := s.openContent(ctx, l, name)
	if err != nil {
		l.release()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	f := &fileReader{r: r, l: l, name: name}
	if _, web := r.(*webContent); web {
		l.release()
		f.l = nil
	}
	return f, nil
}

// File is a file open for reads at any offset (OpenFile).
type File interface {
	io.ReaderAt
	io.Closer
	// Size is the file's length when it was opened.
	Size() int64
}

// OpenFile opens a file for reads at any offset, such as the aggregated container logs the log routes read
// part by part. Like Open, it holds a pooled client until Close when it reads blocks; each ReadAt is bounded
// by IOTimeout or ctx's deadline, and ReadAts forward of the last one continue the same block read.
func (s *Store) OpenFile(ctx context.Context, name string) (File, error) {
	r, err := s.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return r.(*fileReader), nil
}

// fileReader is a file being read; l is the lease its content reads through, or nil.
type fileReader struct {
	r    fileContent
	l    *lease[*gohdfs.Client]
	name string
}

func (f *fileReader) Read(p []byte) (int, error) {
	if f.r == nil {
		return 0, fmt.Errorf("read %s: %w", f.name, fs.ErrClosed)
	}
	n, err := f.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("read %s: %w", f.name, err)
	}
	return n, err
}

// ReadAt reads len(p) bytes at off (io.ReaderAt).
func (f *fileReader) ReadAt(p []byte, off int64) (int, error) {
	if f.r == nil {
		return 0, fmt.Errorf("read %s: %w", f.name, fs.ErrClosed)
	}
	n, err := f.r.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("read %s at %d: %w", f.name, off, err)
	}
	return n, err
}

// Size is the file's length when it was opened.
func (f *fileReader) Size() int64 {
	if f.r == nil {
		return 0
	}
	return f.r.Stat().Size()
}

func (f *fileReader) Close() error {
	if f.r == nil {
		return nil
	}
	err := f.r.Close()
	f.r = nil
	if f.l != nil {
		f.l.release()
	}
	return err
}

// Inspect validates the jar at name (an absolute path) and reads its manifest without copying it: the zip
// directory and the manifest are read in place. The error wraps fs.ErrNotExist for a missing file and
// ErrInvalidJar for anything that is not a jar.
func (s *Store) Inspect(ctx context.Context, name string) (FileInfo, jarfile.Info, error) {
	var (
		fi   FileInfo
		info jarfile.Info
	)
	l, err := s.pool.get(ctx)
	if err != nil {
		return fi, info, fmt.Errorf("inspect %s: %w", name, err)
	}
	defer l.release()
	r, err := s.openContent(ctx, l, name)
	if err != nil {
		return fi, info, fmt.Errorf("inspect %s: %w", name, err)
	}
	defer r.Close()
	st := r.Stat()
	if st.IsDir() {
		return fi, info, fmt.Errorf("inspect %s: %w: a directory", name, ErrInvalidJar)
	}
	fi = FileInfo{Size: st.Size(), ModTime: st.ModTime(), Mode: st.Mode() & fs.ModePerm}
	info, err = jarfile.Inspect(r, st.Size())
	if errors.Is(err, jarfile.ErrInvalid) {
		err = fmt.Errorf("%w: %w", ErrInvalidJar, err)
	}
	if err != nil {
		return FileInfo{}, jarfile.Info{}, fmt.Errorf("inspect %s: %w", name, err)
	}
	return fi, info, nil
}
