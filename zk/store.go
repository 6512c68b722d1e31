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
	// ListConcurrency bounds the reads that List runs at once. Default 16.
	ListConcurrency int
}

const (
	defaultOpTimeout       = 10 * time.Second
	defaultListConcurrency = 16
)

func (o *StoreOptions) setDefaults() {
	if o.OpTimeout == 0 {
		o.OpTimeout = defaultOpTimeout
	}
	if o.ListConcurrency == 0 {
		o.ListConcurrency = defaultListConcurrency
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
	w         *Watcher
	root      string // Root as the Watcher sees it (without chroot), no trailing slash
	opTimeout time.Duration
	listConc  int

	mu     sync.Mutex
	closed bool
	subs   map[*storeSub]struct{}
}

var _ registry.Store = (*Store)(nil)

// NewStore returns a Store keeping its tables under opts.Root on w's connection.
func NewStore(w *Watcher, opts StoreOptions) (*Store, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Store{
		w: w, root: strings.TrimSuffix(opts.Root, "/"), opTimeout: opts.OpTimeout, listConc: opts.ListConcurrency,
		subs: map[*storeSub]struct{}{},
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

func (s *Store) keyPath(table, name string) string {
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
// root and table znodes when they are missing.
func (s *Store) Create(ctx context.Context, key string, value []byte) (registry.Version, error) {
	table, name, err := registry.SplitKey(key)
	if err != nil {
		return 0, err
	}
	if err := registry.CheckValue(value); err != nil {
		return 0, fmt.Errorf("zk: store: create %s: %w", key, err)
	}
	p := s.server(s.keyPath(table, name))
	err = s.call(ctx, func() error {
		_, err := s.w.conn.Create(p, value, 0, s.w.acl)
		if errors.Is(err, zk.ErrNoNode) {
			if err := createParents(s.w, s.server(s.root), s.server(s.tablePath(table))); err != nil {
				return storeError(err)
			}
			_, err = s.w.conn.Create(p, value, 0, s.w.acl)
		}
		return storeError(err)
	})
	if err != nil {
		return 0, fmt.Errorf("zk: store: create %s: %w", key, err)
	}
	return 0, nil // a new znode's data version
}

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
		st, err := s.w.conn.Set(p, value, zv)
		if err != nil {
			return storeError(err)
		}
		next = registry.Version(st.Version)
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
// otherwise). The table znode stays.
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
		return storeError(s.w.conn.Delete(p, zv))
	})
	if err != nil {
		return fmt.Errorf("zk: store: delete %s: %w", key, err)
	}
	return nil
}

// List returns every entry of table in key order: the table znode's children, read ListConcurrency at a
// time. A child deleted between the listing and its read is left out.
func (s *Store) List(ctx context.Context, table string) ([]registry.Entry, error) {
	if err := registry.CheckTable(table); err != nil {
		return nil, err
	}
	names, err := s.children(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("zk: store: list %s: %w", table, err)
	}
	entries := make([]registry.Entry, len(names))
	found := make([]bool, len(names))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		next    = make(chan int)
	)
	for range min(s.listConc, len(names)) {
		wg.Go(func() {
			for i := range next {
				e, err := s.Get(ctx, table+"/"+names[i])
				switch {
				case errors.Is(err, registry.ErrNotFound):
				case err != nil:
					errOnce.Do(func() { first = err; cancel() })
				default:
					entries[i], found[i] = e, true
				}
			}
		})
	}
feed:
	for i := range names {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	if first != nil {
		return nil, fmt.Errorf("zk: store: list %s: %w", table, first)
	}
	out := make([]registry.Entry, 0, len(names))
	for i, ok := range found {
		if ok {
			out = append(out, entries[i])
		}
	}
	return out, nil
}

// children returns the sorted names of table's keys (none if the table znode does not exist).
func (s *Store) children(ctx context.Context, table string) ([]string, error) {
	var names []string
	err := s.call(ctx, func() error {
		zs, _, err := s.w.conn.Children(s.server(s.tablePath(table)))
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return storeError(err)
		}
		names = decodeChildren(zs)
		return nil
	})
	return names, err
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
