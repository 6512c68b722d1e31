package flink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
)

// memFS is an in-memory FileSystem with HDFS-like semantics: modification times in ms that
// change on every write, Rename failing onto an existing path.
type memFS struct {
	mu    sync.Mutex
	clock int64
	files map[string]*memFile
	// calls counts operations by name.
	calls map[string]int
}

type memFile struct {
	data  []byte
	mode  fs.FileMode
	mtime int64
}

func newMemFS() *memFS {
	return &memFS{clock: 1700000000000, files: map[string]*memFile{"/": {mode: fs.ModeDir | 0o755}}, calls: map[string]int{}}
}

func (m *memFS) tick() int64 { m.clock += 7; return m.clock }

func (m *memFS) Stat(_ context.Context, name string) (FileStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["Stat"]++
	f, ok := m.files[path.Clean(name)]
	if !ok {
		return FileStatus{}, fmt.Errorf("stat %s: %w", name, fs.ErrNotExist)
	}
	return FileStatus{Size: int64(len(f.data)), ModTime: f.mtime, Mode: f.mode}, nil
}

func (m *memFS) MkdirAll(_ context.Context, name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["MkdirAll"]++
	for p := path.Clean(name); ; p = path.Dir(p) {
		if f, ok := m.files[p]; ok {
			if !f.mode.IsDir() {
				return fmt.Errorf("mkdir %s: %s is a file", name, p)
			}
		} else {
			m.files[p] = &memFile{mode: fs.ModeDir | perm, mtime: m.tick()}
		}
		if p == "/" {
			return nil
		}
	}
}

type memWriter struct {
	m    *memFS
	name string
	buf  bytes.Buffer
}

func (w *memWriter) Write(b []byte) (int, error) { return w.buf.Write(b) }
func (w *memWriter) Close() error {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	w.m.files[w.name] = &memFile{data: w.buf.Bytes(), mode: 0o600, mtime: w.m.tick()}
	return nil
}

func (m *memFS) Create(_ context.Context, name string) (io.WriteCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["Create"]++
	if d, ok := m.files[path.Dir(path.Clean(name))]; !ok || !d.mode.IsDir() {
		return nil, fmt.Errorf("create %s: parent: %w", name, fs.ErrNotExist)
	}
	return &memWriter{m: m, name: path.Clean(name)}, nil
}

func (m *memFS) Rename(_ context.Context, oldName, newName string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["Rename"]++
	oldName, newName = path.Clean(oldName), path.Clean(newName)
	if _, ok := m.files[newName]; ok {
		return fmt.Errorf("rename: %s: %w", newName, fs.ErrExist)
	}
	for p, f := range m.files {
		if p == oldName || strings.HasPrefix(p, oldName+"/") {
			delete(m.files, p)
			m.files[newName+strings.TrimPrefix(p, oldName)] = f
		}
	}
	return nil
}

func (m *memFS) Chmod(_ context.Context, name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["Chmod"]++
	f, ok := m.files[path.Clean(name)]
	if !ok {
		return fmt.Errorf("chmod %s: %w", name, fs.ErrNotExist)
	}
	f.mode = f.mode&fs.ModeDir | perm
	return nil
}

func (m *memFS) RemoveAll(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["RemoveAll"]++
	name = path.Clean(name)
	for p := range m.files {
		if p == name || strings.HasPrefix(p, name+"/") {
			delete(m.files, p)
		}
	}
	return nil
}

// paths lists every path below dir, sorted.
func (m *memFS) paths(dir string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for p := range m.files {
		if strings.HasPrefix(p, dir+"/") {
			out = append(out, strings.TrimPrefix(p, dir+"/"))
		}
	}
	sort.Strings(out)
	return out
}
