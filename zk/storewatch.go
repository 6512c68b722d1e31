package zk

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/yarngate/yarngate/registry"
)

// storeSub is one Subscribe call. It keeps a Watcher.Watch on each of the table's 256 bucket znodes (see
// bucket.go); when a bucket's data version moves, the bucket's change feed names the keys written since the
// version last handled. Changed keys go through a coalescer to the dispatch goroutine, which calls onChange.
// Its cost does not depend on the number of keys: 256 watches and watch loops, and per bucket a version.
type storeSub struct {
	s        *Store
	table    string
	onChange func(string)
	co       *coalescer[string]
	cancel   context.CancelFunc
	synced   chan struct{} // closed once every bucket's first snapshot was read
	start    time.Time

	mu      sync.Mutex
	stopped bool
	buckets [bucketCount]subBucket
	pending int  // buckets whose first snapshot is not yet read
	late    bool // Subscribe returned before the first sync: reload when it completes
}

// subBucket is the state of one watched bucket; guarded by storeSub.mu.
type subBucket struct {
	watch   *Watch
	seen    bool  // a certain snapshot was handled
	exists  bool  // of the last handled snapshot
	czxid   int64 // of the last handled snapshot: a re-created bucket has another
	version int32 // data version of the last handled snapshot
}

// Subscribe calls onChange with the key of every value in table created, updated or deleted by any client of
// the ensemble from now on, until stop is called or the Store or Watcher is closed. It first moves keys of the
// previous layout into buckets (and again every minute while subscribed, for older instances during a
// rolling upgrade). It waits up to OpTimeout for the first sync (reading the 256 bucket znodes); if that takes
// longer it returns anyway and calls onChange("<table>/") once synced. It calls onChange("<table>/") too when
// a bucket's feed no longer reaches back to the last version handled (more than 64 writes to one bucket
// between two reads, a gap a lost session can also cause) or a bucket znode was deleted or re-created. Calls
// come from one goroutine, one at a time, coalesced per key. stop does not wait for a call under way, so it
// may be called from onChange.
func (s *Store) Subscribe(table string, onChange func(key string)) (stop func(), err error) {
	if err := registry.CheckTable(table); err != nil {
		return nil, err
	}
	sub := &storeSub{
		s: s, table: table, onChange: onChange, co: newCoalescer[string](), synced: make(chan struct{}),
		start: time.Now(), pending: bucketCount,
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("zk: store: subscribe %s: %w (store closed)", table, registry.ErrUnavailable)
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	stop = func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
		sub.stop()
	}

	ctx, cancel := context.WithCancel(s.w.ctx)
	sub.cancel = cancel
	// Moving a table of the previous layout takes a while (one multi per key, ListConcurrency at a time)
	// but happens once; each call is bounded by OpTimeout.
	if err := s.migrate(ctx, table, false); err != nil {
		s.w.log.Warn("registry subscription: moving keys of the previous layout failed; will retry", "table", table,
			"err", err)
	}
	sub.mu.Lock()
	for i := range bucketCount {
		h, err := s.w.Watch(s.bucketPath(table, bucketName(i)), func() { sub.bucketChanged(i) })
		if err != nil {
			sub.mu.Unlock()
			stop()
			return nil, fmt.Errorf("zk: store: subscribe %s: %w", table, storeError(err))
		}
		sub.buckets[i].watch = h
		sub.observeLocked(i) // a path already watched here notifies only on its next change
	}
	sub.mu.Unlock()
	if err := s.w.goTracked(func() { sub.co.run(ctx, sub.dispatch) }); err != nil {
		stop()
		return nil, fmt.Errorf("zk: store: subscribe %s: %w", table, storeError(err))
	}
	if err := s.w.goTracked(func() { sub.migrateLoop(ctx) }); err != nil {
		stop()
		return nil, fmt.Errorf("zk: store: subscribe %s: %w", table, storeError(err))
	}
	timer := time.NewTimer(s.opTimeout)
	defer timer.Stop()
	select {
	case <-sub.synced:
	case <-timer.C:
		sub.mu.Lock()
		select {
		case <-sub.synced:
		default:
			sub.late = true
		}
		sub.mu.Unlock()
		s.w.log.Warn("registry subscription not synced in time; will signal a reload when it is",
			"table", table, "waited", s.opTimeout)
	}
	return stop, nil
}

