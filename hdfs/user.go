package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	gohdfs "github.com/colinmarc/hdfs/v2"
)

// This file is the Store acting for another user: launch files written as the user a job runs as, and
// removed as whoever owns them. With simple authentication the NameNode believes the user a client names,
// so a client dialled with ClientOptions.User set to the user acts as that user. Such clients come from a
// small pool of their own (Options.UserSlots), keyed by user: an idle client of another user is closed
// rather than reused, so the pool never holds more than UserSlots connections whatever the number of users.
// colinmarc cannot impersonate under Kerberos (it has no proxy-user support): there the operations for
// another user go through WebHDFS with doas=<user> (Options.ActAs; the gateway's principal must be a proxy
// user on the NameNode), and without that client CanActAs is false and they fail with ErrImpersonation.

// ErrImpersonation means the Store cannot act as another user (a Kerberized cluster).
var ErrImpersonation = errors.New("hdfs: cannot act as another user")

type userKey struct{}

// AsUser returns a context under which the Store's file operations (Stat, MkdirAll, Chmod, Create, Open,
// RemoveAll, ReadDir, Rename) act as user; "" or the Store's own user is the Store itself. On a Kerberized
// cluster only Stat, MkdirAll, Chmod, Create and RemoveAll can act for another user (through WebHDFS).
func AsUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// UserFrom returns the user ctx names (AsUser), "" for none.
func UserFrom(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// CanActAs reports whether the Store can act as users other than its own: with simple authentication, or
// with a WebHDFS client to act through (Options.ActAs).
func (s *Store) CanActAs() bool { return s.opts.Kerberos == nil || s.opts.ActAs != nil }

// webUser returns the user ctx names when the Store acts for that user through WebHDFS (Kerberos).
func (s *Store) webUser(ctx context.Context) (string, bool) {
	u := UserFrom(ctx)
	if u == "" || u == s.opts.User || s.opts.Kerberos == nil || s.opts.ActAs == nil {
		return "", false
	}
	return u, true
}

// maxActAsFile bounds a file written for another user through WebHDFS (sent whole on Close): launch files
// are small.
const maxActAsFile = 16 << 20

// webWriter collects a file written for another user and sends it through WebHDFS on Close.
type webWriter struct {
	s    *Store
	ctx  context.Context
	name string
	user string
	buf  []byte
	done bool
}

func (w *webWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("write %s: %w", w.name, fs.ErrClosed)
	}
	if len(w.buf)+len(p) > maxActAsFile {
		return 0, fmt.Errorf("write %s: more than %d bytes for another user", w.name, maxActAsFile)
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *webWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	if err := w.s.opts.ActAs.WriteFile(w.ctx, w.name, w.buf, w.user); err != nil {
		return classifyWeb(err)
	}
	return nil
}

// lease returns a client for an operation under ctx: one of the shared pool, or one acting as the user
// ctx names.
func (s *Store) lease(ctx context.Context) (*lease[*gohdfs.Client], error) {
	u := UserFrom(ctx)
	if u == "" || u == s.opts.User {
		return s.pool.get(ctx)
	}
	if s.opts.Kerberos != nil {
		return nil, fmt.Errorf("%w (%s): not through colinmarc under Kerberos", ErrImpersonation, u)
	}
	o := s.clientOpts
	o.User = u
	return s.users.getKeyed(ctx, "user:"+u, func() (*gohdfs.Client, error) { return gohdfs.NewClient(o) })
}

// removeAsOwner is the context RemoveAll removes name under: the owner's when name belongs to another user
// the Store can act as. The gateway is no HDFS superuser: it cannot remove what jobs wrote as their users
// (directories of mode 0755 or 0700 below it), so it removes them as their owner. A missing name is ctx.
func (s *Store) removeAsOwner(ctx context.Context, name string) (context.Context, error) {
	if UserFrom(ctx) != "" || !s.CanActAs() {
		return ctx, nil
	}
	fi, err := s.Stat(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return ctx, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.Owner == "" || fi.Owner == s.opts.User {
		return ctx, nil
	}
	return AsUser(ctx, fi.Owner), nil
}
