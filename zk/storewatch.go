package zk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yarngate/yarngate/registry"
)

// storeSub is one Subscribe call. Its children loop keeps a children watch on the table znode (re-armed after
// every event, re-read on every session change, as runPath does for data) and a Watcher.Watch on every child;
// a Watch on the table znode itself tells the loop when the session was lost or regained. Changed keys go
// through a coalescer to the dispatch goroutine, which calls onChange.
type storeSub struct {
	s         *Store
	table     string
	tablePath string
	onChange  func(string)
	co        *coalescer[string]
	kick      chan struct{} // capacity 1: look at the children again
	cancel    context.CancelFunc
	synced    chan struct{} // closed after the first complete sync
	start     time.Time

	mu         sync.Mutex
	stopped    bool
	tableWatch *Watch
	children   map[string]*storeChild // by name
	session    int64                  // session of the last complete listing; 0 before the first
	pending    int                    // children of the first listing whose first snapshot is not yet read
	firstDone  bool                   // the first listing has been made
	late       bool                   // Subscribe returned before the first sync: reload when it completes
}

// storeChild is one watched key; guarded by storeSub.mu.
type storeChild struct {
	watch   *Watch
	initial bool  // from the first listing: its first snapshot is the baseline, not a change
	seen    bool  // a certain snapshot was handled
	exists  bool  // of the last handled snapshot
	mzxid   int64 // of the last handled snapshot
}

