// Package hdfstest gives integration tests a private staging root on the real test cluster (package
// testenv) and a raw HDFS client to check what a test left behind.
package hdfstest

import (
	"crypto/rand"
	"errors"
	"os"
	"path"
	"slices"
	"testing"

	gohdfs "github.com/colinmarc/hdfs/v2"
	"github.com/yarngate/yarngate/hadoopconf"
	"github.com/yarngate/yarngate/testenv"
)

// Root is a fresh directory in HDFS, removed when the test ends.
type Root struct {
	// Path is the absolute directory, /user/<user>/test-<random>.
	Path string
	// Raw is a client of the test's own, for looking behind the code under test.
	Raw *gohdfs.Client
	// Cluster describes the test cluster.
	Cluster *testenv.Cluster
	// Addresses are the NameNode RPC addresses from the cluster's Hadoop configuration.
	Addresses []string
	// FSURI is fs.defaultFS of the cluster.
	FSURI string
}

// New returns a fresh root; without a test cluster it skips the test (fails under CI).
func New(t *testing.T) *Root {
	t.Helper()
	env := testenv.Require(t)
	conf, err := hadoopconf.Load(env.HadoopConfDir)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := conf.NameNodeRPCAddresses()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := gohdfs.NewClient(gohdfs.ClientOptions{Addresses: addrs, User: env.User})
	if err != nil {
		t.Fatalf("connect to the test cluster's HDFS: %v", err)
	}
	r := &Root{Path: "/user/" + env.User + "/test-" + rand.Text(), Raw: raw, Cluster: env, Addresses: addrs, FSURI: conf.DefaultFS()}
	t.Cleanup(func() {
		if err := raw.RemoveAll(r.Path); err != nil {
			t.Errorf("remove %s: %v", r.Path, err)
		}
		raw.Close()
	})
	return r
}

// Names lists the entries of the directory sub below the root, sorted; none when it does not exist.
func (r *Root) Names(t *testing.T, sub string) []string {
	t.Helper()
	fis, err := r.Raw.ReadDir(path.Join(r.Path, sub))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, fi := range fis {
		out = append(out, fi.Name())
	}
	slices.Sort(out)
	return out
}

// AssertStaged fails the test unless tmp/ is empty and jars/ holds exactly <id>.jar for the given ids.
func (r *Root) AssertStaged(t *testing.T, ids ...string) {
	t.Helper()
	if tmp := r.Names(t, "tmp"); len(tmp) != 0 {
		t.Errorf("tmp/ still holds %v", tmp)
	}
	want := []string{}
	for _, id := range ids {
		want = append(want, id+".jar")
	}
	slices.Sort(want)
	got := r.Names(t, "jars")
	if got == nil {
		got = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("jars/ holds %v, want %v", got, want)
	}
}
