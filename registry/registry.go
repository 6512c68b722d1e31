package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"
)

// Options configure a Registry.
type Options struct {
	// Store keeps the records. Required.
	Store Store
	// Logger is required.
	Logger *slog.Logger
	// UpdateAttempts bounds the read-modify-write rounds of Update under contention. Default 16.
	UpdateAttempts int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Registry is the gateway's view of its records: every job and session record held in memory, kept in step
// with the Store (also with writes by other gateway instances, through Store.Subscribe), so that reads cost
// no I/O. Of each record it keeps a Summary decoded (what lists, filters and authorization read) and the rest
// compressed, decoded on demand (Get, Cached, List): a few hundred bytes per record. Writes go to the Store
// first, with optimistic concurrency. Safe for concurrent use; Close stops its goroutine.
type Registry struct {
	store    Store
	log      *slog.Logger
	attempts int
	now      func() time.Time
	codec    *codec
	kick     chan struct{} // capacity 1: pending has work
	stopSub  func()
	cancel   context.CancelFunc
	done     chan struct{}

	mu      sync.Mutex
	records map[string]*entry        // by id: the newest version seen
	byTime  *btree.BTreeG[*entry]    // the same entries, oldest first (entryLess)
	apps    map[string]string        // application id of a run (not the record's id) → record id
	tags    map[string]string        // launch tag of a run being launched → record id
	waiters map[string]chan struct{} // by id: closed at the record's next change
	pending map[string]bool          // ids changed in the store, to read again; "" means reload all
}

// Open loads every record and starts following the store's changes. It fails when the store cannot be read.
func Open(ctx context.Context, opts Options) (*Registry, error) {
	if opts.Store == nil || opts.Logger == nil {
		return nil, errors.New("registry: Store and Logger are required")
	}
	if opts.UpdateAttempts <= 0 {
		opts.UpdateAttempts = 16
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Registry{
		store: opts.Store, log: opts.Logger, attempts: opts.UpdateAttempts, now: opts.Now, codec: newCodec(),
		kick: make(chan struct{}, 1), done: make(chan struct{}),
		records: map[string]*entry{}, byTime: newIndex(), apps: map[string]string{}, tags: map[string]string{},
		waiters: map[string]chan struct{}{}, pending: map[string]bool{},
	}
	// Subscribe before loading, so that no change between the load and the subscription is missed.
	stop, err := opts.Store.Subscribe(TableJobs, r.changed)
	if err != nil {
		return nil, fmt.Errorf("registry: follow changes: %w", err)
	}
	r.stopSub = stop
	if err := r.reload(ctx); err != nil {
		stop()
		return nil, err
	}
	var bg context.Context
	bg, r.cancel = context.WithCancel(context.Background())
	go r.refresh(bg)
	return r, nil
}

// Close stops following the store. Reads still answer from memory.
func (r *Registry) Close() {
	r.stopSub()
	r.cancel()
	<-r.done
}

// changed is the Store's change callback: it only marks the id for the refresh goroutine.
func (r *Registry) changed(k string) {
	name, ok := strings.CutPrefix(k, TableJobs+"/")
	if !ok {
		return
	}
	r.mu.Lock()
	r.pending[name] = true
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// refresh reads changed records again until ctx ends. A failed read is retried after a pause.
func (r *Registry) refresh(ctx context.Context) {
	defer close(r.done)
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-retry:
			retry = nil
		}
		r.mu.Lock()
		ids := r.pending
		r.pending = map[string]bool{}
		r.mu.Unlock()
		var failed []string
		if ids[""] {
			if err := r.reload(ctx); err != nil {
				failed = append(failed, "")
			}
		} else {
			for id := range ids {
				if err := r.refreshOne(ctx, id); err != nil {
					failed = append(failed, id)
				}
			}
		}
		if len(failed) > 0 && ctx.Err() == nil {
			r.log.Warn("registry: could not read changed records; retrying", "count", len(failed))
			r.mu.Lock()
			for _, id := range failed {
				r.pending[id] = true
			}
			r.mu.Unlock()
			retry = time.After(time.Second)
		}
	}
}

func (r *Registry) refreshOne(ctx context.Context, id string) error {
	e, err := r.store.Get(ctx, key(TableJobs, id))
	switch {
	case errors.Is(err, ErrNotFound):
		r.forget(id)
		return nil
	case err != nil:
		return err
	}
	rec, err := decodeRecord(e)
	if err != nil {
		r.log.Error("registry: undecodable record ignored", "key", e.Key, "error", err)
		return nil
	}
	r.put(rec, e.Value)
	return nil
}

// reload replaces the in-memory records with the store's.
func (r *Registry) reload(ctx context.Context) error {
	entries, err := r.store.List(ctx, TableJobs)
	if err != nil {
		return fmt.Errorf("registry: load records: %w", err)
	}
	seen := make(map[string]bool, len(entries))
	for i := range entries {
		e := &entries[i]
		rec, err := decodeRecord(*e)
		if err != nil {
			r.log.Error("registry: undecodable record ignored", "key", e.Key, "error", err)
			continue
		}
		seen[rec.ID] = true
		r.put(rec, e.Value)
		e.Value = nil // let the stored form go as the load goes on
	}
	r.mu.Lock()
	var gone []string
	for id := range r.records {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	r.mu.Unlock()
	for _, id := range gone {
		r.forget(id)
	}
	return nil
}

// put stores rec, whose stored JSON is raw, in memory if it is newer than what is held and wakes the
// record's waiters. Versions of a key only grow, so a read that raced with a newer write never replaces it.
func (r *Registry) put(rec Record, raw []byte) {
	r.mu.Lock()
	old, ok := r.records[rec.ID]
	r.mu.Unlock()
	if ok && rec.Version <= old.version {
		return // an echo of a write held already: not worth compressing
	}
	e := &entry{Summary: summarize(&rec), data: r.codec.encode(raw), version: rec.Version, runs: runKeysOf(&rec)}
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok = r.records[rec.ID]
	if ok && e.version <= old.version {
		return
	}
	if ok {
		r.unindexLocked(old)
	}
	if ok && old.ApplicationID == e.ApplicationID {
		e.ApplicationID = old.ApplicationID // keep sharing one copy
	} else if sess, ok := r.records[e.ApplicationID]; ok && e.ApplicationID != e.ID {
		e.ApplicationID = sess.ID
	}
	r.records[rec.ID] = e
	r.byTime.ReplaceOrInsert(e)
	r.indexLocked(e)
	r.wakeLocked(rec.ID)
}

// runKeys are the applications (other than the record's id) and launch tags of a record's runs, by which
// ByApplication and ByLaunchTag find it.
type runKeys struct {
	apps, tags []string
}

// runKeysOf returns the run keys of a record (jobs in their own application cluster only: a session job's
// application is its session's); nil when it has none, as most records.
func runKeysOf(rec *Record) *runKeys {
	if rec.Kind != KindJob {
		return nil
	}
	var k runKeys
	for _, run := range rec.Runs {
		if run.ApplicationID != "" && run.ApplicationID != rec.ID {
			k.apps = append(k.apps, run.ApplicationID)
		}
		if run.ApplicationID == "" && run.LaunchTag != "" {
			k.tags = append(k.tags, run.LaunchTag)
		}
	}
	if len(k.apps) == 0 && len(k.tags) == 0 {
		return nil
	}
	return &k
}

// indexLocked indexes the applications and launch tags of an entry's runs.
func (r *Registry) indexLocked(e *entry) {
	if e.runs == nil {
		return
	}
	for _, a := range e.runs.apps {
		r.apps[a] = e.ID
	}
	for _, t := range e.runs.tags {
		r.tags[t] = e.ID
	}
}

// unindexLocked removes an entry from the creation-time index and the run indexes.
func (r *Registry) unindexLocked(e *entry) {
	r.byTime.Delete(e)
	if e.runs == nil {
		return
	}
	for _, a := range e.runs.apps {
		if r.apps[a] == e.ID {
			delete(r.apps, a)
		}
	}
	for _, t := range e.runs.tags {
		if r.tags[t] == e.ID {
			delete(r.tags, t)
		}
	}
}

// decode returns the record of an entry; an entry that does not decode (which the registry never makes) is
// logged and reported missing.
func (r *Registry) decode(e *entry) (Record, bool) {
	rec, err := r.codec.decode(e)
	if err != nil {
		r.log.Error("registry: record held in memory does not decode", "id", e.ID, "error", err)
		return Record{}, false
	}
	return rec, true
}

// ByApplication returns the record one of whose applications appID is (its id, for a record never
// upgraded), from memory.
func (r *Registry) ByApplication(appID string) (Record, bool) {
	r.mu.Lock()
	e, ok := r.records[appID]
	if !ok {
		if id, found := r.apps[appID]; found {
			e, ok = r.records[id]
		}
	}
	r.mu.Unlock()
	if !ok {
		return Record{}, false
	}
	return r.decode(e)
}

// ByLaunchTag returns the id of the record whose run is being launched with one of these tags.
func (r *Registry) ByLaunchTag(tags []string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range tags {
		if id, ok := r.tags[t]; ok {
			return id, true
		}
	}
	return "", false
}

func (r *Registry) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.records[id]; ok {
		r.unindexLocked(old)
		delete(r.records, id)
		r.wakeLocked(id)
	}
}

func (r *Registry) wakeLocked(id string) {
	if ch := r.waiters[id]; ch != nil {
		close(ch)
		delete(r.waiters, id)
	}
}

// Get returns the record with this id from memory, reading the store when memory has none (a record
// another instance created a moment ago). ErrNotFound when there is none.
func (r *Registry) Get(ctx context.Context, id string) (Record, error) {
	r.mu.Lock()
	e, ok := r.records[id]
	r.mu.Unlock()
	if ok {
		return r.codec.decode(e)
	}
	se, err := r.store.Get(ctx, key(TableJobs, id))
	if err != nil {
		return Record{}, fmt.Errorf("registry: record %s: %w", id, err)
	}
	rec, err := decodeRecord(se)
	if err != nil {
		return Record{}, err
	}
	r.put(rec, se.Value)
	return rec, nil
}

// Cached returns the record with this id if memory holds it.
func (r *Registry) Cached(id string) (Record, bool) {
	r.mu.Lock()
	e, ok := r.records[id]
	r.mu.Unlock()
	if !ok {
		return Record{}, false
	}
	return r.decode(e)
}

// Lookup returns the summary of the record with this id if memory holds it; it decodes nothing.
func (r *Registry) Lookup(id string) (Summary, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.records[id]; ok {
		return e.Summary, true
	}
	return Summary{}, false
}

// Holds reports whether memory holds the record rec was read as, so that a caller holding rec knows it is
// still the latest without decoding it again: the same version, and the same creation time (a record
// deleted and created again under its id starts its versions anew in the stores).
func (r *Registry) Holds(rec *Record) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.records[rec.ID]
	return ok && e.version == rec.Version && e.CreatedAt.Equal(rec.CreatedAt)
}

