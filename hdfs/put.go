package hdfs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"
	"unicode"

	gohdfs "github.com/colinmarc/hdfs/v2"
	"github.com/yarngate/yarngate/jarfile"
)

const (
	// copyBufSize is the size of each buffer an upload streams through.
	copyBufSize = 256 << 10
	// copyDepth is the number of buffers: how far reading may run ahead of writing.
	copyDepth = 4
	// maxCloseAttempts bounds the retries of Close while the NameNode reports ErrReplicating.
	maxCloseAttempts = 8
	// maxClaimAttempts bounds how often an upload tries to claim a final name that keeps changing hands.
	maxClaimAttempts = 3
)

// PutResult is the outcome of Put.
type PutResult struct {
	// Jar is the staged jar.
	Jar Jar
	// Created is true when this upload staged the jar, false when the same content was already staged
	// (the existing jar, with its original name and time, is returned).
	Created bool
}

// Put streams body into HDFS and stages it as a jar. name is the original file name; it is stored as
// metadata and never influences a path. Nothing is left in HDFS when Put fails: the temporary file is
// removed, also when ctx is cancelled halfway or body fails.
//
// Put runs on an HDFS client of the upload pool (Options.UploadSlots), never on one the rest of the Store
// uses, and waits at most Options.UploadWait for one. The client is returned when Put returns, so a body
// that fails (a sender too slow, cut off by the HTTP layer) frees its slot at once.
//
// Errors: ErrNoUploadSlot, ErrTooLarge, ErrInvalidJar (wrapping the jarfile reason), ErrUnavailable,
// ErrBusy, errors of body (wrapped), and ctx's error.
func (s *Store) Put(ctx context.Context, body io.Reader, name string) (PutResult, error) {
	l, err := s.uploadSlot(ctx)
	if err != nil {
		return PutResult{}, fmt.Errorf("stage jar: %w", err)
	}
	defer l.release()
	u := &upload{s: s, l: l, tmp: path.Join(s.tmpDir, randomName())}
	defer u.cleanup()
	res, err := u.run(ctx, body, storedName(name))
	if err != nil {
		return PutResult{}, fmt.Errorf("stage jar: %w", err)
	}
	return res, nil
}

// uploadSlot waits, at most UploadWait and while ctx lasts, for a client of the upload pool.
func (s *Store) uploadSlot(ctx context.Context) (*lease[*gohdfs.Client], error) {
	waitCtx, cancel := context.WithTimeout(ctx, s.opts.UploadWait)
	defer cancel()
	l, err := s.uploads.get(waitCtx)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w: all %d taken for %v", ErrNoUploadSlot, s.opts.UploadSlots, s.opts.UploadWait)
	}
	return l, err
}

// upload is the state of one Put.
type upload struct {
	s   *Store
	l   *lease[*gohdfs.Client]
	tmp string
	// w is the open writer of tmp, nil once closed.
	w *gohdfs.FileWriter
	// tmpExists says tmp must be removed by cleanup.
	tmpExists bool
}

func (u *upload) run(ctx context.Context, body io.Reader, name string) (PutResult, error) {
	if err := ctx.Err(); err != nil {
		return PutResult{}, err
	}
	c := u.l.c
	if err := u.l.check(c.MkdirAll(u.s.tmpDir, 0o755)); err != nil {
		return PutResult{}, fmt.Errorf("create %s: %w", u.s.tmpDir, err)
	}
	w, err := c.Create(u.tmp)
	if err = u.l.check(err); err != nil {
		return PutResult{}, fmt.Errorf("create %s: %w", u.tmp, err)
	}
	u.w, u.tmpExists = w, true

	sum, size, err := u.copy(ctx, body)
	if err != nil {
		return PutResult{}, err
	}
	if err := u.closeWriter(ctx); err != nil {
		return PutResult{}, err
	}
	info, err := u.inspect(ctx, size)
	if err != nil {
		return PutResult{}, err
	}
	for key, value := range map[string]string{xattrName: name, xattrMainClass: info.MainClass} {
		if value == "" {
			continue
		}
		if err := u.l.check(c.SetXAttr(u.tmp, key, value)); err != nil {
			return PutResult{}, fmt.Errorf("set %s on %s: %w", key, u.tmp, err)
		}
	}
	return u.commit(ctx, hex.EncodeToString(sum))
}

