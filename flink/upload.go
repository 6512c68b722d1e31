package flink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// FileSystem is the file system access this package needs (HDFS in production). Paths are absolute
// slash-separated paths inside the file system, without scheme or authority.
type FileSystem interface {
	// Stat returns the file's status, or an error wrapping fs.ErrNotExist.
	Stat(ctx context.Context, name string) (FileStatus, error)
	// MkdirAll creates a directory and its missing parents with perm.
	MkdirAll(ctx context.Context, name string, perm fs.FileMode) error
	// Create creates or truncates a file; the data is durable once Close returned nil.
	Create(ctx context.Context, name string) (io.WriteCloser, error)
	// Rename moves a file or directory; it fails when newName exists.
	Rename(ctx context.Context, oldName, newName string) error
	// Chmod sets the permission bits.
	Chmod(ctx context.Context, name string, perm fs.FileMode) error
	// RemoveAll removes a path and everything below it; a missing path is not an error.
	RemoveAll(ctx context.Context, name string) error
}

// FileStatus is what YARN needs to know about a remote file.
type FileStatus struct {
	// Size is the length in bytes.
	Size int64
	// ModTime is the modification time in milliseconds since the epoch, exactly as the file
	// system reports it (YARN compares it to the local resource timestamp).
	ModTime int64
	// Mode holds the permission bits and fs.ModeDir for directories.
	Mode fs.FileMode
}

// RemoteFile is a file in the file system with the coordinates a YARN local resource needs.
type RemoteFile struct {
	// Key is the link name in the container working directory, such as lib/flink-dist-1.20.3.jar.
	Key string
	// URI is the fully qualified location, such as hdfs://nn:8020/yarngate/flink/1.20.3-ab12/lib/x.jar.
	URI string
	// Size is the length in bytes.
	Size int64
	// ModTime is the modification time in ms, as the file system reports it.
	ModTime int64
}

// ProvidedLibs is an uploaded distribution, used like Flink's yarn.provided.lib.dirs: every file is a
// PUBLIC local resource shared by all launches.
type ProvidedLibs struct {
	// Version is the distribution's Flink version.
	Version Version
	// Dir is the fully qualified upload directory.
	Dir string
	// Files are lib/..., plugins/... keyed relative to Dir (as registerProvidedLocalResources keys
	// them, relative to the parent of lib/ and plugins/), sorted by key.
	Files []RemoteFile
	// DistJar is the flink-dist jar among Files.
	DistJar RemoteFile
	// LogConfig is the uploaded log4j.properties or logback.xml keyed by its bare name; empty Key
	// when the distribution has none.
	LogConfig RemoteFile
}

// UploadOptions say where distributions go.
type UploadOptions struct {
	// FSURI is the scheme and authority that qualify paths, such as hdfs://nn:8020.
	FSURI string
	// Root is the directory that holds one directory per distribution, such as /yarngate/flink.
	// It and its ancestors must be world-executable for PUBLIC localization.
	Root string
}

// completeMarker is written last into an upload; its presence means the upload is whole.
const completeMarker = "_UPLOADED"

// UploadDist makes sure the distribution's lib/, plugins/ and log configuration are in
// <Root>/<version>-<digest> and returns their coordinates. A finished upload (marked complete) is
// reused; otherwise the files are written to a temporary sibling directory, made world-readable
// (0644 files, 0755 directories) and renamed into place, so that concurrent gateways never see half
// an upload. Calling it again costs one Stat per file.
func UploadDist(ctx context.Context, fsys FileSystem, d *Dist, opts UploadOptions) (*ProvidedLibs, error) {
	if !strings.HasPrefix(opts.Root, "/") || opts.FSURI == "" {
		return nil, fmt.Errorf("upload flink %s: need an absolute root and a file system URI", d.Version)
	}
	final, err := d.UploadDir(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("upload flink %s: %w", d.Version, err)
	}
	if _, err := fsys.Stat(ctx, path.Join(final, completeMarker)); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("upload flink %s: stat %s: %w", d.Version, final, err)
		}
		if err := upload(ctx, fsys, d, opts.Root, final); err != nil {
			return nil, fmt.Errorf("upload flink %s to %s: %w", d.Version, final, err)
		}
	}
	if err := checkPublicPath(ctx, fsys, final); err != nil {
		return nil, fmt.Errorf("upload flink %s: %w", d.Version, err)
	}
	libs, err := describe(ctx, fsys, d, strings.TrimRight(opts.FSURI, "/"), final)
	if err != nil {
		return nil, fmt.Errorf("upload flink %s: %w", d.Version, err)
	}
	return libs, nil
}

