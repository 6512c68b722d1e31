package zk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yarngate/yarngate/registry"
)

// StoreOptions configure NewStore.
type StoreOptions struct {
	// Root is the znode under which the store keeps its tables: key "<table>/<name>" is the znode
	// <Root>/<table>/<name>, its version the znode's data version. Required; created on the first write. Root
	// and every znode below it that the Store creates get the Watcher's ACL (with Digest: the digest identity
	// only, see Watcher.Protected); missing ancestors above Root are created world-open.
	Root string
	// OpTimeout bounds one ZooKeeper call when the caller's context allows longer (go-zookeeper takes no
	// context and queues calls while disconnected), and how long Subscribe waits for its first sync.
	// Default 10 s.
	OpTimeout time.Duration
	// ListConcurrency bounds the reads that List runs at once (go-zookeeper pipelines them on the one
	// connection). Default 32.
	ListConcurrency int
	// MigrateInterval is how often a subscribed Store looks for keys of the previous, flat layout (written by
	// older instances during a rolling upgrade) and moves them into buckets. Default 1 minute.
	MigrateInterval time.Duration
}

const (
	defaultOpTimeout       = 10 * time.Second
	defaultListConcurrency = 32
	defaultMigrateInterval = time.Minute
)

func (o *StoreOptions) setDefaults() {
	if o.OpTimeout == 0 {
		o.OpTimeout = defaultOpTimeout
	}
	if o.ListConcurrency == 0 {
		o.ListConcurrency = defaultListConcurrency
	}
	if o.MigrateInterval == 0 {
		o.MigrateInterval = defaultMigrateInterval
	}
}

func (o *StoreOptions) validate() error {
	if o.Root == "" || o.Root == "/" {
		return errors.New("zk: store options: Root is not set (or is /)")
	}
	if err := zkValidatePath(o.Root); err != nil {
		return fmt.Errorf("zk: store options: Root: %w", err)
	}
	switch {
	case o.OpTimeout < 0:
		return fmt.Errorf("zk: store options: negative OpTimeout %v", o.OpTimeout)
	case o.MigrateInterval < 0:
		return fmt.Errorf("zk: store options: negative MigrateInterval %v", o.MigrateInterval)
	case o.ListConcurrency < 0:
		return fmt.Errorf("zk: store options: negative ListConcurrency %d", o.ListConcurrency)
	}
	return nil
}

// Store is a registry.Store in ZooKeeper, shared by every gateway that uses the same ensemble and Root. It
// runs on a Watcher, which it does not own: close the Store before the Watcher. Create it with NewStore.
//
// A write whose context ends before ZooKeeper answered may still take effect; the caller sees the context's
// error and finds out with Get.
//
// Versions are znode data versions: they grow with every Update, but a key deleted and created again starts
// over at 0 (ZooKeeper has no compare-and-set on anything that survives a re-create), so a version read
// before a Delete may match the re-created key. Callers that delete and re-create keys must drop versions
// read before the Delete.
type Store struct {
	w            *Watcher
	root         string // Root as the Watcher sees it (without chroot), no trailing slash
	opTimeout    time.Duration
	listConc     int
	migrateEvery time.Duration

	mu     sync.Mutex
	closed bool
	subs   map[*storeSub]struct{}
	// migratedAt is when each table's flat keys were last moved into buckets (migrate.go).
	migratedAt map[string]time.Time
	// snapBusy holds "<table>/<bucket>" of the bucket snapshots being written (load.go): 1, or 2 when
	// another was asked for meanwhile.
	snapBusy map[string]int

	codec   *snapCodec
	snapSem chan struct{} // bounds the snapshot writers running at once
	// snapLimit bounds a snapshot's data (snapshotMax; tests set less).
	snapLimit int
	// noSnapshots makes the Store behave as the version before snapshots did: it neither reads nor writes
	// them (tests of a rolling upgrade).
	noSnapshots bool
}

// snapshotWriters bounds the bucket snapshots a Store writes at once.
const snapshotWriters = 4

var _ registry.Store = (*Store)(nil)

// NewStore returns a Store keeping its tables under opts.Root on w's connection.
func NewStore(w *Watcher, opts StoreOptions) (*Store, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	codec, err := newSnapCodec()
	if err != nil {
		return nil, err
	}
	return &Store{
		w: w, root: strings.TrimSuffix(opts.Root, "/"), opTimeout: opts.OpTimeout, listConc: opts.ListConcurrency,
		migrateEvery: opts.MigrateInterval,
		subs:         map[*storeSub]struct{}{}, migratedAt: map[string]time.Time{}, snapBusy: map[string]int{},
		codec: codec, snapSem: make(chan struct{}, snapshotWriters), snapLimit: snapshotMax,
	}, nil
}