// copy streams body into the temporary file, hashing and counting, and stops at the size limit.
// Reading and hashing run in a goroutine of their own, a few buffers ahead of the HDFS write (checksums
// and socket writes), so that the two overlap; the goroutine has ended when copy returns.
func (u *upload) copy(ctx context.Context, body io.Reader) ([]byte, int64, error) {
	free := make(chan []byte, copyDepth)
	for range copyDepth {
		free <- make([]byte, copyBufSize)
	}
	chunks := make(chan []byte, copyDepth)
	stop := make(chan struct{})
	var ( // written by the reader, read after it ended
		sum     []byte
		total   int64
		readErr error
	)
	go func() {
		defer close(chunks)
		h := sha256.New()
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			k, err := fill(body, buf)
			if k > 0 {
				total += int64(k)
				if total > u.s.opts.MaxSize {
					readErr = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, u.s.opts.MaxSize)
					return
				}
				h.Write(buf[:k])
				select {
				case chunks <- buf[:k]:
				case <-stop:
					return
				}
			}
			if errors.Is(err, io.EOF) {
				sum = h.Sum(nil)
				return
			}
			if err != nil {
				readErr = fmt.Errorf("read upload body: %w", err)
				return
			}
		}
	}()

	var writeErr error
	for buf := range chunks {
		if writeErr == nil {
			writeErr = u.write(ctx, buf)
			if writeErr != nil {
				close(stop)
			}
		}
		free <- buf[:cap(buf)] // never blocks: there are only copyDepth buffers
	}
	// chunks is closed: the reader has returned. A read error comes first: a failed write stops the reader
	// without one, so the body failed on its own (stalled, too slow, cut off), and the HTTP server cancels
	// the request's context when a body read fails, which the writer may have run into since.
	if readErr != nil {
		return nil, total, readErr
	}
	if writeErr != nil {
		return nil, total, writeErr
	}
	return sum, total, nil
}

// write writes one chunk to the temporary file under a fresh deadline.
func (u *upload) write(ctx context.Context, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := u.w.SetDeadline(u.s.ioDeadline(ctx)); err != nil {
		return u.l.check(fmt.Errorf("write %s: %w", u.tmp, err))
	}
	if _, err := u.w.Write(b); err != nil {
		return u.l.check(fmt.Errorf("write %s: %w", u.tmp, err))
	}
	return nil
}

// fill reads into buf until it is full or r fails (io.EOF included).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// closeWriter completes the temporary file, retrying while the NameNode answers that the last block is
// not yet minimally replicated.
func (u *upload) closeWriter(ctx context.Context) error {
	err := retryReplicating(ctx, 25*time.Millisecond, func() error {
		if err := u.w.SetDeadline(u.s.ioDeadline(ctx)); err != nil {
			return err
		}
		return u.w.Close()
	})
	var still *errStillReplicating
	switch {
	case err == nil:
		u.w = nil
		return nil
	case errors.As(err, &still):
		return fmt.Errorf("close %s: %w: %w", u.tmp, ErrUnavailable, err)
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return err
	default:
		u.w = nil // its state is unknown; cleanup only removes the file
		return u.l.check(fmt.Errorf("close %s: %w", u.tmp, err))
	}
}

// errStillReplicating wraps the last ErrReplicating answer once the attempts are used up.
type errStillReplicating struct{ last error }

func (e *errStillReplicating) Error() string {
	return fmt.Sprintf("still replicating after %d attempts: %v", maxCloseAttempts, e.last)
}
func (e *errStillReplicating) Unwrap() error { return e.last }