// List returns the records whose summary keep accepts (all when keep is nil), oldest first (by creation
// time, then id). Only those are decoded.
func (r *Registry) List(keep func(*Summary) bool) []Record {
	var match []*entry
	r.mu.Lock()
	r.byTime.Ascend(func(e *entry) bool {
		if keep == nil || keep(&e.Summary) {
			match = append(match, e)
		}
		return true
	})
	r.mu.Unlock()
	out := make([]Record, 0, len(match))
	for _, e := range match {
		if rec, ok := r.decode(e); ok {
			out = append(out, rec)
		}
	}
	return out
}

// Scan calls f with the summary of every record, oldest first (by creation time, then id), until f returns
// false. It decodes and copies nothing; f runs under the registry's lock, so it must be quick and must not
// call the registry.
func (r *Registry) Scan(f func(*Summary) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byTime.Ascend(func(e *entry) bool { return f(&e.Summary) })
}

// Count returns the number of records whose summary keep accepts (all when keep is nil).
func (r *Registry) Count(keep func(*Summary) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if keep == nil {
		return len(r.records)
	}
	n := 0
	for _, e := range r.records {
		if keep(&e.Summary) {
			n++
		}
	}
	return n
}

// Newest calls f with the summaries of the records that come after the position (createdAt, id) newest
// first — by creation time, then id, both descending — or of all records, newest first, when id is "";
// until f returns false. Its cost is that of the records visited, not of the table. f runs under the
// registry's lock, as in Scan.
func (r *Registry) Newest(createdAt time.Time, id string, f func(*Summary) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	visit := func(e *entry) bool { return f(&e.Summary) }
	if id == "" {
		r.byTime.Descend(visit)
		return
	}
	r.byTime.DescendLessOrEqual(&entry{Summary: Summary{ID: id, CreatedAt: createdAt}}, func(e *entry) bool {
		if e.ID == id && e.CreatedAt.Equal(createdAt) {
			return true // the position itself
		}
		return visit(e)
	})
}

