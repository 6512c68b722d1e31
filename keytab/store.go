package keytab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// FileSystem is what the store needs of HDFS. Paths are absolute; errors for missing paths wrap
// fs.ErrNotExist. app adapts *hdfs.Store to it.
type FileSystem interface {
	MkdirAll(ctx context.Context, name string, perm fs.FileMode) error
	Chmod(ctx context.Context, name string, perm fs.FileMode) error
	Create(ctx context.Context, name string) (io.WriteCloser, error)
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	RemoveAll(ctx context.Context, name string) error
	// ModTime is the modification time of a file.
	ModTime(ctx context.Context, name string) (time.Time, error)
	// Names lists the entries of a directory by name.
	Names(ctx context.Context, dir string) ([]string, error)
}

// VerifyFunc tries a login as principal with the keys of the keytab data, and says why it failed: an
// error wrapping ErrVerifyUnavailable when no KDC answered, else the KDC's refusal (whose PublicReason, if
// it has one, is shown to the client).
type VerifyFunc func(ctx context.Context, principal string, data []byte) error

// Options configure a Store.
type Options struct {
	// Files is HDFS. Required.
	Files FileSystem
	// Root is the absolute staging root; keytabs go to <Root>/keytabs. Required.
	Root string
	// Verify, when set, tries every uploaded keytab against the KDC before it is stored.
	Verify VerifyFunc
}

// Store keeps keytabs in HDFS. Safe for concurrent use; it holds no state of its own.
type Store struct {
	opts Options
	dir  string
}

// New returns a Store.
func New(opts Options) (*Store, error) {
	if opts.Files == nil || !path.IsAbs(opts.Root) {
		return nil, errors.New("keytab store: Files and an absolute Root are required")
	}
	return &Store{opts: opts, dir: path.Join(opts.Root, "keytabs")}, nil
}

// Dir is the directory the keytabs are kept in.
func (s *Store) Dir() string { return s.dir }

// ValidID reports whether id has the form of a keytab id.
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *Store) file(id string) string { return path.Join(s.dir, id+".keytab") }

