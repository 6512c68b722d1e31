// Package jarfile checks that a blob is a Java archive (jar) a JVM can open and reads what yarngate needs
// from it: the manifest's Main-Class.
//
// A jar is a zip file. Inspect accepts it when the end-of-central-directory record and the whole central
// directory are readable by archive/zip and the archive has at least one entry; it then reads
// META-INF/MANIFEST.MF, if present, with a bound on its size. Only the end of the archive and the manifest are
// read, so a multi-gigabyte jar costs a few small reads, which matters because the reader is usually a file in
// HDFS.
//
// Failures that mean "this is not a usable jar" are reported with the sentinel errors below (test with
// errors.Is); I/O errors of the underlying reader are returned wrapped, never disguised as a format error, so
// callers can tell a bad upload from an unreachable file system.
//
// Dependency rule: jarfile is a leaf package; it imports only the standard library and is used by the
// storage client (package hdfs) and tests.
package jarfile

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits applied by Inspect.
const (
	// MaxManifestSize is the largest manifest, uncompressed, that Inspect reads.
	MaxManifestSize = 1 << 20
	// MaxEntries is the largest number of central directory entries Inspect accepts. It bounds the memory
	// archive/zip needs to index the archive; real job jars, shaded dependencies included, stay far below.
	MaxEntries = 1 << 18
)

// ManifestName is the path of the manifest inside a jar.
const ManifestName = "META-INF/MANIFEST.MF"

// ErrInvalid is matched (errors.Is) by every error that means the content is not a usable jar; each
// sentinel below is a more specific reason.
var ErrInvalid = errors.New("not a usable jar")

// invalidError is a reason why content is not a usable jar; it matches ErrInvalid.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// Sentinel errors returned by Inspect when the content is not a usable jar. All of them match ErrInvalid.
var (
	// ErrEmpty means the content has no bytes at all.
	ErrEmpty error = &invalidError{"jar is empty"}
	// ErrNotZip means the content is not a well-formed zip archive: no end-of-central-directory record,
	// or a central directory that cannot be read (for example because the file is truncated).
	ErrNotZip error = &invalidError{"not a zip archive"}
	// ErrNoEntries means the zip archive is well formed but contains no entries.
	ErrNoEntries error = &invalidError{"zip archive has no entries"}
	// ErrTooManyEntries means the central directory announces more than MaxEntries entries.
	ErrTooManyEntries error = &invalidError{"zip archive has too many entries"}
	// ErrManifestTooLarge means META-INF/MANIFEST.MF is larger than MaxManifestSize.
	ErrManifestTooLarge error = &invalidError{"manifest is too large"}
	// ErrBadManifest means META-INF/MANIFEST.MF cannot be decompressed or parsed, or its Main-Class is not
	// a Java class name.
	ErrBadManifest error = &invalidError{"malformed manifest"}
)

// Info is what Inspect learned about a jar.
type Info struct {
	// Entries is the number of entries in the central directory.
	Entries int
	// HasManifest reports whether META-INF/MANIFEST.MF exists.
	HasManifest bool
	// MainClass is the Main-Class attribute of the manifest's main section, or "" when there is none.
	MainClass string
}

// Inspect validates the jar of the given size readable from r and returns its Info.
//
// Errors match ErrInvalid, and one of the more specific sentinel errors, when the content is not a usable
// jar; when reading failed they wrap the reader's own error (with "read jar") and do not match ErrInvalid.
func Inspect(r io.ReaderAt, size int64) (Info, error) {
	if size <= 0 {
		return Info{}, ErrEmpty
	}
	rec := &recordingReaderAt{r: r, size: size}
	info, err := inspect(rec, size)
	if rec.err != nil {
		// Whatever archive/zip concluded, it concluded it from a failed read.
		return Info{}, fmt.Errorf("read jar: %w", rec.err)
	}
	return info, err
}

func inspect(r io.ReaderAt, size int64) (Info, error) {
	entries, err := directoryEntries(r, size)
	if err != nil {
		return Info{}, err
	}
	if entries > MaxEntries {
		return Info{}, fmt.Errorf("%w: %d, the limit is %d", ErrTooManyEntries, entries, MaxEntries)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		// ErrInsecurePath only concerns extracting entries to a file system, which never happens here.
		return Info{}, fmt.Errorf("%w: %w", ErrNotZip, err)
	}
	if len(zr.File) == 0 {
		return Info{}, ErrNoEntries
	}
	// The central directory may be intact while the entries it points at are gone (data cut from the front);
	// reading the first local header catches that for the price of one small read.
	if _, err := zr.File[0].DataOffset(); err != nil {
		return Info{}, fmt.Errorf("%w: first entry: %w", ErrNotZip, err)
	}
	info := Info{Entries: len(zr.File)}
	f := findManifest(zr.File)
	if f == nil {
		return info, nil
	}
	info.HasManifest = true
	raw, err := readManifest(f)
	if err != nil {
		return Info{}, err
	}
	info.MainClass, err = parseMainClass(raw)
	if err != nil {
		return Info{}, err
	}
	return info, nil
}

// findManifest returns the manifest entry: the exact name first, then a case-insensitive match, as
// java.util.jar.JarFile does.
func findManifest(files []*zip.File) *zip.File {
	var folded *zip.File
	for _, f := range files {
		if f.Name == ManifestName {
			return f
		}
		if folded == nil && strings.EqualFold(f.Name, ManifestName) {
			folded = f
		}
	}
	return folded
}

func readManifest(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrManifestTooLarge, f.UncompressedSize64, MaxManifestSize)
	}
	rc, err := f.Open()
	if errors.Is(err, zip.ErrAlgorithm) {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if err != nil {
		// The local header is missing or points outside the file: the archive itself is broken.
		return nil, fmt.Errorf("%w: open manifest: %w", ErrNotZip, err)
	}
	defer rc.Close()
	// The size in the header is not trusted: the limit applies to what decompression yields.
	raw, err := io.ReadAll(io.LimitReader(rc, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrBadManifest, err)
	}
	if len(raw) > MaxManifestSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrManifestTooLarge, MaxManifestSize)
	}
	return raw, nil
}

// errOutOfRange answers reads that offsets in a corrupt archive send outside the file.
var errOutOfRange = errors.New("offset outside the archive")

// recordingReaderAt remembers the first error of the underlying reader other than io.EOF, so that Inspect can
// report I/O failures as such. Reads outside [0, size) come from offsets in a corrupt archive; they fail
// without touching the underlying reader and are not recorded.
type recordingReaderAt struct {
	r    io.ReaderAt
	size int64
	err  error
}

func (x *recordingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errOutOfRange
	}
	if off >= x.size {
		return 0, io.EOF
	}
	if int64(len(p)) > x.size-off {
		p = p[:x.size-off]
		n, err := x.r.ReadAt(p, off)
		if err == nil || errors.Is(err, io.EOF) {
			return n, io.EOF
		}
		x.record(err)
		return n, err
	}
	n, err := x.r.ReadAt(p, off)
	x.record(err)
	return n, err
}

func (x *recordingReaderAt) record(err error) {
	if err != nil && !errors.Is(err, io.EOF) && x.err == nil {
		x.err = err
	}
}
