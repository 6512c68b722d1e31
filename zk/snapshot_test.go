package zk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/testenv"
)

func TestSnapCodec(t *testing.T) {
	codec, err := newSnapCodec()
	if err != nil {
		t.Fatal(err)
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	many := map[string]snapEntry{}
	for i := range 50 {
		many[fmt.Sprintf("k%02d", i)] = snapEntry{version: int32(i), data: random(1024)}
	}
	tests := []struct {
		name    string
		czxid   int64
		version int32
		entries map[string]snapEntry
		limit   int
		// wantAll: every entry kept; otherwise some left out and the data within limit.
		wantAll bool
	}{
		{"empty", 1, 0, map[string]snapEntry{}, snapshotMax, true},
		{"records", 1 << 40, math.MaxInt32, map[string]snapEntry{
			"application_1_0001": {version: 7, data: []byte(`{"id":"application_1_0001","state":"RUNNING"}`)},
			"empty":              {version: 0, data: nil},
			"..":                 {version: math.MaxInt32, data: []byte{0, 1, 2, 255}},
		}, snapshotMax, true},
		{"over the bound", 3, 40, many, 16 << 10, false},
		{"nothing fits", 3, 40, many, 32, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, kept := codec.encode(tc.czxid, tc.version, tc.entries, tc.limit)
			if tc.wantAll != (kept == len(tc.entries)) {
				t.Fatalf("kept %d of %d entries", kept, len(tc.entries))
			}
			if !tc.wantAll && len(data) > tc.limit && kept > 0 {
				t.Fatalf("%d bytes over the limit %d with %d entries", len(data), tc.limit, kept)
			}
			snap, err := codec.decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if snap.czxid != tc.czxid || snap.version != tc.version || len(snap.entries) != kept {
				t.Fatalf("decoded czxid %d version %d, %d entries; want %d %d %d", snap.czxid, snap.version,
					len(snap.entries), tc.czxid, tc.version, kept)
			}
			for n, e := range snap.entries {
				want, ok := tc.entries[n]
				if !ok || want.version != e.version || !bytes.Equal(want.data, e.data) {
					t.Fatalf("entry %q = %d %q, want %d %q", n, e.version, e.data, want.version, want.data)
				}
			}
		})
	}
	good, _ := codec.encode(1, 2, map[string]snapEntry{"a": {1, []byte("x")}}, snapshotMax)
	for _, bad := range [][]byte{nil, []byte("yg-feed-1\n"), []byte(snapshotMagic), good[:len(good)-3],
		append([]byte(snapshotMagic+"\x02\x04"), "not zstd"...)} {
		if _, err := codec.decode(bad); err == nil {
			t.Errorf("decode(%q) succeeded", bad)
		}
	}
}

// namesIn returns n key names (prefix + number) that hash to bucket.
func namesIn(prefix, bucket string, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		if name := prefix + strconv.Itoa(i); bucketOf(name) == bucket {
			out = append(out, name)
		}
	}
	return out
}

// snapStat returns the data version and length of a bucket's snapshot znode (-1 when missing).
func snapStat(t *testing.T, admin *zk.Conn, root, table, bucket string) (version, length int32) {
	t.Helper()
	ok, st, err := admin.Exists(root + "/" + table + "/" + bucket + "/" + snapshotZnode)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return -1, 0
	}
	return st.Version, st.DataLength
}

// truth is what a test wrote: per key the last value and version, and the deleted keys.
type truth struct {
	mu      sync.Mutex
	live    map[string]registry.Entry
	deleted map[string]bool
}

func newTruth() *truth { return &truth{live: map[string]registry.Entry{}, deleted: map[string]bool{}} }

func (tr *truth) set(key string, value []byte, v registry.Version) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if old, ok := tr.live[key]; !ok || v > old.Version {
		tr.live[key] = registry.Entry{Key: key, Value: value, Version: v}
	}
}

func (tr *truth) del(key string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	delete(tr.live, key)
	tr.deleted[key] = true
}

func (tr *truth) copy() (map[string]registry.Entry, map[string]bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return maps.Clone(tr.live), maps.Clone(tr.deleted)
}