// Subscribe calls onChange with the key of every value in table created, updated or deleted by any client of
// the ensemble from now on, until stop is called or the Store or Watcher is closed. It waits up to OpTimeout
// for the first sync (listing the table and reading every key); if that takes longer it returns anyway and
// calls onChange("<table>/") once synced. After a session expiry it calls onChange("<table>/") too, as the
// registry contract requires. Calls come from one goroutine, one at a time, coalesced per key. stop does not
// wait for a call under way, so it may be called from onChange.
//
// Every key costs one Watcher path (a goroutine, a watch and a periodic re-read every ResyncInterval).
func (s *Store) Subscribe(table string, onChange func(key string)) (stop func(), err error) {
	if err := registry.CheckTable(table); err != nil {
		return nil, err
	}
	sub := &storeSub{
		s: s, table: table, tablePath: s.tablePath(table), onChange: onChange, co: newCoalescer[string](),
		kick: make(chan struct{}, 1), synced: make(chan struct{}), children: map[string]*storeChild{},
		start: time.Now(),
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
	tw, err := s.w.Watch(sub.tablePath, sub.poke)
	if err != nil {
		stop()
		return nil, fmt.Errorf("zk: store: subscribe %s: %w", table, storeError(err))
	}
	sub.mu.Lock()
	sub.tableWatch = tw
	sub.mu.Unlock()
	if err := s.w.goTracked(func() { sub.co.run(ctx, sub.dispatch) }); err != nil {
		stop()
		return nil, fmt.Errorf("zk: store: subscribe %s: %w", table, storeError(err))
	}
	if err := s.w.goTracked(func() { sub.loop(ctx) }); err != nil {
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

// poke asks the children loop to look again; the table Watch calls it when the session is lost or
// regained, and when the table znode appears or disappears.
func (sub *storeSub) poke() {
	select {
	case sub.kick <- struct{}{}:
	default:
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
	if sub.tableWatch != nil {
		sub.tableWatch.Stop()
	}
	for _, c := range sub.children {
		c.watch.Stop()
	}
	clear(sub.children)
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

// loop is the children watch loop: list the table's children (arming a children watch when none is armed in
// the current session), reconcile the per-key watches, then wait for the watch, a poke, the retry timer or
// the periodic re-read.
func (sub *storeSub) loop(ctx context.Context) {
	w := sub.s.w
	var (
		watchCh   <-chan zk.Event
		watchSess int64
		dirty     = true
		bo        = backoff{max: w.retryMax}
		retry     *time.Timer
		retryC    <-chan time.Time
		resyncC   <-chan time.Time
	)
	if w.resync > 0 {
		t := time.NewTicker(w.resync)
		defer t.Stop()
		resyncC = t.C
	}
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		if dirty && retryC == nil {
			sess := w.Session()
			if sess.State == StateConnected {
				rearm := watchCh == nil || watchSess != sess.ID
				names, ch, err := sub.list(rearm)
				if ch != nil {
					watchCh, watchSess = ch, sess.ID
					w.metrics.rearms.Inc()
				}
				if err != nil {
					w.log.Debug("registry subscription: listing failed; will retry", "table", sub.table, "err", err)
					retry = time.NewTimer(bo.next())
					retryC = retry.C
				} else {
					bo.reset()
					dirty = false
					sub.reconcile(names, sess.ID)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-watchCh:
			watchCh, dirty = nil, true
		case <-sub.kick:
			// The session changed (or the table znode appeared): the armed watch may be gone.
			watchCh, dirty = nil, true
			if retry != nil {
				retry.Stop()
				retry, retryC = nil, nil
				bo.reset()
			}
		case <-retryC:
			retry, retryC = nil, nil
		case <-resyncC:
			dirty = true
		}
	}
}

// list reads the table znode's children, with arm also setting a children watch. A missing table znode
// lists as empty with no watch: the table Watch pokes the loop when it appears.
func (sub *storeSub) list(arm bool) ([]string, <-chan zk.Event, error) {
	conn, p := sub.s.w.conn, sub.s.server(sub.tablePath)
	var (
		zs  []string
		ch  <-chan zk.Event
		err error
	)
	if arm {
		zs, _, ch, err = conn.ChildrenW(p)
	} else {
		zs, _, err = conn.Children(p)
	}
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, classify(err)
	}
	return decodeChildren(zs), ch, nil
}

// reconcile starts watching new children and stops watching vanished ones, marking their keys; after a new
// session it marks the reload key, since events of the lost session are gone.
func (sub *storeSub) reconcile(names []string, session int64) {
	sub.mu.Lock()
	if sub.stopped {
		sub.mu.Unlock()
		return
	}
	first := !sub.firstDone
	reload := sub.session != 0 && sub.session != session
	sub.firstDone, sub.session = true, session
	present := make(map[string]struct{}, len(names))
	for _, name := range names {
		present[name] = struct{}{}
		if sub.children[name] != nil {
			continue
		}
		h, err := sub.s.w.Watch(sub.s.keyPath(sub.table, name), func() { sub.childChanged(name) })
		if err != nil { // the Watcher is closing
			break
		}
		c := &storeChild{watch: h, initial: first}
		sub.children[name] = c
		if first {
			sub.pending++
		} else {
			sub.co.mark(sub.table + "/" + name) // created since the last listing
		}
		sub.observeLocked(name, c) // a path already watched here notifies only on its next change
	}
	for name, c := range sub.children {
		if _, ok := present[name]; ok {
			continue
		}
		c.watch.Stop()
		delete(sub.children, name)
		if c.initial && !c.seen {
			sub.pending--
		}
		if !c.seen || c.exists {
			sub.co.mark(sub.table + "/" + name)
		}
	}
	if reload {
		sub.s.w.metrics.storeReloads.Inc()
		sub.s.w.log.Warn("registry subscription: new ZooKeeper session, signalling a table reload", "table", sub.table)
		sub.co.mark(registry.ReloadKey(sub.table))
	}
	sub.maybeSyncedLocked()
	sub.mu.Unlock()
}

// childChanged is the notify function of a key's Watch. It marks the key when the Watch read a different
// znode state (existence or modification zxid) than last handled; uncertain snapshots (session lost) mark
// nothing, since a re-read or a reload signal follows.
func (sub *storeSub) childChanged(name string) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if c := sub.children[name]; c != nil && !sub.stopped {
		sub.observeLocked(name, c)
	}
}

// observeLocked handles c's current snapshot (see childChanged).
func (sub *storeSub) observeLocked(name string, c *storeChild) {
	n := c.watch.Node()
	if !n.Certain {
		return
	}
	if c.seen && c.exists == n.Exists && c.mzxid == n.Stat.Mzxid {
		return
	}
	baseline := !c.seen && c.initial
	c.seen, c.exists, c.mzxid = true, n.Exists, n.Stat.Mzxid
	if baseline {
		sub.pending--
		sub.maybeSyncedLocked()
		return
	}
	sub.co.mark(sub.table + "/" + name)
}

// maybeSyncedLocked closes synced once the first listing and every first read of its children are done.
func (sub *storeSub) maybeSyncedLocked() {
	if !sub.firstDone || sub.pending > 0 {
		return
	}
	select {
	case <-sub.synced:
		return
	default:
	}
	close(sub.synced)
	sub.s.w.log.Info("registry subscription synced", "table", sub.table, "keys", len(sub.children),
		"took", time.Since(sub.start).Round(time.Millisecond))
	if sub.late {
		sub.co.mark(registry.ReloadKey(sub.table))
	}
}
