package zk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yarngate/yarngate/registry"
)

// bucketLoad is what loading one bucket found (see snapshot.go).
type bucketLoad struct {
	bucket      string
	exists      bool
	czxid       int64
	version     int32 // the bucket's data version, read after the snapshot and before the listing
	snapVersion int32 // the snapshot znode's own data version, -1 when there is none
	snapAt      int32 // the bucket version the snapshot was usable at, -1 when it was missing or unusable
	fromSnap    int   // how many entries came from the snapshot
	// entries are the values of the listed keys: from the snapshot, or read (readNames).
	entries   map[string]snapEntry
	readNames []string
	read      []snapEntry
	found     []bool
}

// stale reports whether a new snapshot of the bucket is worth writing: there is none usable, or at least
// snapshotStale keys had to be read one by one (written since it, or left out of it).
func (l *bucketLoad) stale() bool {
	return l.exists && (l.snapAt < 0 && len(l.entries) > 0 || len(l.entries)-l.fromSnap >= snapshotStale)
}

// List returns every entry of table in key order. Per bucket it reads the snapshot, the bucket (its change
// feed) and the listing, then reads the keys the snapshot cannot vouch for, ListConcurrency calls at a time
// (go-zookeeper pipelines them on the one connection). A key deleted between the listing and its read is
// left out. Buckets whose snapshot was missing or stale get a new one afterwards, in the background.
func (s *Store) List(ctx context.Context, table string) ([]registry.Entry, error) {
	if err := registry.CheckTable(table); err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, table, false); err != nil {
		return nil, fmt.Errorf("zk: store: list %s: %w", table, err)
	}
	start := time.Now()
	buckets := make([]string, bucketCount)
	for i := range buckets {
		buckets[i] = bucketName(i)
	}
	loads, err := s.loadBuckets(ctx, table, buckets)
	if err != nil {
		return nil, fmt.Errorf("zk: store: list %s: %w", table, err)
	}
	n, fromSnap, stale := 0, 0, 0
	for _, l := range loads {
		n += len(l.entries)
		fromSnap += l.fromSnap
		if l.stale() {
			stale++
		}
	}
	s.w.log.Info("registry: table listed", "table", table, "keys", n, "fromSnapshots", fromSnap,
		"readOneByOne", n-fromSnap, "staleSnapshots", stale, "took", time.Since(start).Round(time.Millisecond))
	out := make([]registry.Entry, 0, n)
	for _, l := range loads {
		for name, e := range l.entries {
			out = append(out, registry.Entry{Key: table + "/" + name, Value: e.data, Version: registry.Version(e.version)})
		}
		if l.stale() && !s.noSnapshots {
			s.snapshotLater(table, l.bucket, l)
		}
	}
	slices.SortFunc(out, func(a, b registry.Entry) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out, nil
}

