package zk

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/storetest"
	"github.com/yarngate/yarngate/testenv"
)

// testDigest is the digest credentials of the gateway in these tests.
const testDigest = "yarngate:s3cret:with-colon"

// authConn is adminConn authenticated with digest.
func authConn(t *testing.T, server, digest string) *zk.Conn {
	t.Helper()
	c := adminConn(t, server)
	if err := c.AddAuth("digest", []byte(digest)); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestACLSecure(t *testing.T) {
	own := zk.DigestACL(zk.PermAll, "yarngate", "pw")[0]
	other := zk.DigestACL(zk.PermAll, "admin", "x")[0]
	world := func(perms int32) zk.ACL { return zk.ACL{Perms: perms, Scheme: "world", ID: "anyone"} }
	cases := []struct {
		name string
		acl  []zk.ACL
		want bool
	}{
		{"only ours", []zk.ACL{own}, true},
		{"ours and world read", []zk.ACL{own, world(zk.PermRead)}, true},
		{"ours and an operator's admin digest", []zk.ACL{own, other}, true},
		{"world-open, as older versions created them", []zk.ACL{world(zk.PermAll)}, false},
		{"ours and world create", []zk.ACL{own, world(zk.PermRead | zk.PermCreate)}, false},
		{"ours and a writable ip", []zk.ACL{own, {Perms: zk.PermWrite, Scheme: "ip", ID: "10.0.0.0/8"}}, false},
		{"ours without admin", []zk.ACL{{Perms: zk.PermAll &^ zk.PermAdmin, Scheme: own.Scheme, ID: own.ID}}, false},
		{"another digest only", []zk.ACL{other}, false},
		{"empty", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := aclSecure(tc.acl, own); got != tc.want {
				t.Errorf("aclSecure(%v) = %v, want %v", tc.acl, got, tc.want)
			}
		})
	}
}

// TestStoreConformanceDigest runs the conformance suite with digest authentication: every znode the Store
// creates is closed to everyone else.
func TestStoreConformanceDigest(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := authConn(t, server, testDigest)
	storetest.Run(t, func(t *testing.T) registry.Store {
		s, _, _ := newTestStore(t, server, storeRoot(t, admin), Options{Digest: testDigest})
		return s
	})
	storetest.RunPeers(t, func(t *testing.T) (registry.Store, registry.Store) {
		root := storeRoot(t, admin)
		a, _, _ := newTestStore(t, server, root, Options{Digest: testDigest})
		b, _, _ := newTestStore(t, server, root, Options{Digest: testDigest})
		return a, b
	})
}

