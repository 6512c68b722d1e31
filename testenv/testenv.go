// Package testenv gives tests access to the real test cluster that `make cluster-up` starts: HDFS and YARN
// (MiniDFSCluster + MiniYARNCluster), ZooKeeper, and unpacked Flink distributions.
//
// The cluster describes itself in testenv/.run/cluster.env, a shell-sourceable file of KEY=VALUE lines written by
// testenv/cluster.sh. Integration tests call Require; it skips the test when no cluster is running, except under
// CI (CI=true) or when YARNGATE_REQUIRE_CLUSTER=1, where a missing cluster is a test failure.
//
// A Kerberized cluster (`make cluster-up KERBEROS=1`) says so with YARNGATE_KERBEROS=1. The helpers then
// authenticate the way a Hadoop user does, with tools independent of the gateway's own Kerberos code: MIT kinit
// from the cluster's keytabs, curl --negotiate (SPNEGO) for the REST APIs and WebHDFS, and Flink's CLI logging in
// from a keytab. Tests of Kerberos itself call RequireKerberos.
package testenv

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Cluster is what cluster.env says about the running test cluster.
type Cluster struct {
	// Env holds every KEY=VALUE pair of cluster.env.
	Env map[string]string
	// HadoopConfDir is the directory with core-site.xml, hdfs-site.xml and yarn-site.xml.
	HadoopConfDir string
	// RMURL is the web address of the (first) ResourceManager, such as http://localhost:18088.
	RMURL string
	// WebHDFSURL is the NameNode's HTTP address, such as http://localhost:19870.
	WebHDFSURL string
	// HDFSURL is the default file system, such as hdfs://localhost:19000.
	HDFSURL string
	// NameNode is the NameNode RPC address host:port.
	NameNode string
	// ZooKeeper is the ZooKeeper client address host:port.
	ZooKeeper string
	// User is the user that tests act as against HDFS and YARN.
	User string
	// FlinkHome is the default (1.20) Flink distribution.
	FlinkHome string
	// Flink2Home is the Flink 2.x distribution.
	Flink2Home string
	// ExampleJar is the example streaming job built from examples/: $YARNGATE_EXAMPLE_JAR when set, else
	// cluster.env's.
	ExampleJar string
	// JavaHome is the JDK the cluster runs on.
	JavaHome string

	// Kerberos reports a Kerberized cluster (YARNGATE_KERBEROS=1); the fields below are set only then.
	Kerberos bool
	// KRB5Conf is the cluster's krb5.conf (its KDC, realm and client defaults).
	KRB5Conf string
	// Realm is the Kerberos realm, such as EXAMPLE.COM.
	Realm string
	// Principal is the gateway's principal, such as yarngate@EXAMPLE.COM; its short name is User.
	Principal string
	// Keytab holds the gateway's key.
	Keytab string
	// UserKeytab holds the keys of the end users alice and bob (principals alice@<Realm>, bob@<Realm>).
	UserKeytab string

	// asUser is the user the gateway's principal acts for on WebHDFS (doas); see As.
	asUser string
	// tickets holds the MIT ticket caches the helpers authenticate with on a Kerberized cluster.
	tickets *ticketCaches
}

// EnvFile returns the path of cluster.env: $YARNGATE_CLUSTER_ENV when set, else testenv/.run/cluster.env
// in this repository.
func EnvFile() string {
	if p := os.Getenv("YARNGATE_CLUSTER_ENV"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), ".run", "cluster.env")
}

// Load reads cluster.env (EnvFile). It fails when the file is missing or malformed; it does not check that
// the processes behind it are alive.
func Load() (*Cluster, error) { return LoadFile(EnvFile()) }

// LoadFile reads the cluster.env at path, as Load does: the cluster a test started for itself, read without
// setting YARNGATE_CLUSTER_ENV (which would keep the test from running in parallel).
func LoadFile(path string) (*Cluster, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open cluster env: %w", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		k, v, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not KEY=VALUE", path, line)
		}
		env[k] = unquote(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read cluster env: %w", err)
	}
	c := &Cluster{
		Env:           env,
		HadoopConfDir: env["HADOOP_CONF_DIR"],
		RMURL:         env["YARNGATE_RM_URL"],
		WebHDFSURL:    env["YARNGATE_WEBHDFS_URL"],
		HDFSURL:       env["YARNGATE_HDFS_URL"],
		NameNode:      env["YARNGATE_NAMENODE"],
		ZooKeeper:     env["YARNGATE_ZK"],
		User:          env["YARNGATE_USER"],
		FlinkHome:     env["YARNGATE_FLINK_HOME"],
		Flink2Home:    env["YARNGATE_FLINK2_HOME"],
		ExampleJar:    env["YARNGATE_EXAMPLE_JAR"],
		JavaHome:      env["JAVA_HOME"],
		Kerberos:      env["YARNGATE_KERBEROS"] == "1",
		KRB5Conf:      env["YARNGATE_KRB5_CONF"],
		Realm:         env["YARNGATE_REALM"],
		Principal:     env["YARNGATE_PRINCIPAL"],
		Keytab:        env["YARNGATE_KEYTAB"],
		UserKeytab:    env["YARNGATE_USER_KEYTAB"],
		tickets:       &ticketCaches{},
	}
	if jar := os.Getenv("YARNGATE_EXAMPLE_JAR"); jar != "" {
		c.ExampleJar = jar // a worktree's own build against a shared cluster
	}
	for k, v := range map[string]string{
		"HADOOP_CONF_DIR": c.HadoopConfDir, "YARNGATE_RM_URL": c.RMURL, "YARNGATE_NAMENODE": c.NameNode,
		"YARNGATE_ZK": c.ZooKeeper, "YARNGATE_USER": c.User,
	} {
		if v == "" {
			return nil, fmt.Errorf("%s: %s is not set", path, k)
		}
	}
	if c.Kerberos {
		for k, v := range map[string]string{
			"YARNGATE_KRB5_CONF": c.KRB5Conf, "YARNGATE_REALM": c.Realm, "YARNGATE_PRINCIPAL": c.Principal,
			"YARNGATE_KEYTAB": c.Keytab, "YARNGATE_USER_KEYTAB": c.UserKeytab,
		} {
			if v == "" {
				return nil, fmt.Errorf("%s: YARNGATE_KERBEROS=1 but %s is not set", path, k)
			}
		}
	}
	return c, nil
}

// Required reports whether a missing cluster must fail tests rather than skip them.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("YARNGATE_REQUIRE_CLUSTER") == "1"
}

// Require returns the running test cluster. Without one it skips the test, or fails it under CI.
func Require(tb testing.TB) *Cluster {
	tb.Helper()
	c, err := Load()
	if err != nil {
		if Required() {
			tb.Fatalf("integration test needs the test cluster (make cluster-up): %v", err)
		}
		tb.Skipf("no test cluster (run make cluster-up): %v", err)
	}
	return c
}

// RequireKerberos returns the running test cluster if it is Kerberized, and skips the test otherwise (also under
// CI: a cluster in simple mode is not a missing cluster).
func RequireKerberos(tb testing.TB) *Cluster {
	tb.Helper()
	c := Require(tb)
	if !c.Kerberos {
		tb.Skip("the test cluster is not Kerberized (make cluster-up KERBEROS=1)")
	}
	return c
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}
