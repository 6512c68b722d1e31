package zk

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/storetest"
)

// TestStoreMigration: keys of the previous, flat layout (an older gateway's registry) are moved into buckets
// with their data when a Store first lists the table; flat keys an older instance writes later (a rolling
// upgrade) are moved by a subscribed Store and reported to its subscribers; Create refuses a key an older
// instance holds flat.
func TestStoreMigration(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := storeRoot(t, admin)
	const n = 300
	for i := range n {
		createAll(t, admin, fmt.Sprintf("%s/jobs/old-%03d", root, i), []byte(fmt.Sprintf("v%d", i)), 0)
	}
	createAll(t, admin, root+"/jobs/%.", []byte("dot"), 0) // the encoded name "."
	if _, err := admin.Set(root+"/jobs/old-007", []byte("v7b"), 0); err != nil {
		t.Fatal(err)
	}

	w, reg := newTestWatcher(t, Options{Servers: []string{server}})
	s, err := NewStore(w, StoreOptions{Root: root, MigrateInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	start := time.Now()
	list, err := s.List(ctx, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("List moving %d flat keys took %v", n+1, time.Since(start).Round(time.Millisecond))
	if len(list) != n+1 {
		t.Fatalf("List after migration = %d entries, want %d", len(list), n+1)
	}
	for _, e := range list {
		var want string
		switch e.Key {
		case "jobs/.":
			want = "dot"
		case "jobs/old-007":
			want = "v7b"
		default:
			var i int
			_, _ = fmt.Sscanf(e.Key, "jobs/old-%d", &i)
			want = fmt.Sprintf("v%d", i)
		}
		if string(e.Value) != want {
			t.Errorf("%s = %q, want %q", e.Key, e.Value, want)
		}
	}
	if got := metricValue(t, reg, "yarngate_zk_store_migrated_keys_total"); got != n+1 {
		t.Errorf("store_migrated_keys_total = %v, want %d", got, n+1)
	}
	zs, _, err := admin.Children(root + "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range zs {
		if !isBucket(z) {
			t.Errorf("flat child %q left after migration", z)
		}
	}
	// The moved keys are ordinary keys now.
	e, err := s.Get(ctx, "jobs/old-007")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "jobs/old-007", []byte("v7c"), e.Version); err != nil {
		t.Fatal(err)
	}

	// An older instance, still running, creates a key flat: a subscribed Store moves it and reports it.
	var r keyRecorder
	stop, err := s.Subscribe("jobs", r.onChange)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	createAll(t, admin, root+"/jobs/late", []byte("from an older instance"), 0)
	waitFor(t, 15*time.Second, "the late flat key to be reported", func() bool { return r.count("jobs/late") > 0 })
	if e, err := s.Get(ctx, "jobs/late"); err != nil || string(e.Value) != "from an older instance" {
		t.Fatalf("Get of the moved late key = %+v, %v", e, err)
	}
	// A key an older instance holds flat (not yet moved) cannot be created again in a bucket.
	if err := admin.Delete(root+"/jobs/late", -1); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("flat late key still there after the move: %v", err)
	}
	stop()
	createAll(t, admin, root+"/jobs/claimed", []byte("older"), 0)
	if _, err := s.Create(ctx, "jobs/claimed", []byte("newer")); !errors.Is(err, registry.ErrExists) {
		t.Errorf("Create of a key held flat = %v, want ErrExists", err)
	}
}

// TestStoreLargerThanOneReply: a table whose names would not fit in one reply of the connection (here an
// artificial 16 KiB limit, ZooKeeper's is 1 MiB; make bench-scale shows the real size) opens, lists and is
// watched on one session that never breaks. Under the flat layout its one listing ended the connection.
func TestStoreLargerThanOneReply(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := storeRoot(t, admin)
	const maxReply = 16 << 10
	const keys = 2500 // names of 24 bytes: ~70 KiB of names, 4 replies' worth
	w, _ := newTestWatcher(t, Options{Servers: []string{server}, MaxBufferSize: maxReply})
	waitFor(t, 15*time.Second, "a ZooKeeper session", func() bool { return w.Session().State == StateConnected })
	s, err := NewStore(w, StoreOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	name := func(i int) string { return fmt.Sprintf("application_%012d", i) }
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, keys)
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < keys; i += 16 {
				if _, err := s.Create(ctx, "jobs/"+name(i), []byte("{}")); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("created %d keys in %v", keys, time.Since(start).Round(time.Millisecond))
	if flat := keys * (4 + len(name(0))); flat <= 2*maxReply {
		t.Fatalf("a flat listing would be %d bytes, not well over the %d limit", flat, maxReply)
	}

	peer, _, _ := newTestStore(t, server, root, Options{})
	var r keyRecorder
	stop, err := s.Subscribe("jobs", r.onChange)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	list, err := s.List(ctx, "jobs")
	if err != nil || len(list) != keys {
		t.Fatalf("List = %d entries, %v; want %d", len(list), err, keys)
	}
	key := "jobs/" + name(1234)
	if _, err := peer.Update(ctx, key, []byte(`{"x":1}`), 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, storetest.NotifyWithin, "the peer's update", func() bool { return r.count(key) > 0 })
	if sess := w.Session(); sess.State != StateConnected || sess.Sessions != 1 {
		t.Errorf("session = %+v; want the first one, connected throughout", sess)
	}
}
