// Package registry keeps yarngate's durable records of jobs and sessions: what was submitted, which YARN
// application runs it, how its state changed, how it ended. Records outlive gateway restarts and YARN's
// forgetting of finished applications, and several gateway instances share them.
//
// Records live in a Store, a small versioned key-value interface with two implementations: ZooKeeper
// (package zk, shared by every instance that uses the same ensemble) and an embedded on-disk database
// (package registry/boltstore, for a single instance without ZooKeeper).
//
// Dependency rule: registry imports no other yarngate package; zk and registry/boltstore import it to
// implement Store; gateway consumes it.
package registry

import (
	"context"
	"errors"
)

// Errors every Store returns, wrapped with context.
var (
	// ErrNotFound: no value under the key.
	ErrNotFound = errors.New("registry: not found")
	// ErrExists: Create found the key taken.
	ErrExists = errors.New("registry: already exists")
	// ErrConflict: the value changed since the version the caller read (optimistic concurrency).
	ErrConflict = errors.New("registry: version conflict")
	// ErrUnavailable: the store cannot answer now (ZooKeeper disconnected, database closed); retry later.
	ErrUnavailable = errors.New("registry: store unavailable")
	// ErrInvalidKey: a key is not "<table>/<name>" of [A-Za-z0-9._:-], or a table name is not of
	// [A-Za-z0-9._:-].
	ErrInvalidKey = errors.New("registry: invalid key")
	// ErrTooLarge: a value is longer than MaxValueSize.
	ErrTooLarge = errors.New("registry: value too large")
)

// MaxValueSize is the largest value a Store accepts, in bytes.
const MaxValueSize = 512 << 10

// Version identifies one stored value of a key; it changes with every write. Versions of one key only
// grow; they are meaningless across keys.
type Version int64

// Entry is one key with its value and version.
type Entry struct {
	Key     string
	Value   []byte
	Version Version
}

// Store is a versioned key-value store. Keys are "<table>/<name>": table and name are non-empty and consist
// of [A-Za-z0-9._:-] only. Values are at most 512 KiB. Every method is safe for concurrent use.
type Store interface {
	// Get returns the value and version of key, or ErrNotFound.
	Get(ctx context.Context, key string) (Entry, error)
	// Create stores value under key if the key is absent, else fails with ErrExists.
	Create(ctx context.Context, key string, value []byte) (Version, error)
	// Update replaces key's value if its version is still v: ErrConflict if it changed, ErrNotFound if the
	// key is gone. It returns the new version.
	Update(ctx context.Context, key string, value []byte, v Version) (Version, error)
	// Delete removes key if its version is still v (ErrConflict, ErrNotFound otherwise).
	Delete(ctx context.Context, key string, v Version) error
	// List returns every entry of a table, in key order. Entries written while List runs may or may not
	// appear; each entry returned is a value the key had.
	List(ctx context.Context, table string) ([]Entry, error)
	// Subscribe calls onChange with the key of every value in table created, updated or deleted by anyone
	// (this process or another sharing the store) from now on, until stop is called. Calls may be
	// coalesced and repeated, never lost: after a change, onChange(key) follows, and a Get made then returns
	// that change or a newer one. When the store cannot be sure it saw every change (a ZooKeeper session
	// expired), it calls onChange with the key "<table>/" (the empty name), which means "reload the table".
	// onChange runs on the store's goroutine and must return quickly.
	Subscribe(table string, onChange func(key string)) (stop func(), err error)
}
