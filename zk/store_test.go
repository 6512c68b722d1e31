package zk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/storetest"
	"github.com/yarngate/yarngate/testenv"
)

// storeRoot returns a unique root /yarngate-test/<test name>-<random> and deletes its tree at cleanup.
func storeRoot(t *testing.T, admin *zk.Conn) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", "_", " ", "_", "#", "_").Replace(t.Name())
	root := "/yarngate-test/" + name + "-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if err := deleteTree(admin, root); err != nil {
			t.Errorf("delete %s: %v", root, err)
		}
	})
	return root
}

// newTestStore starts a Watcher on server, waits for its session and returns a Store on root; both close at
// cleanup, the Store first.
func newTestStore(t *testing.T, server, root string, opts Options) (*Store, *Watcher, *prometheus.Registry) {
	t.Helper()
	opts.Servers = []string{server}
	w, reg := newTestWatcher(t, opts)
	waitFor(t, 15*time.Second, "a ZooKeeper session", func() bool { return w.Session().State == StateConnected })
	s, err := NewStore(w, StoreOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, w, reg
}

func TestStoreConformance(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	storetest.Run(t, func(t *testing.T) registry.Store {
		s, _, _ := newTestStore(t, server, storeRoot(t, admin), Options{})
		return s
	})
}

// TestStorePeers is the multi-gateway case: a change written through one Watcher and Store reaches a
// subscriber on another.
func TestStorePeers(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	storetest.RunPeers(t, func(t *testing.T) (registry.Store, registry.Store) {
		root := storeRoot(t, admin)
		a, _, _ := newTestStore(t, server, root, Options{})
		b, _, _ := newTestStore(t, server, root, Options{})
		return a, b
	})
}

// keyRecorder collects onChange keys.
type keyRecorder struct {
	mu   sync.Mutex
	seen map[string]int
}

func (r *keyRecorder) onChange(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]int{}
	}
	r.seen[key]++
}

func (r *keyRecorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[key]
}

func (r *keyRecorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.seen {
		n += c
	}
	return n
}

func TestStoreSessionExpiry(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := storeRoot(t, admin)
	px := startProxy(t, server)
	// The smallest session the server grants and no periodic re-read: recovery must come from the new session.
	s, w, reg := newTestStore(t, px.addr(), root, Options{SessionTimeout: 2 * time.Second, ResyncInterval: -1})
	peer, _, _ := newTestStore(t, server, root, Options{})
	ctx := t.Context()
	v, err := peer.Create(ctx, "jobs/a", []byte("before"))
	if err != nil {
		t.Fatal(err)
	}
	var r keyRecorder
	stop, err := s.Subscribe("jobs", r.onChange)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	first := w.Session()
	seenBefore := r.count("jobs/a")

	px.setRefuse(true)
	waitFor(t, 5*time.Second, "the session to be lost", func() bool { return w.Session().State != StateConnected })
	ctxShort, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := s.Get(ctxShort, "jobs/a"); !errors.Is(err, registry.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get while cut off = %v, want ErrUnavailable and the context's error", err)
	}
	if v, err = peer.Update(ctx, "jobs/a", []byte("during"), v); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // > 2 x the session timeout: the server expires the session
	px.setRefuse(false)

	// The bucket's change feed covers the outage: the key changed meanwhile is reported, no reload needed.
	waitFor(t, 15*time.Second, "the change made during the outage", func() bool { return r.count("jobs/a") > seenBefore })
	if s := w.Session(); s.ID == first.ID || s.Sessions != 2 {
		t.Fatalf("session after expiry = %+v, first %+v; want a second session", s, first)
	}
	if got := metricValue(t, reg, "yarngate_zk_store_reloads_total"); got != 0 || r.count("jobs/") != 0 {
		t.Errorf("store_reloads_total = %v, reload signals %d; want none", got, r.count("jobs/"))
	}
	if e, err := s.Get(ctx, "jobs/a"); err != nil || string(e.Value) != "during" {
		t.Fatalf("Get after the outage = %+v, %v", e, err)
	}
	// The watches were re-armed in the new session: later changes, new keys and deletions are seen.
	before := r.count("jobs/a")
	if _, err := peer.Update(ctx, "jobs/a", []byte("after"), v); err != nil {
		t.Fatal(err)
	}
	waitFor(t, storetest.NotifyWithin, "the update after expiry", func() bool { return r.count("jobs/a") > before })
	if _, err := peer.Create(ctx, "jobs/b", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, storetest.NotifyWithin, "a create after expiry", func() bool { return r.count("jobs/b") > 0 })
	if err := peer.Delete(ctx, "jobs/b", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, storetest.NotifyWithin, "a delete after expiry", func() bool { return r.count("jobs/b") > 1 })
}

