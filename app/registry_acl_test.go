package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/yarngate/yarngate/config"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/testenv"
	"github.com/yarngate/yarngate/zk"
)

// zkSession connects to server (authenticated with digest unless it is empty) and waits for a session.
func zkSession(t *testing.T, server, digest string) *gozk.Conn {
	t.Helper()
	conn, _, err := gozk.Connect([]string{server}, 10*time.Second, gozk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	waitSession(t, conn)
	if digest != "" {
		if err := conn.AddAuth("digest", []byte(digest)); err != nil {
			t.Fatal(err)
		}
	}
	return conn
}

// waitSession waits until conn has a session (again, after a ZooKeeper restart).
func waitSession(t *testing.T, conn *gozk.Conn) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); conn.State() != gozk.StateHasSession; {
		if time.Now().After(deadline) {
			t.Fatalf("no ZooKeeper session with %s", conn.Server())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// znodesUnder lists root and every znode below it.
func znodesUnder(t *testing.T, conn *gozk.Conn, root string) []string {
	t.Helper()
	out := []string{root}
	children, _, err := conn.Children(root)
	if err != nil {
		t.Fatalf("children of %s: %v", root, err)
	}
	for _, c := range children {
		out = append(out, znodesUnder(t, conn, root+"/"+c)...)
	}
	return out
}

// TestRegistryZnodesClosed opens the gateway's ZooKeeper registry and election (openRecords) on a private
// ZooKeeper: it refuses to without a digest (unless registry.zkOpenACL), secures a znode an older version
// left world-open, and once records, a key claim and the election exist, a client without the digest can
// neither read, change, delete nor create under any znode of registry.zkRoot. After a ZooKeeper restart the
// gateway writes its records again.
func TestRegistryZnodesClosed(t *testing.T) {
	z := testenv.StartZooKeeper(t)
	digest := testDigest()
	logger := slog.New(slog.NewTextHandler(tLogWriter{t, digest}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := config.Default(func(string) string { return "" })
	cfg.Registry.Backend, cfg.Registry.ZKRoot = config.RegistryZooKeeper, "/yarngate"
	ctx := t.Context()
	watcher := func(digest string) *zk.Watcher {
		w, err := zk.New(zk.Options{Servers: []string{z.Addr()}, Digest: digest, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	}

	t.Run("refused without a digest", func(t *testing.T) {
		if _, err := openRecords(ctx, cfg, watcher(""), logger); !errors.Is(err, errOpenRegistry) {
			t.Fatalf("openRecords without a digest = %v, want errOpenRegistry", err)
		}
	})
	t.Run("open znodes when asked for", func(t *testing.T) {
		open := cfg
		open.Registry.ZKRoot, open.Registry.ZKOpenACL = "/yarngate-open", true
		r, err := openRecords(ctx, open, watcher(""), logger)
		if err != nil {
			t.Fatal(err)
		}
		r.close()
	})

	admin := zkSession(t, z.Addr(), digest)
	stranger := zkSession(t, z.Addr(), "")
	// A key claim an older, unauthenticated version left world-open.
	for _, p := range []string{"/yarngate", "/yarngate/registry", "/yarngate/registry/keys", "/yarngate/registry/keys/old"} {
		if _, err := stranger.Create(p, []byte("{}"), 0, gozk.WorldACL(gozk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	cfg.ZooKeeper.Digest = config.Secret(digest)
	zw := watcher(digest)
	recs, err := openRecords(ctx, cfg, zw, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer recs.close()
	rec, err := recs.reg.Create(ctx, registry.Record{ID: "application_1_0001", Kind: registry.KindJob,
		ApplicationID: "application_1_0001", Owner: "alice", State: "SUBMITTED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := recs.reg.ClaimKey(ctx, strings.Repeat("ab", 32), registry.KeyClaim{ID: rec.ID, Fingerprint: "f"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); !recs.election.IsLeader(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no leadership")
		}
	}

	checkClosed := func(t *testing.T) {
		znodes := znodesUnder(t, admin, cfg.Registry.ZKRoot)
		if len(znodes) < 9 { // root, registry, jobs, the record, keys, two claims, reconciler, the candidate
			t.Fatalf("znodes under %s: %v", cfg.Registry.ZKRoot, znodes)
		}
		for _, p := range znodes {
			if _, err := stranger.Set(p, []byte("x"), -1); !errors.Is(err, gozk.ErrNoAuth) {
				t.Errorf("Set %s = %v, want ErrNoAuth", p, err)
			}
			if _, err := stranger.Create(p+"/intruder", nil, 0, gozk.WorldACL(gozk.PermAll)); !errors.Is(err, gozk.ErrNoAuth) {
				t.Errorf("Create under %s = %v, want ErrNoAuth", p, err)
			}
			if _, _, err := stranger.Get(p); !errors.Is(err, gozk.ErrNoAuth) {
				t.Errorf("Get %s = %v, want ErrNoAuth", p, err)
			}
			want := gozk.ErrNoAuth
			if p == cfg.Registry.ZKRoot { // deletable as far as "/" goes, but never empty
				want = gozk.ErrNotEmpty
			}
			if err := stranger.Delete(p, -1); !errors.Is(err, want) {
				t.Errorf("Delete %s = %v, want %v", p, err, want)
			}
		}
	}
	checkClosed(t)

	z.Stop()
	z.Start()
	// Calls made while the session is lost fail (registry.ErrUnavailable) and are the caller's to retry;
	// once the Watcher has its session back, the gateway's calls go through, authenticated.
	for deadline := time.Now().Add(30 * time.Second); zw.Session().State != zk.StateConnected; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no session after the restart: %+v", zw.Session())
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := recs.reg.Update(wctx, rec.ID, func(r *registry.Record) (bool, error) {
		r.State = "RUNNING"
		return true, nil
	}); err != nil {
		t.Fatalf("Update after a ZooKeeper restart: %v", err)
	}
	if _, err := recs.reg.Create(wctx, registry.Record{ID: "application_1_0002", Kind: registry.KindJob,
		ApplicationID: "application_1_0002", Owner: "bob", State: "SUBMITTED"}); err != nil {
		t.Fatalf("Create after a ZooKeeper restart: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); !recs.election.IsLeader(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no leadership after the restart")
		}
	}
	waitSession(t, admin)
	waitSession(t, stranger)
	checkClosed(t)
}

// tLogWriter writes log lines to the test log, failing the test when one shows the secret.
type tLogWriter struct {
	t      *testing.T
	secret string
}

func (w tLogWriter) Write(p []byte) (int, error) {
	_, password, _ := strings.Cut(w.secret, ":")
	if password != "" && strings.Contains(string(p), password) {
		w.t.Errorf("a log line shows the ZooKeeper digest: %s", p)
	}
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