// loadBuckets loads the given buckets of table: first the snapshot, bucket and listing of each, then the keys
// to read of all of them, in chunks of listChunk.
func (s *Store) loadBuckets(ctx context.Context, table string, buckets []string) ([]*bucketLoad, error) {
	loads := make([]*bucketLoad, len(buckets))
	err := s.parallel(ctx, len(buckets), func(i int) error {
		return s.call(ctx, func() error {
			l, err := s.loadBucketMeta(table, buckets[i])
			loads[i] = l
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	type item struct {
		l *bucketLoad
		j int
	}
	var items []item
	for _, l := range loads {
		for j := range l.readNames {
			items = append(items, item{l, j})
		}
	}
	err = s.parallel(ctx, (len(items)+listChunk-1)/listChunk, func(c int) error {
		return s.call(ctx, func() error {
			for _, it := range items[c*listChunk : min((c+1)*listChunk, len(items))] {
				l := it.l
				data, st, err := s.w.conn.Get(s.server(s.bucketPath(table, l.bucket) + "/" +
					encodeSegment(l.readNames[it.j])))
				switch {
				case errors.Is(err, zk.ErrNoNode): // deleted since the listing
				case err != nil:
					return storeError(err)
				default:
					l.read[it.j] = snapEntry{version: st.Version, data: data}
					l.found[it.j] = true
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	for _, l := range loads {
		for j, name := range l.readNames {
			if l.found[j] {
				l.entries[name] = l.read[j]
			}
		}
		l.readNames, l.read, l.found = nil, nil, nil
	}
	return loads, nil
}

// loadBucketMeta reads a bucket's snapshot, then the bucket, then its listing (in this order: the snapshot
// is then at most as new as the bucket read), and decides which keys the snapshot vouches for: those listed,
// held by the snapshot, and not written since its version according to the feed. The others are to read.
func (s *Store) loadBucketMeta(table, bucket string) (*bucketLoad, error) {
	l := &bucketLoad{bucket: bucket, snapVersion: -1, snapAt: -1, entries: map[string]snapEntry{}}
	bp := s.server(s.bucketPath(table, bucket))
	var snapData []byte
	if !s.noSnapshots {
		data, st, err := s.w.conn.Get(bp + "/" + snapshotZnode)
		switch {
		case errors.Is(err, zk.ErrNoNode):
		case err != nil:
			return nil, storeError(err)
		default:
			snapData, l.snapVersion = data, st.Version
		}
	}
	feed, st, err := s.w.conn.Get(bp)
	if errors.Is(err, zk.ErrNoNode) {
		return l, nil
	}
	if err != nil {
		return nil, storeError(err)
	}
	l.exists, l.czxid, l.version = true, st.Czxid, st.Version
	zs, _, err := s.w.conn.Children(bp)
	if errors.Is(err, zk.ErrNoNode) { // the bucket was deleted since: as if it had not been there
		return &bucketLoad{bucket: bucket, snapVersion: -1, snapAt: -1, entries: map[string]snapEntry{}}, nil
	}
	if err != nil {
		return nil, storeError(err)
	}
	names := decodeChildren(zs)
	var (
		snap    snapshot
		changed map[string]bool
	)
	if l.snapVersion >= 0 {
		snap, changed = s.usableSnapshot(snapData, feed, l)
	}
	for _, name := range names {
		if e, ok := snap.entries[name]; ok && !changed[name] {
			l.entries[name] = e
			l.fromSnap++
			continue
		}
		l.readNames = append(l.readNames, name)
	}
	l.read = make([]snapEntry, len(l.readNames))
	l.found = make([]bool, len(l.readNames))
	return l, nil
}

// usableSnapshot decodes a bucket's snapshot data and checks it against the bucket read: same bucket znode,
// not newer, and a feed that reaches back to it. It returns the snapshot (empty when unusable) and the names
// written since its version, and sets l.snapAt.
func (s *Store) usableSnapshot(data, feed []byte, l *bucketLoad) (snapshot, map[string]bool) {
	snap, err := s.codec.decode(data)
	if err != nil || snap.czxid != l.czxid || snap.version > l.version {
		return snapshot{}, nil
	}
	names, ok := feedSince(feed, snap.version, l.version)
	if !ok {
		return snapshot{}, nil
	}
	changed := make(map[string]bool, len(names))
	for _, n := range names {
		changed[n] = true
	}
	l.snapAt = snap.version
	return snap, changed
}

// parallel runs fn(0..n-1), ListConcurrency at a time, and returns the first error (the others are not
// started once one failed or ctx ended).
func (s *Store) parallel(ctx context.Context, n int, fn func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		next    = make(chan int)
	)
	for range min(s.listConc, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					errOnce.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range n {
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
	return first
}

// snapshotLater writes a new snapshot of table's bucket in the background, from l (a load just made) or,
// when l is nil, from a fresh load of the bucket; at most snapshotWriters at a time per Store. When one for
// the same bucket is under way, it runs once more afterwards (from a fresh load). Failures are logged at
// debug level: a snapshot is only ever a shortcut.
func (s *Store) snapshotLater(table, bucket string, l *bucketLoad) {
	k := table + "/" + bucket
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.snapBusy[k] > 0 {
		s.snapBusy[k] = 2 // again when done
		s.mu.Unlock()
		return
	}
	s.snapBusy[k] = 1
	s.mu.Unlock()
	again := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.snapBusy[k] == 2 && !s.closed {
			s.snapBusy[k] = 1
			return true
		}
		delete(s.snapBusy, k)
		return false
	}
	err := s.w.goTracked(func() {
		for {
			s.buildSnapshot(table, bucket, l)
			l = nil
			if !again() {
				return
			}
		}
	})
	if err != nil {
		s.mu.Lock()
		delete(s.snapBusy, k)
		s.mu.Unlock()
	}
}

// buildSnapshot loads the bucket unless l is given, and writes its snapshot.
func (s *Store) buildSnapshot(table, bucket string, l *bucketLoad) {
	select {
	case s.snapSem <- struct{}{}:
	case <-s.w.ctx.Done():
		return
	}
	defer func() { <-s.snapSem }()
	ctx, cancel := context.WithTimeout(s.w.ctx, time.Minute)
	defer cancel()
	if l == nil {
		loads, err := s.loadBuckets(ctx, table, []string{bucket})
		if err != nil {
			s.w.log.Debug("registry: bucket snapshot: load failed", "bucket", table+"/"+bucket, "err", err)
			return
		}
		l = loads[0]
	}
	if !l.exists {
		return
	}
	if err := s.call(ctx, func() error { return s.writeSnapshot(table, l) }); err != nil {
		s.w.log.Debug("registry: bucket snapshot: write failed", "bucket", table+"/"+bucket, "err", err)
	}
}

// writeSnapshot writes the snapshot of a bucket from a load of it: it reads the bucket again, leaves out the
// keys written since the load (the feed names them; it gives up when the feed no longer reaches back or the
// bucket was re-created), and replaces the snapshot znode if it is still the one the load read.
func (s *Store) writeSnapshot(table string, l *bucketLoad) error {
	bp := s.server(s.bucketPath(table, l.bucket))
	feed, st, err := s.w.conn.Get(bp)
	if err != nil {
		return storeError(err)
	}
	if st.Czxid != l.czxid {
		return nil
	}
	changed, ok := feedSince(feed, l.version, st.Version)
	if !ok {
		return nil
	}
	entries := l.entries
	if len(changed) > 0 {
		entries = make(map[string]snapEntry, len(l.entries))
		for n, e := range l.entries {
			entries[n] = e
		}
		for _, n := range changed {
			delete(entries, n)
		}
	}
	data, kept := s.codec.encode(l.czxid, st.Version, entries, s.snapLimit)
	if kept < len(entries) {
		s.w.log.Warn("registry: bucket snapshot over its size bound; keys left out are read one by one",
			"bucket", table+"/"+l.bucket, "keys", len(entries), "kept", kept)
	}
	p := bp + "/" + snapshotZnode
	if l.snapVersion < 0 {
		_, err = s.w.conn.Create(p, data, 0, s.w.acl)
	} else {
		_, err = s.w.conn.Set(p, data, l.snapVersion)
	}
	switch {
	case err == nil:
		s.w.metrics.snapshots.Inc()
		return nil
	case errors.Is(err, zk.ErrNodeExists), errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNoNode):
		return nil // another writer came first, or the bucket is gone
	}
	return storeError(err)
}
