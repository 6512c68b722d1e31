// Package boltstore is the embedded implementation of registry.Store: one bbolt database file, for a single
// gateway instance without ZooKeeper.
//
// Each table is a bucket; each value is stored behind its version, which the bucket's sequence hands out, so
// versions of a key only grow, also across a delete and a re-create. Create, Update and Delete compare and set
// inside one write transaction. Subscribe is an in-process change feed: the database file is locked by the
// process that opened it (a second Open fails after Options.LockTimeout), so no other writer exists.
//
// Dependency rule: boltstore imports registry and go.etcd.io/bbolt only.
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/yarngate/yarngate/registry"
)

// ErrLocked means that another process (or another Store in this one) has the database file open.
var ErrLocked = errors.New("boltstore: database file is locked by another process")

// Options configure Open.
type Options struct {
	// LockTimeout is how long Open waits for the file lock that another process holds. Default 1 s.
	LockTimeout time.Duration
	// Logger receives the opening and closing of the database at info level. Default: discard.
	Logger *slog.Logger
}

const defaultLockTimeout = time.Second

func (o *Options) setDefaults() {
	if o.LockTimeout == 0 {
		o.LockTimeout = defaultLockTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	if o.LockTimeout < 0 {
		return fmt.Errorf("boltstore: options: negative LockTimeout %v", o.LockTimeout)
	}
	return nil
}

// Store is a registry.Store in one bbolt database file. Create it with Open; Close stops its goroutines and
// closes the file.
type Store struct {
	db     *bolt.DB
	path   string
	log    *slog.Logger
	ctx    context.Context // cancelled by Close; parent of every subscription's context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every subscription goroutine

	mu     sync.Mutex
	closed bool
	subs   map[*subscription]struct{}
}

var _ registry.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path.
func Open(path string, opts Options) (*Store, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("boltstore: open %s: %w (waited %v)", path, ErrLocked, opts.LockTimeout)
	case err != nil:
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, log: opts.Logger, subs: map[*subscription]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.log.Info("registry database opened", "path", path)
	return s, nil
}

// Close stops every subscription, waits for their goroutines and closes the database. Calls made afterwards
// fail with registry.ErrUnavailable. Close is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	clear(s.subs)
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close %s: %w", s.path, err)
	}
	s.log.Info("registry database closed", "path", s.path)
	return nil
}

// version layout: every stored value is its version (8 bytes, big-endian) followed by the value.
const versionLen = 8

func encode(v uint64, value []byte) []byte {
	buf := make([]byte, versionLen+len(value))
	binary.BigEndian.PutUint64(buf, v)
	copy(buf[versionLen:], value)
	return buf
}

func decode(key string, raw []byte) (registry.Entry, error) {
	if len(raw) < versionLen {
		return registry.Entry{}, fmt.Errorf("boltstore: %s: corrupt record of %d bytes", key, len(raw))
	}
	return registry.Entry{
		Key:     key,
		Value:   append([]byte{}, raw[versionLen:]...), // raw is only valid inside the transaction
		Version: registry.Version(binary.BigEndian.Uint64(raw)),
	}, nil
}

// begin checks what every call checks before its transaction: the context and whether the store is open.
func (s *Store) begin(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %s %s: %w", op, key, err)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("boltstore: %s %s: %w (closed)", op, key, registry.ErrUnavailable)
	}
	return nil
}

// wrap adds the operation to err and maps a closed database to registry.ErrUnavailable.
func wrap(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("boltstore: %s %s: %w: %w", op, key, registry.ErrUnavailable, err)
	}
	return fmt.Errorf("boltstore: %s %s: %w", op, key, err)
}