// checkList compares a listing with what was written before it started: every key live then is listed at
// that version or a newer one, no key deleted then is listed, and every value is the one its version had
// (values name their key and version: "<key>@<version>").
func checkList(t *testing.T, list []registry.Entry, live map[string]registry.Entry, deleted, deletedAfter map[string]bool, exact bool) {
	t.Helper()
	got := map[string]registry.Entry{}
	for _, e := range list {
		got[e.Key] = e
		if want := fmt.Sprintf("%s@%d", e.Key, e.Version); string(e.Value) != want && !strings.HasPrefix(string(e.Value), want+" ") {
			t.Errorf("%s: version %d holds %.40q, want %q", e.Key, e.Version, e.Value, want)
		}
		if deleted[e.Key] {
			t.Errorf("%s: deleted before the listing, listed at version %d", e.Key, e.Version)
		}
	}
	for k, want := range live {
		e, ok := got[k]
		switch {
		case !ok && deletedAfter[k]: // deleted while listing
		case !ok:
			t.Errorf("%s: missing (version %d written before the listing)", k, want.Version)
		case e.Version < want.Version:
			t.Errorf("%s: listed at version %d, older than %d written before the listing", k, e.Version, want.Version)
		case exact && e.Version != want.Version:
			t.Errorf("%s: listed at version %d, want %d", k, e.Version, want.Version)
		}
	}
	if exact && len(got) != len(live) {
		t.Errorf("listed %d keys, want %d", len(got), len(live))
	}
}

// value is the value a test writes for key at version v (padded to size bytes).
func value(key string, v registry.Version, size int) []byte {
	b := []byte(fmt.Sprintf("%s@%d", key, v))
	if len(b) < size {
		b = append(b, ' ')
		b = append(b, bytes.Repeat([]byte("x"), size-len(b))...)
	}
	return b
}

// writeKey creates key or updates it to its next version, with a value naming the version.
func writeKey(ctx context.Context, s *Store, tr *truth, key string, size int) error {
	e, err := s.Get(ctx, key)
	if errors.Is(err, registry.ErrNotFound) {
		if _, err := s.Create(ctx, key, value(key, 0, size)); err != nil {
			return err
		}
		tr.set(key, value(key, 0, size), 0)
		return nil
	}
	if err != nil {
		return err
	}
	v, err := s.Update(ctx, key, value(key, e.Version+1, size), e.Version)
	if err != nil {
		return err
	}
	tr.set(key, value(key, v, size), v)
	return nil
}

// bucketLoadOf loads one bucket through s and reports how many entries came from its snapshot.
func bucketLoadOf(t *testing.T, s *Store, table, bucket string) *bucketLoad {
	t.Helper()
	loads, err := s.loadBuckets(t.Context(), table, []string{bucket})
	if err != nil {
		t.Fatal(err)
	}
	return loads[0]
}

