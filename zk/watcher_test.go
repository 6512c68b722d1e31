package zk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// signal returns a notify function and the channel it signals (coalescing, never blocking).
func signal() (func(), <-chan struct{}) {
	ch := make(chan struct{}, 1)
	return func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}, ch
}

// waitNode waits until h's snapshot satisfies cond, waking on notifications and every 20 ms.
func waitNode(t *testing.T, h *Watch, sig <-chan struct{}, timeout time.Duration, what string, cond func(Node) bool) Node {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n := h.Node()
		if cond(n) {
			return n
		}
		select {
		case <-sig:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s; last snapshot %+v", timeout, what, n)
		}
	}
}

func hasData(s string) func(Node) bool {
	return func(n Node) bool { return n.Certain && n.Exists && string(n.Data) == s }
}

func TestWatcherFollowsCreateChangeDelete(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := testRoot(t, admin)
	w, reg := newTestWatcher(t, Options{Servers: []string{server}})

	notify, sig := signal()
	var calls atomic.Int32
	h, err := w.Watch(root+"/node", func() { calls.Add(1); notify() })
	if err != nil {
		t.Fatal(err)
	}
	waitNode(t, h, sig, 10*time.Second, "absent and certain", func(n Node) bool { return n.Certain && !n.Exists })

	if _, err := admin.Create(root+"/node", []byte("v1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	n := waitNode(t, h, sig, 5*time.Second, "v1 after create", hasData("v1"))
	if n.Stat.Version != 0 || n.Stat.Ctime.IsZero() || n.Err != nil {
		t.Errorf("after create: %+v", n)
	}
	if _, err := admin.Set(root+"/node", []byte("v2"), -1); err != nil {
		t.Fatal(err)
	}
	n = waitNode(t, h, sig, 5*time.Second, "v2 after set", hasData("v2"))
	if n.Stat.Version != 1 {
		t.Errorf("Version = %d, want 1", n.Stat.Version)
	}

	// Read-through: a certain watched path comes from the cache, an unwatched one from ZooKeeper.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if got, err := w.Get(ctx, root+"/node"); err != nil || string(got.Data) != "v2" || !got.Certain {
		t.Errorf("Get(watched) = %+v, %v", got, err)
	}
	if got, err := w.Get(ctx, root); err != nil || !got.Exists || !got.Certain {
		t.Errorf("Get(unwatched root) = %+v, %v", got, err)
	}
	if got, err := w.Get(ctx, root+"/missing"); err != nil || got.Exists {
		t.Errorf("Get(missing) = %+v, %v", got, err)
	}

	if err := admin.Delete(root+"/node", -1); err != nil {
		t.Fatal(err)
	}
	waitNode(t, h, sig, 5*time.Second, "absent after delete", func(n Node) bool { return n.Certain && !n.Exists })

	if n := calls.Load(); n < 4 { // first read, create, set, delete
		t.Errorf("notify called %d times, want at least 4", n)
	}
	if got := metricValue(t, reg, "yarngate_zk_watch_rearms_total"); got < 4 {
		t.Errorf("watch_rearms_total = %v, want >= 4 (first arm + one per event)", got)
	}
	if got := metricValue(t, reg, "yarngate_zk_watched_paths"); got != 1 {
		t.Errorf("watched_paths = %v, want 1", got)
	}
	h.Stop()
	h.Stop()
	if got := metricValue(t, reg, "yarngate_zk_watched_paths"); got != 0 {
		t.Errorf("watched_paths after Stop = %v, want 0", got)
	}
	if s := w.Session(); s.State != StateConnected || s.Sessions != 1 || s.ID == 0 {
		t.Errorf("Session = %+v", s)
	}
}

// TestWatcherRapidChanges: far more changes than go-zookeeper's six-event channel holds, on many paths at once;
// the final state of every path must be observed.
func TestWatcherRapidChanges(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := testRoot(t, admin)
	w, _ := newTestWatcher(t, Options{Servers: []string{server}, ResyncInterval: -1})

	const paths, changes = 20, 50
	handles := make([]*Watch, paths)
	for i := range handles {
		p := fmt.Sprintf("%s/n%02d", root, i)
		if _, err := admin.Create(p, []byte("v0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		var err error
		if handles[i], err = w.Watch(p, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range handles {
		waitNode(t, h, nil, 10*time.Second, "first read", hasData("v0"))
	}
	// Interleaved bursts: sets, and on every fifth round a delete and re-create, sent asynchronously through
	// Multi so that changes arrive faster than the Watcher re-reads.
	for c := 1; c <= changes; c++ {
		var ops []any
		for i := range paths {
			p := fmt.Sprintf("%s/n%02d", root, i)
			if c%5 == 0 {
				ops = append(ops, &zk.DeleteRequest{Path: p, Version: -1},
					&zk.CreateRequest{Path: p, Data: []byte(fmt.Sprintf("v%d", c)), Acl: zk.WorldACL(zk.PermAll)})
			} else {
				ops = append(ops, &zk.SetDataRequest{Path: p, Data: []byte(fmt.Sprintf("v%d", c)), Version: -1})
			}
		}
		if _, err := admin.Multi(ops...); err != nil {
			t.Fatalf("round %d: %v", c, err)
		}
	}
	want := fmt.Sprintf("v%d", changes)
	for i, h := range handles {
		waitNode(t, h, nil, 10*time.Second, fmt.Sprintf("n%02d = %s", i, want), hasData(want))
	}
}

func TestWatcherSessionExpiry(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := testRoot(t, admin)
	px := startProxy(t, server)
	// The smallest session the server grants (2 ticks = 2 s), and no periodic re-read: recovery must come from
	// the re-read and re-arm after expiry.
	w, reg := newTestWatcher(t, Options{Servers: []string{px.addr()}, SessionTimeout: 2 * time.Second, ResyncInterval: -1})
	createAll(t, admin, root+"/n", []byte("before"), 0)
	notify, sig := signal()
	h, err := w.Watch(root+"/n", notify)
	if err != nil {
		t.Fatal(err)
	}
	waitNode(t, h, sig, 10*time.Second, "before", hasData("before"))
	first := w.Session()

	px.setRefuse(true)
	waitNode(t, h, sig, 5*time.Second, "uncertain while cut off", func(n Node) bool { return !n.Certain })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if got, err := w.Get(ctx, root+"/n"); !errors.Is(err, ErrUnavailable) || got.Certain || string(got.Data) != "before" {
		t.Errorf("Get while cut off = %+v, %v; want the stale, uncertain snapshot and ErrUnavailable", got, err)
	}
	if _, err := admin.Set(root+"/n", []byte("during"), -1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // > 2 x the session timeout: the server expires the session
	px.setRefuse(false)

	waitNode(t, h, sig, 15*time.Second, "re-read after expiry", hasData("during"))
	s := w.Session()
	if s.ID == first.ID || s.Sessions != 2 {
		t.Fatalf("session after expiry = %+v, first %+v; want a second session", s, first)
	}
	if got := metricValue(t, reg, "yarngate_zk_sessions_established_total"); got != 2 {
		t.Errorf("sessions_established_total = %v, want 2", got)
	}
	// The watch was re-armed in the new session: a change is seen without any periodic re-read.
	if _, err := admin.Set(root+"/n", []byte("after"), -1); err != nil {
		t.Fatal(err)
	}
	waitNode(t, h, sig, 5*time.Second, "change after expiry", hasData("after"))
}

func TestWatcherReconnectWithinSession(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := testRoot(t, admin)
	px := startProxy(t, server)
	w, _ := newTestWatcher(t, Options{Servers: []string{px.addr()}, SessionTimeout: 10 * time.Second, ResyncInterval: -1})
	createAll(t, admin, root+"/n", []byte("before"), 0)
	h, err := w.Watch(root+"/n", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitNode(t, h, nil, 10*time.Second, "before", hasData("before"))
	first := w.Session()

	px.setRefuse(true)
	waitNode(t, h, nil, 5*time.Second, "uncertain while cut off", func(n Node) bool { return !n.Certain })
	if _, err := admin.Set(root+"/n", []byte("during"), -1); err != nil {
		t.Fatal(err)
	}
	px.setRefuse(false)
	waitNode(t, h, nil, 10*time.Second, "change made while disconnected", hasData("during"))
	if s := w.Session(); s.ID != first.ID || s.Sessions != 1 {
		t.Errorf("session = %+v, want the first one (%x) kept", s, first.ID)
	}
	if _, err := admin.Set(root+"/n", []byte("after"), -1); err != nil {
		t.Fatal(err)
	}
	waitNode(t, h, nil, 5*time.Second, "change after reconnect", hasData("after"))
}

func TestWatcherUnavailableThenRecovers(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := testRoot(t, admin)
	createAll(t, admin, root+"/n", []byte("x"), 0)
	px := startProxy(t, server)
	px.setRefuse(true)

	w, reg := newTestWatcher(t, Options{Servers: []string{px.addr()}})
	h, err := w.Watch(root+"/n", nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := h.Node(); n.Certain || n.Exists || !errors.Is(n.Err, ErrUnavailable) {
		t.Errorf("snapshot with ZooKeeper unreachable = %+v; want uncertain, empty, ErrUnavailable", n)
	}
	start := time.Now()
	if _, err := w.Get(t.Context(), root+"/n"); !errors.Is(err, ErrUnavailable) || time.Since(start) > time.Second {
		t.Errorf("Get = %v after %v; want ErrUnavailable at once", err, time.Since(start))
	}
	if s := w.Session(); s.State == StateConnected || s.Sessions != 0 {
		t.Errorf("Session = %+v", s)
	}
	if got := metricValue(t, reg, `yarngate_zk_session_transitions_total`); got == 0 {
		t.Errorf("no session transitions counted")
	}
	px.setRefuse(false)
	waitNode(t, h, nil, 10*time.Second, "data once ZooKeeper answers", hasData("x"))
}

// TestWatcherNothingListening: a quorum address where nothing listens leaves everything uncertain, and Close
// still stops every goroutine promptly.
func TestWatcherNothingListening(t *testing.T) {
	checkNoGoroutineLeak(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	w, err := New(Options{Servers: []string{addr}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := w.Watch("/a/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := h.Node(); n.Certain {
		t.Errorf("snapshot = %+v, want uncertain", n)
	}
	start := time.Now()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if _, err := w.Watch("/a", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close = %v, want ErrClosed", err)
	}
	if s := w.Session(); s.State != StateClosed {
		t.Errorf("state after Close = %v", s.State)
	}
}

// TestWatcherNoAuth: a znode whose ACL refuses the client (as a sasl:-only ACL does for go-zookeeper) is
// reported as uncertain with ErrNoAuth, and retried with a bounded backoff.
func TestWatcherNoAuth(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := testRoot(t, admin)
	if _, err := admin.Create(root+"/secret", []byte("x"), 0, zk.DigestACL(zk.PermAll, "someone", "pw")); err != nil {
		t.Fatal(err)
	}
	w, reg := newTestWatcher(t, Options{Servers: []string{server}, RetryMax: 200 * time.Millisecond})
	h, err := w.Watch(root+"/secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := waitNode(t, h, nil, 10*time.Second, "ErrNoAuth", func(n Node) bool { return errors.Is(n.Err, ErrNoAuth) })
	if n.Certain || !errors.Is(n.Err, zk.ErrNoAuth) {
		t.Errorf("snapshot = %+v", n)
	}
	// The server refuses exists too, so no watch is set; retries back off (RetryMax 200 ms: at most ~10 in 1 s).
	before := metricValue(t, reg, "yarngate_zk_reads_total")
	time.Sleep(time.Second)
	if got := metricValue(t, reg, "yarngate_zk_reads_total") - before; got < 2 || got > 15 {
		t.Errorf("%v reads in 1 s of retries, want 2..15", got)
	}
	if got := metricValue(t, reg, "yarngate_zk_watch_rearms_total"); got != 0 {
		t.Errorf("watch_rearms_total = %v, want 0", got)
	}
}

func TestWatcherWithCallersConn(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := testRoot(t, admin)
	conn, events, err := zk.Connect([]string{server}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	w, _ := newTestWatcher(t, Options{Conn: conn, Events: events})
	h, err := w.Watch(root+"/n", nil)
	if err != nil {
		t.Fatal(err)
	}
	createAll(t, admin, root+"/n", []byte("x"), 0)
	waitNode(t, h, nil, 10*time.Second, "x", hasData("x"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.Get(root + "/n"); err != nil {
		t.Errorf("caller's connection unusable after Watcher.Close: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	conn := &zk.Conn{}
	cases := map[string]Options{
		"nothing":           {},
		"both":              {Servers: []string{"a:1"}, Conn: conn},
		"events, no conn":   {Servers: []string{"a:1"}, Events: make(chan zk.Event)},
		"comma list":        {Servers: []string{"a:1,b:2"}},
		"empty server":      {Servers: []string{" "}},
		"tiny session":      {Servers: []string{"a:1"}, SessionTimeout: time.Millisecond},
		"negative buffer":   {Servers: []string{"a:1"}, MaxBufferSize: -1},
		"tiny retry":        {Servers: []string{"a:1"}, RetryMax: time.Millisecond},
		"path in addresses": {Servers: []string{"a:1/chroot"}},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			if w, err := New(o); err == nil || !strings.HasPrefix(err.Error(), "zk: options:") {
				if w != nil {
					w.Close()
				}
				t.Errorf("New = %v, want an options error", err)
			}
		})
	}
	for _, p := range []string{"", "a", "/a/", "/a//b", "/a/./b", "/a/../b", "/a\x00"} {
		if err := zkValidatePath(p); err == nil {
			t.Errorf("zkValidatePath(%q) = nil", p)
		}
	}
	for _, p := range []string{"/", "/a", "/a/b.c/d-e_f"} {
		if err := zkValidatePath(p); err != nil {
			t.Errorf("zkValidatePath(%q) = %v", p, err)
		}
	}
}
