package zk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// Node is a snapshot of one znode as the Watcher last read it.
type Node struct {
	// Path is the znode's path.
	Path string
	// Exists reports whether the znode existed at the last read.
	Exists bool
	// Data is the znode's data; shared between snapshots, so never modify it.
	Data []byte
	// Stat is the znode's metadata; zero when it does not exist.
	Stat Stat
	// Certain is true while the session that read the snapshot is alive and a watch (or the periodic
	// re-read) keeps it fresh. When false the data may be stale or missing: probe instead.
	Certain bool
	// Err is the last read error (wrapping ErrNoAuth, ErrUnavailable, ...); nil after a successful read.
	Err error
	// ReadAt is when the snapshot was read; zero before the first successful read.
	ReadAt time.Time
}

// Stat is the part of a znode's metadata the trackers use.
type Stat struct {
	// Czxid and Mzxid are the transaction ids that created and last modified the znode.
	Czxid, Mzxid int64
	// Ctime and Mtime are the server's creation and modification times.
	Ctime, Mtime time.Time
	// Version counts data changes.
	Version int32
	// EphemeralOwner is the owning session of an ephemeral znode, 0 for a persistent one.
	EphemeralOwner int64
}

func statOf(s *zk.Stat) Stat {
	return Stat{
		Czxid: s.Czxid, Mzxid: s.Mzxid, Version: s.Version, EphemeralOwner: s.EphemeralOwner,
		Ctime: time.UnixMilli(s.Ctime), Mtime: time.UnixMilli(s.Mtime),
	}
}

// Watch is one subscription to a watched path, returned by Watcher.Watch. Several Watches of one path share
// its watch loop.
type Watch struct {
	w      *Watcher
	p      *pathWatch
	notify func()
}

// pathWatch is the state of one watched path; its fields other than path and kick are guarded by Watcher.mu.
type pathWatch struct {
	path   string
	kick   chan struct{} // capacity 1: "something changed, look again"
	cancel context.CancelFunc
	subs   map[*Watch]struct{}
	node   Node   // last published snapshot
	gen    uint64 // session generation the snapshot was read in
}

// Watch starts keeping path fresh (or joins the loop already doing so) and returns the subscription. notify,
// if not nil, is called after every change of the path's snapshot (data, existence, certainty or error), from
// the path's goroutine, one call at a time. It must return quickly and must not call Stop or Close; signal a
// channel or mark a set instead. Calls are coalesced in the sense that notify sees no values: it reads
// Node, which is always at least as new as the change that caused the call.
func (w *Watcher) Watch(path string, notify func()) (*Watch, error) {
	if err := zkValidatePath(path); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	h := &Watch{w: w, notify: notify}
	p := w.paths[path]
	if p == nil {
		ctx, cancel := context.WithCancel(w.ctx)
		p = &pathWatch{path: path, kick: make(chan struct{}, 1), cancel: cancel, subs: map[*Watch]struct{}{},
			node: Node{Path: path}}
		w.paths[path] = p
		w.metrics.watchedPaths.Inc()
		w.wg.Add(1)
		go w.runPath(ctx, p)
	}
	h.p = p
	p.subs[h] = struct{}{}
	return h, nil
}

// Node returns the latest snapshot. Its Certain field reflects the session right now, not only at the read.
func (h *Watch) Node() Node {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	return h.w.snapshotLocked(h.p)
}

// Stop ends the subscription; the path's loop stops when its last subscription does. Stop does not wait for
// the goroutine (Watcher.Close does), so it may be called from anywhere but a notify function. Idempotent.
func (h *Watch) Stop() {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if _, ok := h.p.subs[h]; !ok {
		return
	}
	delete(h.p.subs, h)
	if len(h.p.subs) == 0 && h.w.paths[h.p.path] == h.p {
		h.p.cancel()
		delete(h.w.paths, h.p.path)
		if !h.w.closed {
			h.w.metrics.watchedPaths.Dec()
		}
	}
}

func (w *Watcher) snapshotLocked(p *pathWatch) Node {
	n := p.node
	n.Certain = n.Certain && !w.closed && w.session.State == StateConnected && p.gen == w.gen
	return n
}