// migrateLoop moves flat keys written by older instances into buckets every MigrateInterval; the moves append
// to the bucket feeds, so every subscriber hears of the moved keys.
func (sub *storeSub) migrateLoop(ctx context.Context) {
	t := time.NewTicker(sub.s.migrateEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		mctx, cancel := context.WithTimeout(ctx, max(sub.s.migrateEvery, time.Minute))
		if err := sub.s.migrate(mctx, sub.table, true); err != nil && ctx.Err() == nil {
			sub.s.w.log.Warn("registry subscription: moving keys of the previous layout failed; will retry",
				"table", sub.table, "err", err)
		}
		cancel()
	}
}

func (sub *storeSub) stop() {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.stopped {
		return
	}
	sub.stopped = true
	if sub.cancel != nil {
		sub.cancel()
	}
	for i := range sub.buckets {
		if h := sub.buckets[i].watch; h != nil {
			h.Stop()
		}
	}
}

// dispatch hands one key to onChange unless the subscription was stopped.
func (sub *storeSub) dispatch(key string) {
	sub.mu.Lock()
	stopped := sub.stopped
	sub.mu.Unlock()
	if !stopped {
		sub.onChange(key)
	}
}

// bucketChanged is the notify function of bucket i's Watch.
func (sub *storeSub) bucketChanged(i int) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if !sub.stopped && sub.buckets[i].watch != nil {
		sub.observeLocked(i)
	}
}

// observeLocked handles bucket i's current snapshot: the first certain one is the baseline; later ones mark
// the keys the feed lists since the version last handled, or the reload key when it cannot tell. Uncertain
// snapshots (session lost) mark nothing: the next certain one is compared with the last handled, whatever
// happened in between.
func (sub *storeSub) observeLocked(i int) {
	b := &sub.buckets[i]
	n := b.watch.Node()
	if !n.Certain {
		return
	}
	if !b.seen {
		b.seen, b.exists, b.czxid, b.version = true, n.Exists, n.Stat.Czxid, n.Stat.Version
		sub.pending--
		sub.maybeSyncedLocked()
		return
	}
	if n.Exists == b.exists && n.Stat.Czxid == b.czxid && n.Stat.Version == b.version {
		return
	}
	var (
		names []string
		ok    bool
	)
	switch {
	case !n.Exists: // the bucket, and so its keys, were deleted (by an operator): nothing says which
	case !b.exists: // created since: its feed starts at version 0
		names, ok = feedSince(n.Data, 0, n.Stat.Version)
	case n.Stat.Czxid == b.czxid:
		names, ok = feedSince(n.Data, b.version, n.Stat.Version)
	}
	b.exists, b.czxid, b.version = n.Exists, n.Stat.Czxid, n.Stat.Version
	if !ok {
		sub.s.w.metrics.storeReloads.Inc()
		sub.s.w.log.Warn("registry subscription: a bucket's change feed does not reach back to the last version "+
			"seen, signalling a table reload", "table", sub.table, "bucket", bucketName(i))
		sub.co.mark(registry.ReloadKey(sub.table))
		return
	}
	for _, name := range names {
		sub.co.mark(sub.table + "/" + name)
	}
}

// maybeSyncedLocked closes synced once every bucket's first snapshot was handled.
func (sub *storeSub) maybeSyncedLocked() {
	if sub.pending > 0 {
		return
	}
	select {
	case <-sub.synced:
		return
	default:
	}
	close(sub.synced)
	sub.s.w.log.Info("registry subscription synced", "table", sub.table,
		"took", time.Since(sub.start).Round(time.Millisecond))
	if sub.late {
		sub.co.mark(registry.ReloadKey(sub.table))
	}
}