// UploadDir returns the directory under root that UploadDist uses for this distribution,
// <root>/<version>-<first 16 hex digits of Digest>, which holds lib/, plugins/ and conf/.
func (d *Dist) UploadDir(root string) (string, error) {
	digest, err := d.Digest()
	if err != nil {
		return "", err
	}
	return path.Join(root, d.Version.Raw+"-"+digest[:16]), nil
}

func upload(ctx context.Context, fsys FileSystem, d *Dist, root, final string) error {
	if err := fsys.MkdirAll(ctx, root, 0o755); err != nil {
		return fmt.Errorf("create root: %w", err)
	}
	rnd := make([]byte, 6)
	if _, err := rand.Read(rnd); err != nil {
		return err
	}
	tmp := path.Join(root, ".tmp-"+path.Base(final)+"-"+hex.EncodeToString(rnd))
	defer func() { _ = fsys.RemoveAll(context.WithoutCancel(ctx), tmp) }()
	dirs := map[string]bool{}
	for _, rel := range d.Files {
		dst := path.Join(tmp, rel)
		for dir := path.Dir(dst); dir != root && !dirs[dir]; dir = path.Dir(dir) {
			dirs[dir] = true
		}
		if err := fsys.MkdirAll(ctx, path.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("create directory of %s: %w", rel, err)
		}
		if err := copyFile(ctx, fsys, filepath.Join(d.Home, filepath.FromSlash(rel)), dst); err != nil {
			return fmt.Errorf("copy %s: %w", rel, err)
		}
		if err := fsys.Chmod(ctx, dst, 0o644); err != nil {
			return fmt.Errorf("chmod %s: %w", rel, err)
		}
	}
	for dir := range dirs {
		if err := fsys.Chmod(ctx, dir, 0o755); err != nil {
			return fmt.Errorf("chmod %s: %w", dir, err)
		}
	}
	w, err := fsys.Create(ctx, path.Join(tmp, completeMarker))
	if err != nil {
		return fmt.Errorf("write marker: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write marker: %w", err)
	}
	if err := fsys.Rename(ctx, tmp, final); err != nil {
		// Another gateway may have finished the same upload first.
		if _, serr := fsys.Stat(ctx, path.Join(final, completeMarker)); serr == nil {
			return nil
		}
		return fmt.Errorf("rename into place: %w", err)
	}
	return nil
}

func copyFile(ctx context.Context, fsys FileSystem, src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := fsys.Create(ctx, dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// checkPublicPath verifies that dir and every ancestor are world-executable, which the NodeManager
// requires for PUBLIC resources (FSDownload.isPublic / ancestorsHaveExecutePermissions).
func checkPublicPath(ctx context.Context, fsys FileSystem, dir string) error {
	for p := dir; ; p = path.Dir(p) {
		st, err := fsys.Stat(ctx, p)
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if st.Mode.Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not world-executable (mode %v); YARN cannot localize PUBLIC resources below it", p, st.Mode.Perm())
		}
		if p == "/" {
			return nil
		}
	}
}

// describe stats every uploaded file for its exact size and modification time.
func describe(ctx context.Context, fsys FileSystem, d *Dist, fsURI, dir string) (*ProvidedLibs, error) {
	libs := &ProvidedLibs{Version: d.Version, Dir: fsURI + dir}
	for _, rel := range d.Files {
		p := path.Join(dir, rel)
		st, err := fsys.Stat(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", p, err)
		}
		if st.Mode.Perm()&0o004 == 0 {
			return nil, fmt.Errorf("%s is not world-readable (mode %v)", p, st.Mode.Perm())
		}
		rf := RemoteFile{Key: rel, URI: fsURI + p, Size: st.Size, ModTime: st.ModTime}
		if strings.HasPrefix(rel, "conf/") {
			rf.Key = path.Base(rel)
			libs.LogConfig = rf
			continue
		}
		if rel == d.DistJar {
			libs.DistJar = rf
		}
		libs.Files = append(libs.Files, rf)
	}
	if libs.DistJar.Key == "" {
		return nil, errors.New("no flink-dist jar among the uploaded files")
	}
	return libs, nil
}