func TestStoreManyKeys(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := storeRoot(t, admin)
	const keys = 2000
	// Write the keys through the admin connection, pipelined, as the store would lay them out.
	createAll(t, admin, root+"/jobs/k0000", []byte("0"), 0)
	var wg sync.WaitGroup
	var failed atomic.Int32
	start := time.Now()
	for g := range 8 {
		wg.Go(func() {
			for i := 1 + g; i < keys; i += 8 {
				if _, err := admin.Create(fmt.Sprintf("%s/jobs/k%04d", root, i), []byte("0"), 0,
					zk.WorldACL(zk.PermAll)); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d creates failed", failed.Load())
	}
	t.Logf("created %d znodes in %v", keys, time.Since(start).Round(time.Millisecond))

	s, _, _ := newTestStore(t, server, root, Options{})
	peer, _, _ := newTestStore(t, server, root, Options{})
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	g0 := runtime.NumGoroutine()
	var r keyRecorder
	start = time.Now()
	stop, err := s.Subscribe("jobs", r.onChange)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	synced := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	g1 := runtime.NumGoroutine()
	t.Logf("Subscribe of %d keys synced in %v; goroutines %d -> %d; heap %.1f -> %.1f MiB", keys,
		synced.Round(time.Millisecond), g0, g1, float64(ms0.HeapAlloc)/(1<<20), float64(ms1.HeapAlloc)/(1<<20))
	if synced >= defaultOpTimeout {
		t.Errorf("initial sync took %v, not below OpTimeout", synced)
	}
	if n := r.total(); n != 0 {
		t.Errorf("initial sync delivered %d changes, want none", n)
	}
	start = time.Now()
	list, err := s.List(t.Context(), "jobs")
	if err != nil || len(list) != keys {
		t.Fatalf("List = %d entries, %v", len(list), err)
	}
	t.Logf("List of %d keys in %v", keys, time.Since(start).Round(time.Millisecond))

	for _, i := range []int{0, 999, 1999} {
		key := fmt.Sprintf("jobs/k%04d", i)
		e, err := peer.Get(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := peer.Update(t.Context(), key, []byte("1"), e.Version); err != nil {
			t.Fatal(err)
		}
		waitFor(t, storetest.NotifyWithin, "update of "+key, func() bool { return r.count(key) > 0 })
		t.Logf("update of %s seen after %v", key, time.Since(start).Round(time.Millisecond))
	}
	if err := peer.Delete(t.Context(), "jobs/k0500", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, storetest.NotifyWithin, "delete of jobs/k0500", func() bool { return r.count("jobs/k0500") > 0 })
}

func TestStoreOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    StoreOptions
		wantErr bool
	}{
		{name: "defaults", opts: StoreOptions{Root: "/yarngate"}},
		{name: "no root", opts: StoreOptions{}, wantErr: true},
		{name: "slash root", opts: StoreOptions{Root: "/"}, wantErr: true},
		{name: "relative root", opts: StoreOptions{Root: "yarngate"}, wantErr: true},
		{name: "dot segment", opts: StoreOptions{Root: "/a/../b"}, wantErr: true},
		{name: "negative timeout", opts: StoreOptions{Root: "/a", OpTimeout: -time.Second}, wantErr: true},
		{name: "negative concurrency", opts: StoreOptions{Root: "/a", ListConcurrency: -1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.setDefaults()
			if err := tc.opts.validate(); (err != nil) != tc.wantErr {
				t.Fatalf("validate() = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestStoreSegments(t *testing.T) {
	tests := []struct {
		in, znode string
	}{
		{"jobs", "jobs"}, {".", "%."}, {"..", "%.."}, {"a.b", "a.b"}, {"...", "..."},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := encodeSegment(tc.in); got != tc.znode {
				t.Fatalf("encodeSegment(%q) = %q, want %q", tc.in, got, tc.znode)
			}
			if got, ok := decodeSegment(tc.znode); !ok || got != tc.in {
				t.Fatalf("decodeSegment(%q) = %q, %v", tc.znode, got, ok)
			}
		})
	}
	for _, foreign := range []string{"%x", "%%.", "a b", ""} {
		if got, ok := decodeSegment(foreign); ok {
			t.Errorf("decodeSegment(%q) = %q, want not ours", foreign, got)
		}
	}
}

func BenchmarkStore(b *testing.B) {
	server := testenv.Require(b).ZooKeeper
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
	root := "/yarngate-test/BenchmarkStore-" + hex.EncodeToString(rb)
	b.Cleanup(func() {
		if err := deleteTree(w.conn, root); err != nil {
			b.Errorf("delete %s: %v", root, err)
		}
	})
	s, err := NewStore(w, StoreOptions{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	storetest.Bench(b, func(*testing.B) registry.Store { return s })
}
