package zk

import (
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func TestParseConnectString(t *testing.T) {
	cases := []struct {
		in      string
		servers []string
		chroot  string
	}{
		{"localhost:2181", []string{"localhost:2181"}, ""},
		{"zk1:2181, zk2:2181 ,zk3", []string{"zk1:2181", "zk2:2181", "zk3"}, ""},
		{"zk1:2181,zk2:2181/hadoop", []string{"zk1:2181", "zk2:2181"}, "/hadoop"},
		{"zk1:2181/a/b/", []string{"zk1:2181"}, "/a/b"},
		{"zk1:2181/", []string{"zk1:2181"}, ""},
	}
	for _, c := range cases {
		servers, chroot, err := ParseConnectString(c.in)
		if err != nil || !slices.Equal(servers, c.servers) || chroot != c.chroot {
			t.Errorf("ParseConnectString(%q) = %q, %q, %v; want %q, %q", c.in, servers, chroot, err, c.servers, c.chroot)
		}
	}
	for _, bad := range []string{"", " , ", "/chroot", "zk:1/a//b"} {
		if _, _, err := ParseConnectString(bad); err == nil {
			t.Errorf("ParseConnectString(%q) accepted", bad)
		}
	}
}

// TestWatcherChrootAndDigest: paths are relative to the chroot, and digest credentials open znodes whose ACL
// admits only that identity.
func TestWatcherChrootAndDigest(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	root := testRoot(t, admin)
	acl := zk.DigestACL(zk.PermAll, "yarngate", "s3cret")
	if _, err := admin.Create(root+"/secret", []byte("hidden"), 0, acl); err != nil {
		t.Fatal(err)
	}
	servers, chroot, err := ParseConnectString(server + root)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := newTestWatcher(t, Options{Servers: servers, Chroot: chroot, Digest: "yarngate:s3cret"})
	h, err := w.Watch("/secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := waitNode(t, h, nil, 10*time.Second, "the digest-protected znode", hasData("hidden"))
	if n.Path != "/secret" {
		t.Errorf("Path = %q, want the chroot-relative /secret", n.Path)
	}
	if got, err := w.Get(t.Context(), "/"); err != nil || !got.Exists || got.Path != "/" {
		t.Errorf("Get(/) under the chroot = %+v, %v", got, err)
	}
	if _, err := New(Options{Servers: servers, Digest: "no-colon"}); err == nil {
		t.Error("Digest without a colon accepted")
	}
}