// Changed returns a channel closed at the next change of the record with this id (its creation, an
// update, its removal), by this instance or another.
func (r *Registry) Changed(id string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := r.waiters[id]
	if ch == nil {
		ch = make(chan struct{})
		r.waiters[id] = ch
	}
	return ch
}

// Waiting returns the number of ids whose next change someone waits for (Changed), for tests and metrics.
func (r *Registry) Waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiters)
}

// Create stores a new record; ErrExists when its id is taken. CreatedAt and UpdatedAt default to now.
func (r *Registry) Create(ctx context.Context, rec Record) (Record, error) {
	now := r.now().UTC()
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	rec.UpdatedAt = now
	b, err := json.Marshal(rec)
	if err != nil {
		return Record{}, fmt.Errorf("registry: encode %s: %w", rec.ID, err)
	}
	v, err := r.store.Create(ctx, key(TableJobs, rec.ID), b)
	if err != nil {
		return Record{}, fmt.Errorf("registry: create %s: %w", rec.ID, err)
	}
	rec.Version = v
	r.put(rec, b)
	return rec, nil
}

// Update applies change to the newest version of the record and writes it, retrying on conflicts with
// other writers. change returns whether it changed anything; when it did not, nothing is written and the
// record is returned as read. An error from change is returned as is.
func (r *Registry) Update(ctx context.Context, id string, change func(*Record) (bool, error)) (Record, error) {
	rec, err := r.Get(ctx, id)
	if err != nil {
		return Record{}, err
	}
	for range r.attempts {
		next := rec
		next.History = slices.Clone(rec.History)
		next.Files = slices.Clone(rec.Files)
		next.Outbox = slices.Clone(rec.Outbox)
		next.Webhooks = slices.Clone(rec.Webhooks)
		next.Runs = slices.Clone(rec.Runs)
		if rec.Upgrade != nil {
			u := *rec.Upgrade
			next.Upgrade = &u
		}
		if rec.AutoRestart != nil {
			a := *rec.AutoRestart
			next.AutoRestart = &a
		}
		changed, err := change(&next)
		if err != nil || !changed {
			return rec, err
		}
		next.UpdatedAt = r.now().UTC()
		b, err := json.Marshal(next)
		if err != nil {
			return Record{}, fmt.Errorf("registry: encode %s: %w", id, err)
		}
		v, err := r.store.Update(ctx, key(TableJobs, id), b, rec.Version)
		if err == nil {
			next.Version = v
			r.put(next, b)
			return next, nil
		}
		if !errors.Is(err, ErrConflict) {
			if errors.Is(err, ErrNotFound) {
				r.forget(id)
			}
			return Record{}, fmt.Errorf("registry: update %s: %w", id, err)
		}
		// Someone else wrote first: read their version and apply the change to it.
		e, err := r.store.Get(ctx, key(TableJobs, id))
		if err != nil {
			return Record{}, fmt.Errorf("registry: update %s: %w", id, err)
		}
		if rec, err = decodeRecord(e); err != nil {
			return Record{}, err
		}
		r.put(rec, e.Value)
	}
	return Record{}, fmt.Errorf("registry: update %s: %w after %d attempts", id, ErrConflict, r.attempts)
}