// Close stops every subscription of the Store; their goroutines end shortly after (Watcher.Close waits for
// them). Later calls fail with registry.ErrUnavailable. Close is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	subs := make([]*storeSub, 0, len(s.subs))
	for sub := range s.subs {
		subs = append(subs, sub)
	}
	clear(s.subs)
	s.mu.Unlock()
	for _, sub := range subs {
		sub.stop()
	}
	return nil
}

// encodeSegment maps a table or name to a znode name: "." and "..", valid registry names, are not valid
// znode names, so they get a "%" prefix, a character no registry name has.
func encodeSegment(s string) string {
	if s == "." || s == ".." {
		return "%" + s
	}
	return s
}

// decodeSegment inverts encodeSegment; ok is false for znodes the store did not write.
func decodeSegment(z string) (string, bool) {
	s := strings.TrimPrefix(z, "%")
	if registry.CheckTable(s) != nil || (s != z && s != "." && s != "..") {
		return "", false
	}
	return s, true
}

func (s *Store) tablePath(table string) string { return s.root + "/" + encodeSegment(table) }

// bucketPath is the znode of one of table's buckets (see bucket.go).
func (s *Store) bucketPath(table, bucket string) string { return s.tablePath(table) + "/" + bucket }

func (s *Store) keyPath(table, name string) string {
	return s.bucketPath(table, bucketOf(name)) + "/" + encodeSegment(name)
}

// legacyKeyPath is where the previous layout kept key "<table>/<name>" (migrate.go).
func (s *Store) legacyKeyPath(table, name string) string {
	return s.tablePath(table) + "/" + encodeSegment(name)
}

// server returns path as the server knows it (with the Watcher's chroot).
func (s *Store) server(path string) string { return s.w.chroot + path }

// call runs fn, one or a few go-zookeeper calls, on a goroutine the Watcher tracks, and waits for it at most
// until ctx ends or OpTimeout passes. fn's error is returned as is; giving up wraps registry.ErrUnavailable
// when the session is not connected (and the context's error if it ended).
func (s *Store) call(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("%w (store closed)", registry.ErrUnavailable)
	}
	timer := time.NewTimer(s.opTimeout)
	defer timer.Stop()
	if err := s.w.awaitAuth(ctx, timer.C); err != nil {
		return fmt.Errorf("%w: %w", registry.ErrUnavailable, err)
	}
	done := make(chan error, 1)
	if err := s.w.goTracked(func() { done <- fn() }); err != nil {
		return fmt.Errorf("%w: %w", registry.ErrUnavailable, err)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if st := s.w.Session().State; st != StateConnected {
			return fmt.Errorf("%w: %w (session %s)", registry.ErrUnavailable, ctx.Err(), st)
		}
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("%w: no answer within %v (session %s)", registry.ErrUnavailable, s.opTimeout,
			s.w.Session().State)
	}
}

// storeError maps a go-zookeeper error to the registry's vocabulary, keeping the original in the chain.
func storeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zk.ErrNoNode):
		return fmt.Errorf("%w: %w", registry.ErrNotFound, err)
	case errors.Is(err, zk.ErrNodeExists):
		return fmt.Errorf("%w: %w", registry.ErrExists, err)
	case errors.Is(err, zk.ErrBadVersion):
		return fmt.Errorf("%w: %w", registry.ErrConflict, err)
	}
	err = classify(err)
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: %w", registry.ErrUnavailable, err)
	}
	return err
}

// Get returns the value and version of key, or an error wrapping registry.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (registry.Entry, error) {
	table, name, err := registry.SplitKey(key)
	if err != nil {
		return registry.Entry{}, err
	}
	var e registry.Entry
	err = s.call(ctx, func() error {
		data, st, err := s.w.conn.Get(s.server(s.keyPath(table, name)))
		if err != nil {
			return storeError(err)
		}
		e = registry.Entry{Key: key, Value: data, Version: registry.Version(st.Version)}
		return nil
	})
	if err != nil {
		return registry.Entry{}, fmt.Errorf("zk: store: get %s: %w", key, err)
	}
	return e, nil
}