// TestStoreSnapshotConcurrentWriters: two stores write a hot bucket and others (creates, updates, deletes)
// while a third subscribes and lists, as registry.Open does: every listing holds every key at least at the
// version written before it started, with the value of that version; the subscriber, applying the changes it
// is told of, ends with exactly what was written; and a fresh store then lists it from snapshots.
func TestStoreSnapshotConcurrentWriters(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := storeRoot(t, admin)
	a, _, _ := newTestStore(t, server, root, Options{})
	b, _, _ := newTestStore(t, server, root, Options{})
	ctx := t.Context()
	hot := bucketOf("hot")
	hotNames := namesIn("h", hot, 80)
	tr := newTruth()
	for i, n := range hotNames {
		if err := writeKey(ctx, []*Store{a, b}[i%2], tr, "t/"+n, 300); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		if err := writeKey(ctx, a, tr, fmt.Sprintf("t/c%d", i), 300); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "the hot bucket's snapshot", func() bool {
		v, _ := snapStat(t, admin, root, "t", hot)
		return v >= 0
	})

	// Writers: updates of hot keys, creates and deletes elsewhere, until stopped (each write runs to its end:
	// one cut short by its context may still take effect).
	wctx, stopWriters := context.WithCancel(ctx)
	var (
		wg     sync.WaitGroup
		writes atomic.Int64
		failed atomic.Value
	)
	for g, s := range []*Store{a, b, a, b} {
		wg.Go(func() {
			rnd := mrand.New(mrand.NewPCG(uint64(g), 1))
			for i := 0; wctx.Err() == nil; i++ {
				var err error
				switch i % 4 {
				case 0, 1:
					err = writeKey(ctx, s, tr, "t/"+hotNames[rnd.IntN(len(hotNames))], 300)
				case 2:
					err = writeKey(ctx, s, tr, fmt.Sprintf("t/n%d-%d", g, i), 300)
				case 3:
					key := fmt.Sprintf("t/c%d", rnd.IntN(300))
					e, gerr := s.Get(ctx, key)
					if gerr == nil {
						if err = s.Delete(ctx, key, e.Version); err == nil {
							tr.del(key)
						}
					}
				}
				switch {
				case err == nil:
					writes.Add(1)
				case errors.Is(err, registry.ErrConflict), errors.Is(err, registry.ErrNotFound),
					errors.Is(err, registry.ErrExists):
				default:
					failed.CompareAndSwap(nil, err)
				}
			}
		})
	}

	// Readers: subscribe, then list (as registry.Open), one after another while the writers run; each keeps
	// applying the changes it is told of.
	type reader struct {
		apply func()
		view  map[string]registry.Entry
	}
	var readers []*reader
	for range 3 {
		c, _, _ := newTestStore(t, server, root, Options{})
		var (
			mu      sync.Mutex
			changed = map[string]bool{}
		)
		stop, err := c.Subscribe("t", func(k string) { mu.Lock(); changed[k] = true; mu.Unlock() })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		live, deleted := tr.copy()
		list, err := c.List(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		_, deletedAfter := tr.copy()
		checkList(t, list, live, deleted, deletedAfter, false)
		r := &reader{view: map[string]registry.Entry{}}
		for _, e := range list {
			r.view[e.Key] = e
		}
		r.apply = func() {
			mu.Lock()
			keys := changed
			changed = map[string]bool{}
			mu.Unlock()
			if keys[registry.ReloadKey("t")] {
				t.Error("the subscription signalled a reload")
			}
			for k := range keys {
				e, err := c.Get(ctx, k)
				switch {
				case errors.Is(err, registry.ErrNotFound):
					delete(r.view, k)
				case err != nil:
					t.Error(err)
				case e.Version >= r.view[k].Version:
					r.view[k] = e
				}
			}
		}
		readers = append(readers, r)
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
			for _, r := range readers {
				r.apply()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stopWriters()
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes while listing", writes.Load())
	// Every reader's view is now exactly what was written.
	for i, r := range readers {
		start := time.Now()
		waitFor(t, 20*time.Second, fmt.Sprintf("reader %d to apply every change", i), func() bool {
			r.apply()
			live, _ := tr.copy()
			ok := len(live) == len(r.view)
			for k, e := range live {
				if got := r.view[k]; got.Version != e.Version || !bytes.Equal(got.Value, e.Value) {
					ok = false
					if time.Since(start) > 15*time.Second {
						t.Logf("reader %d: %s at %d, want %d", i, k, got.Version, e.Version)
					}
				}
			}
			for k := range r.view {
				if _, found := live[k]; !found && time.Since(start) > 15*time.Second {
					t.Logf("reader %d: %s still there", i, k)
				}
			}
			return ok
		})
	}

	// A fresh store lists exactly what was written; the hot bucket mostly from its snapshot once refreshed.
	live, deleted := tr.copy()
	d, _, _ := newTestStore(t, server, root, Options{})
	list, err := d.List(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	checkList(t, list, live, deleted, nil, true)
	waitFor(t, 30*time.Second, "the hot bucket's snapshot to cover most keys", func() bool {
		l := bucketLoadOf(t, d, "t", hot)
		return l.fromSnap >= len(l.entries)-snapshotStale
	})
	list, err = d.List(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	checkList(t, list, live, deleted, nil, true)
}

// TestStoreSnapshotRollingUpgrade: an instance of the version before snapshots (noSnapshots: it neither reads
// nor writes them; its listing drops the %snapshot child) writes beside a new one. The new one's listings
// stay exact whether the old one's writes left the snapshot within the feed's reach or beyond it, and a
// listing refreshes a snapshot left behind; the old one lists exactly too.
func TestStoreSnapshotRollingUpgrade(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := storeRoot(t, admin)
	newer, _, _ := newTestStore(t, server, root, Options{})
	older, _, _ := newTestStore(t, server, root, Options{})
	older.noSnapshots = true
	ctx := t.Context()
	bucket := bucketOf("upgrade")
	names := namesIn("u", bucket, 100)
	tr := newTruth()
	for _, n := range names[:64] { // the 64th write makes a snapshot (at 32 and 64)
		if err := writeKey(ctx, newer, tr, "t/"+n, 200); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "the snapshot at version 64", func() bool {
		l := bucketLoadOf(t, newer, "t", bucket)
		return l.snapAt == 64
	})
	check := func(what string) {
		t.Helper()
		live, deleted := tr.copy()
		fresh, _, _ := newTestStore(t, server, root, Options{})
		list, err := fresh.List(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		checkList(t, list, live, deleted, nil, true)
		list, err = older.List(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		checkList(t, list, live, deleted, nil, true)
		if l := bucketLoadOf(t, older, "t", bucket); l.fromSnap != 0 {
			t.Errorf("%s: the older instance took %d entries from a snapshot", what, l.fromSnap)
		}
		t.Logf("%s: listed %d keys", what, len(list))
	}
	check("after the new instance's writes")

	// The older instance writes 40 times: updates, creates, deletes; the snapshot is 40 behind, in reach.
	for i := range 30 {
		if err := writeKey(ctx, older, tr, "t/"+names[i], 200); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names[64:69] {
		if err := writeKey(ctx, older, tr, "t/"+n, 200); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names[40:45] {
		e, err := older.Get(ctx, "t/"+n)
		if err != nil {
			t.Fatal(err)
		}
		if err := older.Delete(ctx, "t/"+n, e.Version); err != nil {
			t.Fatal(err)
		}
		tr.del("t/" + n)
	}
	if l := bucketLoadOf(t, newer, "t", bucket); l.snapAt != 64 || l.fromSnap != 64-35 {
		t.Errorf("snapshot in reach: usable at %d with %d entries from it, want 64 and %d", l.snapAt, l.fromSnap, 64-35)
	}
	check("older writes within the feed's reach")
	// That listing refreshes the snapshot (40 writes behind) in the background: wait for it, so that the
	// next writes leave it out of reach.
	waitFor(t, 30*time.Second, "the listing's new snapshot", func() bool {
		return bucketLoadOf(t, newer, "t", bucket).snapAt == 104
	})

	// 70 more writes by the older instance: the feed no longer reaches back to the snapshot.
	for i := range 70 {
		if err := writeKey(ctx, older, tr, "t/"+names[50+i%14], 200); err != nil {
			t.Fatal(err)
		}
	}
	if l := bucketLoadOf(t, newer, "t", bucket); l.snapAt != -1 || l.fromSnap != 0 {
		t.Errorf("snapshot out of reach: usable at %d with %d entries from it, want unusable", l.snapAt, l.fromSnap)
	}
	v0, _ := snapStat(t, admin, root, "t", bucket)
	check("older writes beyond the feed's reach")
	// That listing refreshed the snapshot.
	waitFor(t, 30*time.Second, "the listing's new snapshot", func() bool {
		v, _ := snapStat(t, admin, root, "t", bucket)
		return v > v0
	})
	live, _ := tr.copy()
	if l := bucketLoadOf(t, newer, "t", bucket); l.fromSnap != len(live) {
		t.Errorf("after the refresh %d of %d entries came from the snapshot", l.fromSnap, len(live))
	}
	check("after the refresh")
}

// TestStoreSnapshotBound: a bucket whose keys do not fit in one snapshot gets a snapshot within the bound
// (leaving keys out, which are read one by one), at a small test bound and at the real one with values of
// nearly MaxValueSize; listings stay exact and the connection is never lost.
func TestStoreSnapshotBound(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	random := func(key string, v registry.Version, n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return append([]byte(fmt.Sprintf("%s@%d ", key, v)), b...)
	}
	tests := []struct {
		name  string
		limit int
		keys  int
		size  int
	}{
		{"test bound", 16 << 10, 40, 2 << 10},
		{"real bound", snapshotMax, 3, registry.MaxValueSize - 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := storeRoot(t, admin)
			s, w, _ := newTestStore(t, server, root, Options{})
			s.snapLimit = tc.limit
			ctx := t.Context()
			bucket := bucketOf("bound")
			tr := newTruth()
			for _, n := range namesIn("b", bucket, tc.keys) {
				key := "t/" + n
				v := random(key, 0, tc.size)
				if _, err := s.Create(ctx, key, v); err != nil {
					t.Fatal(err)
				}
				tr.set(key, v, 0)
			}
			if _, err := s.List(ctx, "t"); err != nil { // no snapshot yet: this one writes it
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "the snapshot at the last version", func() bool {
				return bucketLoadOf(t, s, "t", bucket).snapAt == int32(tc.keys)
			})
			_, length := snapStat(t, admin, root, "t", bucket)
			if int(length) > tc.limit {
				t.Fatalf("snapshot of %d bytes, over the bound %d", length, tc.limit)
			}
			fresh, _, _ := newTestStore(t, server, root, Options{})
			l := bucketLoadOf(t, fresh, "t", bucket)
			if l.fromSnap >= tc.keys || l.snapAt != int32(tc.keys) {
				t.Errorf("snapshot usable at %d with %d of %d entries, want some left out", l.snapAt, l.fromSnap, tc.keys)
			}
			live, deleted := tr.copy()
			list, err := fresh.List(ctx, "t")
			if err != nil {
				t.Fatal(err)
			}
			checkList(t, list, live, deleted, nil, true)
			if sess := w.Session(); sess.Sessions != 1 || sess.State != StateConnected {
				t.Errorf("session %d, %s: want the first, connected", sess.Sessions, sess.State)
			}
			t.Logf("snapshot %d bytes (bound %d), %d of %d keys in it", length, tc.limit, l.fromSnap, tc.keys)
		})
	}
}

// FuzzSnapshotDecode: snapshot data is read from ZooKeeper, where anyone with access may have written it;
// decoding never panics, and what decodes encodes back to the same entries.
func FuzzSnapshotDecode(f *testing.F) {
	codec, err := newSnapCodec()
	if err != nil {
		f.Fatal(err)
	}
	good, _ := codec.encode(7, 3, map[string]snapEntry{"a": {1, []byte("x")}, "b": {0, nil}}, snapshotMax)
	f.Add(good)
	f.Add([]byte(snapshotMagic))
	f.Add(append([]byte(snapshotMagic+"\x02\x04"), good[len(snapshotMagic)+2:]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, err := codec.decode(data)
		if err != nil {
			return
		}
		again, kept := codec.encode(snap.czxid, snap.version, snap.entries, snapshotMaxDecoded)
		if kept != len(snap.entries) {
			t.Fatalf("re-encoding kept %d of %d entries", kept, len(snap.entries))
		}
		back, err := codec.decode(again)
		if err != nil || back.czxid != snap.czxid || back.version != snap.version || len(back.entries) != len(snap.entries) {
			t.Fatalf("round trip: %v, %d entries of %d", err, len(back.entries), len(snap.entries))
		}
		for n, e := range snap.entries {
			if b := back.entries[n]; b.version != e.version || !bytes.Equal(b.data, e.data) {
				t.Fatalf("entry %q changed in the round trip", n)
			}
		}
	})
}

// BenchmarkStoreList lists a table of $YARNGATE_BENCH_LIST_KEYS keys (default 10,000) of 780 bytes as a
// registry's open does: from the bucket snapshots, and as an instance without snapshots does (every key
// read, ListConcurrency calls at a time). It reports keys/s.
func BenchmarkStoreList(b *testing.B) {
	server := testenv.Require(b).ZooKeeper
	keys := 10000
	if v, err := strconv.Atoi(os.Getenv("YARNGATE_BENCH_LIST_KEYS")); err == nil && v > 0 {
		keys = v
	}
	w, err := New(Options{Servers: []string{server}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = w.Close() })
	for deadline := time.Now().Add(15 * time.Second); w.Session().State != StateConnected; {
		if time.Now().After(deadline) {
			b.Fatal("no ZooKeeper session")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rb := make([]byte, 4)
	_, _ = rand.Read(rb)
	root := "/yarngate-test/BenchmarkStoreList-" + hex.EncodeToString(rb)
	b.Cleanup(func() {
		if err := deleteTree(w.conn, root); err != nil {
			b.Errorf("delete %s: %v", root, err)
		}
	})
	seeder, err := NewStore(w, StoreOptions{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = seeder.Close() })
	ctx := context.Background()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < keys; i = int(next.Add(1)) - 1 {
				key := fmt.Sprintf("t/application_1767225600000_%06d", i)
				if _, err := seeder.Create(ctx, key, value(key, 0, 780)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.Logf("seeded %d keys in %v", keys, time.Since(start).Round(time.Millisecond))
	// One listing refreshes the stale snapshots; wait until they cover every key.
	if _, err := seeder.List(ctx, "t"); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		loads, err := seeder.loadBuckets(ctx, "t", func() []string {
			var bs []string
			for i := range bucketCount {
				bs = append(bs, bucketName(i))
			}
			return bs
		}())
		if err != nil {
			b.Fatal(err)
		}
		covered := 0
		for _, l := range loads {
			covered += l.fromSnap
		}
		if covered == keys {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("snapshots cover %d of %d keys", covered, keys)
		}
		time.Sleep(time.Second)
	}
	for _, tc := range []struct {
		name      string
		snapshots bool
		conc      int
	}{
		{"snapshots", true, defaultListConcurrency},
		{"every-key-32", false, 32},
		{"every-key-128", false, 128},
		{"every-key-512", false, 512},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := NewStore(w, StoreOptions{Root: root, ListConcurrency: tc.conc})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.noSnapshots = !tc.snapshots
			for b.Loop() {
				list, err := s.List(ctx, "t")
				if err != nil || len(list) != keys {
					b.Fatalf("List: %d entries, %v", len(list), err)
				}
			}
			b.ReportMetric(float64(keys)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}