// Delete removes the record at the version given (ErrConflict if it changed since).
func (r *Registry) Delete(ctx context.Context, rec Record) error {
	if err := r.store.Delete(ctx, key(TableJobs, rec.ID), rec.Version); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("registry: delete %s: %w", rec.ID, err)
	}
	r.forget(rec.ID)
	return nil
}

// Claim returns the claim of an idempotency key (by hash), or ErrNotFound.
func (r *Registry) Claim(ctx context.Context, keyHash string) (KeyClaim, error) {
	e, err := r.store.Get(ctx, key(TableKeys, keyHash))
	if err != nil {
		return KeyClaim{}, fmt.Errorf("registry: key %s: %w", keyHash, err)
	}
	return decodeClaim(e)
}

// ClaimKey claims an idempotency key (by hash) for the record id. When the key is claimed already it
// returns the existing claim and false.
func (r *Registry) ClaimKey(ctx context.Context, keyHash string, c KeyClaim) (KeyClaim, bool, error) {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = r.now().UTC()
	}
	b, err := json.Marshal(c)
	if err != nil {
		return KeyClaim{}, false, err
	}
	v, err := r.store.Create(ctx, key(TableKeys, keyHash), b)
	switch {
	case err == nil:
		c.Version = v
		return c, true, nil
	case errors.Is(err, ErrExists):
		old, err := r.Claim(ctx, keyHash)
		if errors.Is(err, ErrNotFound) { // released in between: try once more
			return r.ClaimKey(ctx, keyHash, c)
		}
		return old, false, err
	}
	return KeyClaim{}, false, fmt.Errorf("registry: claim key %s: %w", keyHash, err)
}

// MoveClaim points a claimed key at another record, if the claim is still at the version read
// (ErrConflict when another instance moved it first).
func (r *Registry) MoveClaim(ctx context.Context, keyHash string, c KeyClaim) (KeyClaim, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return KeyClaim{}, err
	}
	v, err := r.store.Update(ctx, key(TableKeys, keyHash), b, c.Version)
	if err != nil {
		return KeyClaim{}, fmt.Errorf("registry: move key %s: %w", keyHash, err)
	}
	c.Version = v
	return c, nil
}

// ReleaseKey removes a key's claim (for a record that is dropped after its retention).
func (r *Registry) ReleaseKey(ctx context.Context, keyHash string) error {
	e, err := r.store.Get(ctx, key(TableKeys, keyHash))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry: release key %s: %w", keyHash, err)
	}
	if err := r.store.Delete(ctx, key(TableKeys, keyHash), e.Version); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("registry: release key %s: %w", keyHash, err)
	}
	return nil
}