// Create stores value under key if the key is absent, else fails with registry.ErrExists. It creates the
// root, table and bucket znodes when they are missing. While keys of the previous layout may exist (a rolling
// upgrade), the same multi also creates and deletes the key's previous-layout znode, so that a key an older
// instance holds there is reported as existing too.
func (s *Store) Create(ctx context.Context, key string, value []byte) (registry.Version, error) {
	table, name, err := registry.SplitKey(key)
	if err != nil {
		return 0, err
	}
	if err := registry.CheckValue(value); err != nil {
		return 0, fmt.Errorf("zk: store: create %s: %w", key, err)
	}
	p := s.server(s.keyPath(table, name))
	legacy := s.server(s.legacyKeyPath(table, name))
	err = s.call(ctx, func() error {
		_, err := s.write(table, name, &zk.CreateRequest{Path: p, Data: value, Acl: s.w.acl},
			&zk.CreateRequest{Path: legacy, Acl: s.w.acl}, &zk.DeleteRequest{Path: legacy, Version: 0})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("zk: store: create %s: %w", key, err)
	}
	return 0, nil // a new znode's data version
}

// write runs ops (the key's operations) in one multi with the append of name to its bucket's feed,
// conditional on the bucket's version, retrying while other writers move the bucket. It creates the bucket
// (and its ancestors) when missing. It returns the responses to ops, or the first failing op's error mapped
// by storeError.
func (s *Store) write(table, name string, ops ...any) ([]zk.MultiResponse, error) {
	bucket := s.server(s.bucketPath(table, bucketOf(name)))
	for attempt := 0; ; attempt++ {
		data, st, err := s.w.conn.Get(bucket)
		if errors.Is(err, zk.ErrNoNode) {
			if err := createParents(s.w, s.server(s.root), bucket); err != nil {
				return nil, storeError(err)
			}
			continue
		}
		if err != nil {
			return nil, storeError(err)
		}
		all := append([]any{&zk.SetDataRequest{Path: bucket, Data: appendFeed(data, st.Version+1, name),
			Version: st.Version}}, ops...)
		res, err := s.w.conn.Multi(all...)
		if err == nil {
			if (st.Version+1)%snapshotEvery == 0 && !s.noSnapshots {
				s.snapshotLater(table, bucketOf(name), nil)
			}
			return res[1:], nil
		}
		if len(res) != len(all) { // the connection failed: no per-op results
			return nil, storeError(err)
		}
		if errors.Is(res[0].Error, zk.ErrBadVersion) || errors.Is(res[0].Error, zk.ErrNoNode) {
			if attempt >= maxBucketRetries {
				return nil, fmt.Errorf("%w: bucket %s kept changing (%d attempts)", registry.ErrUnavailable,
					bucket, attempt+1)
			}
			s.w.metrics.bucketRetries.Inc()
			continue // another writer of the bucket came first
		}
		for _, r := range res[1:] {
			// ZooKeeper reports OK for the ops before the failing one and a runtime inconsistency after it.
			if r.Error != nil {
				return nil, storeError(r.Error)
			}
		}
		return nil, storeError(err)
	}
}

// maxBucketRetries bounds how often a write retries when its bucket's version moved under it. Each retry
// means another write of the bucket succeeded, so the store as a whole progresses.
const maxBucketRetries = 100

// listChunk is how many keys a List worker reads in one call.
const listChunk = 16

// zkVersion converts v to a znode data version. Versions outside [0, MaxInt32] were never handed out (and
// -1 would mean "any version" to ZooKeeper).
func zkVersion(v registry.Version) (int32, bool) {
	return int32(v), v >= 0 && v <= math.MaxInt32
}

// Update replaces key's value if its znode's data version is still v (registry.ErrConflict,
// registry.ErrNotFound otherwise) and returns the new version.
func (s *Store) Update(ctx context.Context, key string, value []byte, v registry.Version) (registry.Version, error) {
	table, name, err := registry.SplitKey(key)
	if err != nil {
		return 0, err
	}
	if err := registry.CheckValue(value); err != nil {
		return 0, fmt.Errorf("zk: store: update %s: %w", key, err)
	}
	p := s.server(s.keyPath(table, name))
	var next registry.Version
	err = s.call(ctx, func() error {
		zv, ok := zkVersion(v)
		if !ok {
			return s.badVersion(p, v)
		}
		res, err := s.write(table, name, &zk.SetDataRequest{Path: p, Data: value, Version: zv})
		if err != nil {
			return err
		}
		next = registry.Version(res[0].Stat.Version)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("zk: store: update %s: %w", key, err)
	}
	return next, nil
}

// badVersion is the error for a version ZooKeeper cannot hold: a conflict, or not found.
func (s *Store) badVersion(p string, v registry.Version) error {
	ok, _, err := s.w.conn.Exists(p)
	switch {
	case err != nil:
		return storeError(err)
	case !ok:
		return registry.ErrNotFound
	}
	return fmt.Errorf("%w: version %d is out of range", registry.ErrConflict, v)
}

// Delete removes key if its znode's data version is still v (registry.ErrConflict, registry.ErrNotFound
// otherwise). The table and bucket znodes stay.
func (s *Store) Delete(ctx context.Context, key string, v registry.Version) error {
	table, name, err := registry.SplitKey(key)
	if err != nil {
		return err
	}
	p := s.server(s.keyPath(table, name))
	err = s.call(ctx, func() error {
		zv, ok := zkVersion(v)
		if !ok {
			return s.badVersion(p, v)
		}
		_, err := s.write(table, name, &zk.DeleteRequest{Path: p, Version: zv})
		return err
	})
	if err != nil {
		return fmt.Errorf("zk: store: delete %s: %w", key, err)
	}
	return nil
}

// decodeChildren decodes and sorts znode names, dropping those the store did not write.
func decodeChildren(zs []string) []string {
	names := make([]string, 0, len(zs))
	for _, z := range zs {
		if n, ok := decodeSegment(z); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}