// Add validates an uploaded keytab (at most MaxSize bytes from body), keeps the entries of principal (see
// Select), tries them against the KDC when Options.Verify is set, and stores them under a new id with owner,
// the user who uploaded it (required). Errors: ErrTooLarge, ErrInvalid and ErrRejected with a client-safe
// detail, ErrVerifyUnavailable, and HDFS's.
func (s *Store) Add(ctx context.Context, body io.Reader, principal, owner string) (Keytab, error) {
	hdr, err := encodeHeader(owner)
	if err != nil {
		return Keytab{}, fmt.Errorf("store keytab: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxSize+1))
	if err != nil {
		return Keytab{}, fmt.Errorf("read keytab: %w", err)
	}
	if len(data) > MaxSize {
		return Keytab{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxSize)
	}
	if len(data) == 0 {
		return Keytab{}, fmt.Errorf("%w: the body is empty", ErrInvalid)
	}
	kept, info, err := Select(data, principal)
	if err != nil {
		return Keytab{}, err
	}
	if s.opts.Verify != nil {
		if err := s.opts.Verify(ctx, info.Principal, kept); err != nil {
			if errors.Is(err, ErrVerifyUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return Keytab{}, fmt.Errorf("try keytab: %w", err)
			}
			return Keytab{}, fmt.Errorf("%w: %w", ErrRejected, err)
		}
	}
	b := make([]byte, 16)
	rand.Read(b)
	info.ID, info.Owner = hex.EncodeToString(b), owner
	// The directory is the guard: 0700, so nobody but the gateway's user (and HDFS superusers) reaches a
	// file in it even in the moment between its creation and its chmod to 0600.
	if err := s.opts.Files.MkdirAll(ctx, s.dir, 0o700); err != nil {
		return Keytab{}, fmt.Errorf("store keytab: %w", err)
	}
	name := s.file(info.ID)
	w, err := s.opts.Files.Create(ctx, name)
	if err != nil {
		return Keytab{}, fmt.Errorf("store keytab: %w", err)
	}
	err = s.opts.Files.Chmod(ctx, name, 0o600)
	if err == nil {
		_, err = w.Write(append(hdr, kept...))
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		info.Created, err = s.opts.Files.ModTime(ctx, name)
	}
	if err != nil {
		_ = s.opts.Files.RemoveAll(context.WithoutCancel(ctx), name)
		return Keytab{}, fmt.Errorf("store keytab: %w", err)
	}
	return info, nil
}

// Read returns a keytab's description and content (the keytab file as a cluster reads it, without the
// store's header), for a launch that ships it. Errors: ErrInvalidID, ErrNotFound, HDFS's.
func (s *Store) Read(ctx context.Context, id string) (Keytab, []byte, error) {
	if !ValidID(id) {
		return Keytab{}, nil, fmt.Errorf("read keytab: %w", ErrInvalidID)
	}
	name := s.file(id)
	r, err := s.opts.Files.Open(ctx, name)
	if err != nil {
		return Keytab{}, nil, fmt.Errorf("read keytab %s: %w", id, notFound(err))
	}
	stored, err := io.ReadAll(io.LimitReader(r, maxHeader+MaxSize+1))
	_ = r.Close()
	if err != nil {
		return Keytab{}, nil, fmt.Errorf("read keytab %s: %w", id, err)
	}
	owner, data, err := decodeHeader(stored)
	if err != nil {
		return Keytab{}, nil, fmt.Errorf("read keytab %s: stored file: %w", id, err)
	}
	info, err := describe(data)
	if err != nil {
		return Keytab{}, nil, fmt.Errorf("read keytab %s: stored file: %w", id, err)
	}
	info.ID, info.Owner = id, owner
	if info.Created, err = s.opts.Files.ModTime(ctx, name); err != nil {
		return Keytab{}, nil, fmt.Errorf("read keytab %s: %w", id, notFound(err))
	}
	return info, data, nil
}

// Get describes a keytab. Errors: ErrInvalidID, ErrNotFound, HDFS's.
func (s *Store) Get(ctx context.Context, id string) (Keytab, error) {
	info, data, err := s.Read(ctx, id)
	clear(data)
	return info, err
}

// List describes every keytab, newest first. It reads each one (a keytab is small).
func (s *Store) List(ctx context.Context) ([]Keytab, error) {
	names, err := s.opts.Files.Names(ctx, s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []Keytab{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list keytabs: %w", err)
	}
	out := []Keytab{}
	for _, n := range names {
		id, ok := strings.CutSuffix(n, ".keytab")
		if !ok || !ValidID(id) {
			continue
		}
		k, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list keytabs: %w", err)
		}
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Keytab) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Delete removes a keytab. Clusters launched with it keep their own copy (in their launch files) until
// they end. Errors: ErrInvalidID, ErrNotFound, HDFS's.
func (s *Store) Delete(ctx context.Context, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("delete keytab: %w", ErrInvalidID)
	}
	name := s.file(id)
	if _, err := s.opts.Files.ModTime(ctx, name); err != nil {
		return fmt.Errorf("delete keytab %s: %w", id, notFound(err))
	}
	if err := s.opts.Files.RemoveAll(ctx, name); err != nil {
		return fmt.Errorf("delete keytab %s: %w", id, err)
	}
	return nil
}

// notFound adds ErrNotFound to an error about a missing file.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// A stored file is a one-line header, then the keytab itself:
//
//	yarngate-keytab/1 {"owner":"alice"}\n<keytab file>
//
// The header says who uploaded the keytab; it travels with the keys in the same file, so there is no
// second file to keep in step, and a launch ships only what follows it. A file without the header (stored
// before keytabs had owners) has no owner: only administrators reach it.
const (
	headerMagic = "yarngate-keytab/1 "
	maxHeader   = 4 << 10
)

// header is what the header line holds after the magic.
type header struct {
	Owner string `json:"owner"`
}

func encodeHeader(owner string) ([]byte, error) {
	if owner == "" {
		return nil, errors.New("a keytab needs an owner")
	}
	b, err := json.Marshal(header{Owner: owner}) // escapes any newline: the header stays one line
	if err != nil {
		return nil, err
	}
	if len(headerMagic)+len(b)+1 > maxHeader {
		return nil, errors.New("owner name too long")
	}
	return append(append([]byte(headerMagic), b...), '\n'), nil
}

// decodeHeader splits a stored file into its owner ("" without a header) and the keytab.
func decodeHeader(stored []byte) (string, []byte, error) {
	rest, ok := bytes.CutPrefix(stored, []byte(headerMagic))
	if !ok {
		return "", stored, nil
	}
	line, data, ok := bytes.Cut(rest, []byte{'\n'})
	var h header
	if !ok || json.Unmarshal(line, &h) != nil {
		return "", nil, errors.New("unreadable header")
	}
	return h.Owner, data, nil
}
