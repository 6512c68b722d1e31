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
// colinmarc cannot impersonate under Kerberos (it has no proxy-user support): there CanActAs is false and
// an operation for another user fails with ErrImpersonation.

// ErrImpersonation means the Store cannot act as another user (a Kerberized cluster).
var ErrImpersonation = errors.New("hdfs: cannot act as another user")

type userKey struct{}

// AsUser returns a context under which the Store's file operations (Stat, MkdirAll, Chmod, Create, Open,
// RemoveAll, ReadDir, Rename) act as user; "" or the Store's own user is the Store itself.
func AsUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// userFrom returns the user ctx names, "" for none.
func userFrom(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// CanActAs reports whether the Store can act as users other than its own (simple authentication).
func (s *Store) CanActAs() bool { return s.opts.Kerberos == nil }

// lease returns a client for an operation under ctx: one of the shared pool, or one acting as the user
// ctx names.
func (s *Store) lease(ctx context.Context) (*lease[*gohdfs.Client], error) {
	u := userFrom(ctx)
	if u == "" || u == s.opts.User {
		return s.pool.get(ctx)
	}
	if !s.CanActAs() {
		return nil, fmt.Errorf("%w (%s)", ErrImpersonation, u)
	}
	o := s.clientOpts
	o.User = u
	return s.users.getKeyed(ctx, "user:"+u, func() (*gohdfs.Client, error) { return gohdfs.NewClient(o) })
}

// removeAsOwner is the context RemoveAll removes name under: the owner's when name belongs to another user
// the Store can act as. The gateway is no HDFS superuser: it cannot remove what jobs wrote as their users
// (directories of mode 0755 or 0700 below it), so it removes them as their owner. A missing name is ctx.
func (s *Store) removeAsOwner(ctx context.Context, name string) (context.Context, error) {
	if userFrom(ctx) != "" || !s.CanActAs() {
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