// runPath is the watch loop of one path: read (arming a watch when none is armed in the current session),
// publish, then wait for the watch to fire, a kick from the session monitor, the retry timer or the periodic
// re-read. Every event leads to a fresh read, so coalesced or dropped events never hide the final state.
func (w *Watcher) runPath(ctx context.Context, p *pathWatch) {
	defer w.wg.Done()
	var (
		watchCh    <-chan zk.Event // the armed watch; nil when none
		watchSess  int64           // the session it was armed in
		dirty      = true
		bo         = backoff{max: w.retryMax}
		retry      *time.Timer
		retryC     <-chan time.Time
		resyncC    <-chan time.Time
		lastSeenAt int64 = -1 // Mzxid of the last read, -1 before, 0 while absent
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
			w.mu.Lock()
			sess, gen := w.session, w.gen
			w.mu.Unlock()
			if sess.State != StateConnected {
				w.publish(p, gen, nil, fmt.Errorf("%w (session %s)", ErrUnavailable, sess.State))
			} else {
				rearm := watchCh == nil || watchSess != sess.ID
				n, ch, err := w.read(p.path, rearm)
				switch {
				case err != nil:
					w.metrics.reads.WithLabelValues("error").Inc()
					if ch != nil { // armed before the Get failed: keep it, so retries set no further watches
						watchCh, watchSess = ch, sess.ID
						w.metrics.rearms.Inc()
					}
					w.publish(p, gen, nil, err)
					retry = time.NewTimer(bo.next())
					retryC = retry.C
				case !rearm && n.Stat.Mzxid != lastSeenAt:
					// The data moved but the armed watch has not fired: it may have been lost (go-zookeeper only
					// logs a failed SetWatches after a reconnect). Abandon it and read again with a fresh one.
					w.metrics.reads.WithLabelValues("ok").Inc()
					watchCh, lastSeenAt = nil, n.Stat.Mzxid
					w.publish(p, gen, &n, nil)
					continue
				default:
					w.metrics.reads.WithLabelValues("ok").Inc()
					bo.reset()
					dirty, lastSeenAt = false, n.Stat.Mzxid
					if ch != nil {
						watchCh, watchSess = ch, sess.ID
						w.metrics.rearms.Inc()
					}
					w.publish(p, gen, &n, nil)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-watchCh: // the event itself carries nothing we trust: re-read
			watchCh, dirty = nil, true
		case <-p.kick:
			dirty = true
			if retry != nil { // the session changed: retry now
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

// read reads path; with arm it also sets a watch (ExistsW, which watches a missing node for creation and an
// existing one for change or deletion) and returns its channel. Exactly one watch is set per armed read.
func (w *Watcher) read(path string, arm bool) (Node, <-chan zk.Event, error) {
	server := w.chroot + path // the path as the server knows it
	if w.chroot != "" && path == "/" {
		server = w.chroot
	}
	var ch <-chan zk.Event
	if arm {
		exists, _, c, err := w.conn.ExistsW(server)
		if err != nil {
			return Node{}, nil, classify(err)
		}
		ch = c
		if !exists {
			return Node{Path: path, ReadAt: time.Now()}, ch, nil
		}
	}
	data, st, err := w.conn.Get(server)
	switch {
	case errors.Is(err, zk.ErrNoNode): // deleted since ExistsW: its watch fires with NodeDeleted
		return Node{Path: path, ReadAt: time.Now()}, ch, nil
	case err != nil:
		return Node{}, ch, classify(err)
	}
	return Node{Path: path, Exists: true, Data: data, Stat: statOf(st), ReadAt: time.Now()}, ch, nil
}

// publish records the outcome of a read (n) or a failure (err, keeping the old data as uncertain) and calls
// the subscribers' notify functions if the snapshot changed.
func (w *Watcher) publish(p *pathWatch, gen uint64, n *Node, err error) {
	w.mu.Lock()
	old := w.snapshotLocked(p)
	if n != nil {
		next := *n
		next.Certain = true
		p.node, p.gen = next, gen
	} else {
		p.node.Certain, p.node.Err = false, err
	}
	cur := w.snapshotLocked(p)
	var notify []func()
	if changed(old, cur) {
		for h := range p.subs {
			if h.notify != nil {
				notify = append(notify, h.notify)
			}
		}
	}
	w.mu.Unlock()
	for _, f := range notify {
		f()
	}
}

func changed(a, b Node) bool {
	return a.Exists != b.Exists || a.Stat.Mzxid != b.Stat.Mzxid || a.Stat.Czxid != b.Stat.Czxid ||
		a.Certain != b.Certain || errClass(a.Err) != errClass(b.Err)
}

// errClass reduces an error to the sentinel it wraps, for change detection.
func errClass(err error) error {
	for _, e := range []error{ErrNoAuth, ErrUnavailable, ErrDecode, ErrClosed} {
		if errors.Is(err, e) {
			return e
		}
	}
	if err != nil {
		return errOther
	}
	return nil
}

var errOther = errors.New("zk: other error")

// zkValidatePath applies ZooKeeper's path rules, so that a bad path fails in Watch rather than in every read.
func zkValidatePath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("zk: path %q is not absolute", path)
	}
	if path == "/" {
		return nil
	}
	for _, seg := range strings.Split(path[1:], "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsRune(seg, 0) {
			return fmt.Errorf("zk: bad path %q (empty, . or .. segment, or NUL)", path)
		}
	}
	return nil
}