// retryReplicating calls closeFn until it succeeds or fails with anything but ErrReplicating, at most
// maxCloseAttempts times, waiting first backoff and then twice as long each time (capped at 2s), as the
// Java client does. Used up attempts give an *errStillReplicating; ctx ending gives ctx's error.
func retryReplicating(ctx context.Context, backoff time.Duration, closeFn func() error) error {
	for attempt := 1; ; attempt++ {
		err := closeFn()
		if err == nil || !gohdfs.IsErrReplicating(err) {
			return err
		}
		if attempt == maxCloseAttempts {
			return &errStillReplicating{last: err}
		}
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// inspect reads the temporary file back from HDFS (openContent: blocks, or WebHDFS) and validates it as a
// jar.
func (u *upload) inspect(ctx context.Context, size int64) (jarfile.Info, error) {
	if size == 0 {
		return jarfile.Info{}, fmt.Errorf("%w: %w", ErrInvalidJar, jarfile.ErrEmpty)
	}
	r, err := u.s.openContent(ctx, u.l, u.tmp)
	if err != nil {
		return jarfile.Info{}, fmt.Errorf("open %s: %w", u.tmp, err)
	}
	defer r.Close()
	if got := r.Stat().Size(); got != size {
		return jarfile.Info{}, fmt.Errorf("%w: %s has %d bytes, %d were written", ErrUnavailable, u.tmp, got, size)
	}
	info, err := jarfile.Inspect(r, size)
	if errors.Is(err, jarfile.ErrInvalid) {
		return jarfile.Info{}, fmt.Errorf("%w: %w", ErrInvalidJar, err)
	}
	if err != nil {
		return jarfile.Info{}, fmt.Errorf("read back %s: %w", u.tmp, err)
	}
	return info, nil
}

// commit moves the validated temporary file to jars/<id>.jar unless that jar exists. See the package
// documentation for why it claims the name with an exclusive create first.
func (u *upload) commit(ctx context.Context, id string) (PutResult, error) {
	c := u.l.c
	final := u.s.jarPath(id)
	if err := u.l.check(c.MkdirAll(u.s.jarsDir, 0o755)); err != nil {
		return PutResult{}, fmt.Errorf("create %s: %w", u.s.jarsDir, err)
	}
	for range maxClaimAttempts {
		if err := ctx.Err(); err != nil {
			return PutResult{}, err
		}
		jar, err := u.s.readJar(u.l, id)
		if errors.Is(err, errClaimed) {
			jar, err = u.s.waitForClaim(ctx, u.l, id)
		}
		switch {
		case err == nil:
			return PutResult{Jar: jar}, nil
		case errors.Is(err, ErrNotFound):
		default:
			return PutResult{}, err
		}
		err = c.CreateEmptyFile(final)
		if errors.Is(err, os.ErrExist) {
			continue // another upload claimed it first
		}
		if err = u.l.check(err); err != nil {
			return PutResult{}, fmt.Errorf("claim %s: %w", final, err)
		}
		if err := c.Rename(u.tmp, final); err != nil {
			return u.renameFailed(final, id, u.l.check(err))
		}
		u.tmpExists = false
		jar, err = u.s.readJar(u.l, id)
		if err != nil {
			return PutResult{}, fmt.Errorf("stat staged jar: %w", err)
		}
		return PutResult{Jar: jar, Created: true}, nil
	}
	return PutResult{}, fmt.Errorf("%w: %s changed hands %d times", ErrBusy, final, maxClaimAttempts)
}

// renameFailed handles a failed rename over our own claim. The NameNode may have carried it out although
// the answer was lost; then the jar is staged. Otherwise the claim is released.
func (u *upload) renameFailed(final, id string, cause error) (PutResult, error) {
	u.l.renew()
	if jar, err := u.s.readJar(u.l, id); err == nil {
		if _, err := u.l.c.Stat(u.tmp); errors.Is(err, os.ErrNotExist) {
			u.tmpExists = false
			return PutResult{Jar: jar, Created: true}, nil
		}
	}
	if fi, err := u.l.c.Stat(final); err == nil && fi.Size() == 0 {
		if err := u.l.c.Remove(final); err != nil {
			u.s.opts.Logger.Warn("could not release claim on staged jar name", "path", final, "error", err)
		}
	}
	return PutResult{}, fmt.Errorf("rename %s to %s: %w", u.tmp, final, cause)
}

// cleanup closes a writer still open and removes the temporary file unless it was committed. It uses no
// context: it must run even when the request's context is gone, and every HDFS call is bounded by the
// connection deadlines.
func (u *upload) cleanup() {
	if u.w != nil {
		u.w.SetDeadline(time.Now().Add(u.s.opts.IOTimeout))
		if err := u.w.Close(); err != nil && !gohdfs.IsErrReplicating(err) {
			u.l.check(err)
		}
		u.w = nil
	}
	if !u.tmpExists {
		return
	}
	u.l.renew()
	if err := u.l.c.Remove(u.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		u.l.check(err)
		u.s.opts.Logger.Warn("could not remove temporary upload; start-up clean-up will", "path", u.tmp, "error", err)
		return
	}
	u.tmpExists = false
}

// renew replaces a broken client by a fresh one, so that clean-up can still reach the NameNode.
func (l *lease[C]) renew() {
	if !l.broken {
		return
	}
	c, err := l.p.dial()
	if err != nil {
		return
	}
	l.c.Close()
	l.c, l.broken = c, false
}

// storedName makes name safe to keep as an xattr: valid UTF-8 without control characters, bounded.
func storedName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	if len(name) > maxNameLen {
		// Cutting may split a character; ToValidUTF8 drops the remains.
		name = strings.ToValidUTF8(name[:maxNameLen], "")
	}
	return name
}

// randomName returns a fresh temporary file name (128 random bits, base32).
func randomName() string {
	return rand.Text()
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