// Get returns the value and version of key, or an error wrapping registry.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (registry.Entry, error) {
	table, name, err := registry.SplitKey(key)
	if err != nil {
		return registry.Entry{}, err
	}
	if err := s.begin(ctx, "get", key); err != nil {
		return registry.Entry{}, err
	}
	var e registry.Entry
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(table))
		if b == nil {
			return registry.ErrNotFound
		}
		raw := b.Get([]byte(name))
		if raw == nil {
			return registry.ErrNotFound
		}
		e, err = decode(key, raw)
		return err
	})
	return e, wrap("get", key, err)
}

// Create stores value under key if the key is absent, else fails with registry.ErrExists.
func (s *Store) Create(ctx context.Context, key string, value []byte) (registry.Version, error) {
	table, name, err := registry.SplitKey(key)
	if err != nil {
		return 0, err
	}
	if err := registry.CheckValue(value); err != nil {
		return 0, fmt.Errorf("boltstore: create %s: %w", key, err)
	}
	if err := s.begin(ctx, "create", key); err != nil {
		return 0, err
	}
	var v uint64
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(table))
		if err != nil {
			return err
		}
		if b.Get([]byte(name)) != nil {
			return registry.ErrExists
		}
		if v, err = b.NextSequence(); err != nil {
			return err
		}
		return b.Put([]byte(name), encode(v, value))
	})
	if err != nil {
		return 0, wrap("create", key, err)
	}
	s.changed(table, key)
	return registry.Version(v), nil
}

// Update replaces key's value if its version is still v (registry.ErrConflict, registry.ErrNotFound
// otherwise) and returns the new version.
func (s *Store) Update(ctx context.Context, key string, value []byte, v registry.Version) (registry.Version, error) {
	table, name, err := registry.SplitKey(key)
	if err != nil {
		return 0, err
	}
	if err := registry.CheckValue(value); err != nil {
		return 0, fmt.Errorf("boltstore: update %s: %w", key, err)
	}
	if err := s.begin(ctx, "update", key); err != nil {
		return 0, err
	}
	var next uint64
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := s.current(tx, table, name, key, v)
		if err != nil {
			return err
		}
		if next, err = b.NextSequence(); err != nil {
			return err
		}
		return b.Put([]byte(name), encode(next, value))
	})
	if err != nil {
		return 0, wrap("update", key, err)
	}
	s.changed(table, key)
	return registry.Version(next), nil
}

// Delete removes key if its version is still v (registry.ErrConflict, registry.ErrNotFound otherwise).
func (s *Store) Delete(ctx context.Context, key string, v registry.Version) error {
	table, name, err := registry.SplitKey(key)
	if err != nil {
		return err
	}
	if err := s.begin(ctx, "delete", key); err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := s.current(tx, table, name, key, v)
		if err != nil {
			return err
		}
		// The bucket stays, even empty: its sequence keeps a re-created key's versions growing.
		return b.Delete([]byte(name))
	})
	if err != nil {
		return wrap("delete", key, err)
	}
	s.changed(table, key)
	return nil
}

// current returns the bucket of a key whose stored version is v.
func (s *Store) current(tx *bolt.Tx, table, name, key string, v registry.Version) (*bolt.Bucket, error) {
	b := tx.Bucket([]byte(table))
	if b == nil {
		return nil, registry.ErrNotFound
	}
	raw := b.Get([]byte(name))
	if raw == nil {
		return nil, registry.ErrNotFound
	}
	e, err := decode(key, raw)
	if err != nil {
		return nil, err
	}
	if e.Version != v {
		return nil, fmt.Errorf("%w: at version %d, not %d", registry.ErrConflict, e.Version, v)
	}
	return b, nil
}

// List returns every entry of table in key order (one read transaction, so a consistent snapshot).
func (s *Store) List(ctx context.Context, table string) ([]registry.Entry, error) {
	if err := registry.CheckTable(table); err != nil {
		return nil, err
	}
	if err := s.begin(ctx, "list", table); err != nil {
		return nil, err
	}
	var out []registry.Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(table))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, raw []byte) error {
			e, err := decode(table+"/"+string(k), raw)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, wrap("list", table, err)
	}
	return out, nil
}