// TestZnodesClosedToOthers is the registry and election of a gateway with digest credentials on a private
// ZooKeeper (testenv.StartZooKeeper): a znode left world-open by an older version is secured, a client without
// the credentials (or with others) can neither read, change, delete nor create under any of their znodes, and
// the gateway keeps working, authenticated, after ZooKeeper restarts and after its session expires.
func TestZnodesClosedToOthers(t *testing.T) {
	checkNoGoroutineLeak(t)
	z := testenv.StartZooKeeper(t)
	const root = "/yarngate-acl"
	admin := authConn(t, z.Addr(), testDigest)
	t.Cleanup(func() { _ = deleteTree(admin, root) })
	stranger := adminConn(t, z.Addr())
	impostor := authConn(t, z.Addr(), "yarngate:guess")

	// An older, unauthenticated gateway left a record and a table world-open.
	createAll(t, stranger, root+"/registry/jobs/old", []byte("v0"), 0)

	px := startProxy(t, z.Addr())
	w, _ := newTestWatcher(t, Options{Servers: []string{px.addr()}, Digest: testDigest, SessionTimeout: 2 * time.Second})
	if !w.Protected() {
		t.Fatal("Protected() = false with Digest")
	}
	ctx := t.Context()
	fixed, err := w.SecureTree(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if fixed != 4 { // root, registry, jobs, old
		t.Errorf("SecureTree fixed %d znodes, want 4", fixed)
	}
	if again, err := w.SecureTree(ctx, root); err != nil || again != 0 {
		t.Errorf("SecureTree again = %d, %v; want 0, nil", again, err)
	}
	s, err := NewStore(w, StoreOptions{Root: root + "/registry"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Create(ctx, "keys/k1", []byte("claim")); err != nil {
		t.Fatal(err)
	}
	v, err := s.Create(ctx, "jobs/a", []byte("record"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewElection(w, ElectionOptions{Path: root + "/reconciler", ID: "gw-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	waitFor(t, 15*time.Second, "leadership", e.IsLeader)

	znodes := func() []string {
		cands, _, err := admin.Children(root + "/reconciler")
		if err != nil || len(cands) != 1 {
			t.Fatalf("election candidates = %v, %v", cands, err)
		}
		// The record of the older gateway is flat until a List or Subscribe moves it into its bucket.
		old := root + "/registry/jobs/old"
		if ok, _, err := admin.Exists(old); err != nil || !ok {
			old = bucketed(root+"/registry/jobs", "old")
		}
		return []string{root, root + "/registry", root + "/registry/jobs", root + "/registry/jobs/" + bucketOf("a"),
			bucketed(root+"/registry/jobs", "a"), old, root + "/registry/keys", root + "/registry/keys/" + bucketOf("k1"),
			bucketed(root+"/registry/keys", "k1"), root + "/reconciler",
			root + "/reconciler/" + cands[0]}
	}
	checkClosed := func(t *testing.T) {
		t.Helper()
		for who, c := range map[string]*zk.Conn{"unauthenticated": stranger, "other digest": impostor} {
			for _, p := range znodes() {
				if _, err := c.Set(p, []byte("x"), -1); !errors.Is(err, zk.ErrNoAuth) {
					t.Errorf("%s: Set %s = %v, want ErrNoAuth", who, p, err)
				}
				if _, err := c.Create(p+"/intruder", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoAuth) {
					t.Errorf("%s: Create under %s = %v, want ErrNoAuth", who, p, err)
				}
				if _, _, err := c.Get(p); !errors.Is(err, zk.ErrNoAuth) {
					t.Errorf("%s: Get %s = %v, want ErrNoAuth", who, p, err)
				}
				if _, err := c.SetACL(p, zk.WorldACL(zk.PermAll), -1); !errors.Is(err, zk.ErrNoAuth) {
					t.Errorf("%s: SetACL %s = %v, want ErrNoAuth", who, p, err)
				}
				// Deleting needs DELETE on the parent: root's parent is "/", and root is never empty.
				want := zk.ErrNoAuth
				if p == root {
					want = zk.ErrNotEmpty
				}
				if err := c.Delete(p, -1); !errors.Is(err, want) {
					t.Errorf("%s: Delete %s = %v, want %v", who, p, err, want)
				}
			}
		}
	}
	checkClosed(t)
	acl, _, err := admin.GetACL(bucketed(root+"/registry/jobs", "a"))
	if err != nil || !slices.Equal(acl, zk.DigestACL(zk.PermAll, "yarngate", "s3cret:with-colon")) {
		t.Errorf("ACL of a record = %v, %v; want the digest identity's only", acl, err)
	}

	// Works after ZooKeeper restarts (same session; go-zookeeper re-sends the credentials) ...
	first := w.Session()
	z.Stop()
	waitFor(t, 5*time.Second, "the session to be lost", func() bool { return w.Session().State != StateConnected })
	z.Start()
	waitFor(t, 30*time.Second, "a session again", func() bool { return w.Session().State == StateConnected })
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if v, err = s.Update(wctx, "jobs/a", []byte("after restart"), v); err != nil {
		t.Fatalf("Update after a ZooKeeper restart: %v", err)
	}
	// ... and after its session expired (a new session authenticates again).
	px.setRefuse(true)
	waitFor(t, 5*time.Second, "the session to be lost", func() bool { return w.Session().State != StateConnected })
	time.Sleep(5 * time.Second) // > the 2 s session timeout
	px.setRefuse(false)
	waitFor(t, 30*time.Second, "a new session", func() bool {
		s := w.Session()
		return s.State == StateConnected && s.ID != first.ID
	})
	if _, err = s.Update(wctx, "jobs/a", []byte("after expiry"), v); err != nil {
		t.Fatalf("Update after a session expiry: %v", err)
	}
	if _, err := s.Create(wctx, "jobs/b", []byte("new")); err != nil {
		t.Fatalf("Create after a session expiry: %v", err)
	}
	waitFor(t, 15*time.Second, "leadership in the new session", e.IsLeader)
	if n, err := s.List(wctx, "jobs"); err != nil || len(n) != 3 {
		t.Errorf("List after the expiry = %d entries, %v; want 3", len(n), err)
	}
	for _, c := range []*zk.Conn{admin, stranger, impostor} {
		waitFor(t, 30*time.Second, "the test's own sessions", func() bool { return c.State() == zk.StateHasSession })
	}
	checkClosed(t)
	if _, err := stranger.Create(bucketed(root+"/registry/jobs", "b")+"/x", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("Create under a record made after the expiry = %v, want ErrNoAuth", err)
	}
	e.Close()
	s.Close()
}

// TestSecureTreeLockedOut: a znode of the tree under another identity's ACL cannot be secured, and SecureTree
// says which.
func TestSecureTreeLockedOut(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := authConn(t, server, testDigest)
	root := storeRoot(t, admin)
	other := authConn(t, server, "someone:else")
	createAll(t, admin, root, nil, 0)
	if _, err := other.Create(root+"/taken", nil, 0, zk.DigestACL(zk.PermAll, "someone", "else")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Delete(root+"/taken", -1) })
	w, _ := newTestWatcher(t, Options{Servers: []string{server}, Digest: testDigest})
	_, err := w.SecureTree(t.Context(), root)
	if !errors.Is(err, ErrNoAuth) {
		t.Fatalf("SecureTree = %v, want ErrNoAuth naming %s/taken", err, root)
	}
	t.Log(err)

	unprotected, _ := newTestWatcher(t, Options{Servers: []string{server}})
	if _, err := unprotected.SecureTree(t.Context(), root); err == nil {
		t.Error("SecureTree without Digest succeeded")
	}
}

// TestSecureTreeBuckets: buckets a gateway without digest created world-open are secured with their records;
// secure buckets are not walked (a second run changes nothing and reads no record).
func TestSecureTreeBuckets(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := authConn(t, server, testDigest)
	root := storeRoot(t, admin)
	open, _, _ := newTestStore(t, server, root+"/registry", Options{})
	for _, k := range []string{"jobs/a", "jobs/b", "keys/k"} {
		if _, err := open.Create(t.Context(), k, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := newTestWatcher(t, Options{Servers: []string{server}, Digest: testDigest})
	fixed, err := w.SecureTree(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	// root, registry, jobs, keys, 3 records, and their buckets (2 or 3)
	buckets := map[string]bool{"jobs/" + bucketOf("a"): true, "jobs/" + bucketOf("b"): true, "keys/" + bucketOf("k"): true}
	if want := 7 + len(buckets); fixed != want {
		t.Errorf("SecureTree fixed %d znodes, want %d", fixed, want)
	}
	stranger := adminConn(t, server)
	for _, p := range []string{bucketed(root+"/registry/jobs", "a"), bucketed(root+"/registry/keys", "k"),
		root + "/registry/jobs/" + bucketOf("b")} {
		if _, err := stranger.Set(p, []byte("y"), -1); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("Set %s after SecureTree = %v, want ErrNoAuth", p, err)
		}
	}
	if again, err := w.SecureTree(t.Context(), root); err != nil || again != 0 {
		t.Errorf("SecureTree again = %d, %v; want 0, nil", again, err)
	}
}
