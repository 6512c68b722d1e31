package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
	"github.com/yarngate/yarngate/hadoopconf"
	"github.com/yarngate/yarngate/kerberos"
)

// cluster is what the benchmark needs from cluster.env, and, on a Kerberized cluster, its own login.
type cluster struct {
	hadoopConfDir string
	user          string
	javaHome      string
	hadoopCP      string

	// kerberos reports a Kerberized cluster (YARNGATE_KERBEROS=1); principal, keytab and krb5Conf are then
	// the gateway's credentials (YARNGATE_PRINCIPAL, YARNGATE_KEYTAB, YARNGATE_KRB5_CONF), which the
	// benchmarked gateways, Flink's CLI and the benchmark itself all log in with.
	kerberos                    bool
	principal, keytab, krb5Conf string
	// login is the benchmark's own login (set by logIn on a Kerberized cluster).
	login *kerberos.Login
	// rm is the client for the benchmark's own ResourceManager calls: SPNEGO from login on a Kerberized
	// cluster, Go's default client otherwise. Both follow a standby ResourceManager's redirect.
	rm *http.Client
}

func clusterEnv() (cluster, error) {
	c := cluster{
		hadoopConfDir: os.Getenv("HADOOP_CONF_DIR"),
		user:          os.Getenv("YARNGATE_USER"),
		javaHome:      os.Getenv("JAVA_HOME"),
		hadoopCP:      os.Getenv("HADOOP_CLASSPATH"),
		kerberos:      os.Getenv("YARNGATE_KERBEROS") == "1",
		rm:            http.DefaultClient,
	}
	if c.hadoopConfDir == "" || c.user == "" {
		return c, errors.New("HADOOP_CONF_DIR and YARNGATE_USER must be set: source testenv/.run/cluster.env (make bench does)")
	}
	if c.kerberos {
		c.principal, c.keytab, c.krb5Conf = os.Getenv("YARNGATE_PRINCIPAL"), os.Getenv("YARNGATE_KEYTAB"), os.Getenv("YARNGATE_KRB5_CONF")
		if c.principal == "" || c.keytab == "" || c.krb5Conf == "" {
			return c, errors.New("YARNGATE_KERBEROS=1 but YARNGATE_PRINCIPAL, YARNGATE_KEYTAB or YARNGATE_KRB5_CONF is not set: source cluster.env")
		}
	}
	return c, nil
}

// logIn logs the benchmark in from the keytab on a Kerberized cluster (the gateway's own kerberos.Login,
// renewed while the benchmark runs) and sets c.login and c.rm; it does nothing on a simple cluster. The
// returned function stops the login loop.
func (c *cluster) logIn(ctx context.Context) (stop func(), err error) {
	if !c.kerberos {
		return func() {}, nil
	}
	login, err := kerberos.New(kerberos.Options{Principal: c.principal, Keytab: c.keytab, Krb5Conf: c.krb5Conf})
	if err != nil {
		return nil, err
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { login.Run(loopCtx) })
	stop = func() {
		cancel()
		wg.Wait()
	}
	select {
	case <-login.FirstAttempt():
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	if err := login.Ready(ctx); err != nil {
		stop()
		return nil, fmt.Errorf("log in as %s: %w", c.principal, err)
	}
	// Unlike login.NewHTTPClient, this client follows redirects (to the active RM, when the first one is
	// a standby); each endpoint gets its own SPNEGO transport and cookie.
	c.login, c.rm = login, &http.Client{Transport: login.NewEndpoints(nil)}
	return stop, nil
}

// gatewayEnv returns the settings that give a benchmarked gateway the cluster's Kerberos credentials (none
// on a simple cluster), as `make run` gets them from cluster.env.
func (c cluster) gatewayEnv() []string {
	if !c.kerberos {
		return nil
	}
	return []string{"YARNGATE_PRINCIPAL=" + c.principal, "YARNGATE_KEYTAB=" + c.keytab, "YARNGATE_KRB5_CONF=" + c.krb5Conf}
}

// flinkCLISecurity returns the -D settings and the environment with which Flink's CLI logs in from the
// gateway's keytab on a Kerberized cluster, as testenv.FlinkCLIRunAs does: the CLI, the JobManager and the
// TaskManagers (which get the keytab shipped) log in from it, the cluster's krb5.conf is shipped, and the
// CLI obtains the HDFS delegation tokens the containers start with. On a simple cluster the CLI acts as
// the benchmark's user.
func (c cluster) flinkCLISecurity() (props, env []string) {
	env = []string{"HADOOP_USER_NAME=" + c.user}
	if !c.kerberos {
		return nil, env
	}
	props = []string{
		"-Dsecurity.kerberos.login.keytab=" + c.keytab,
		"-Dsecurity.kerberos.login.principal=" + c.principal,
		"-Dsecurity.kerberos.login.use-ticket-cache=false",
		"-Dsecurity.kerberos.krb5-conf.path=" + c.krb5Conf,
	}
	// The CLI's own JVM: bin/flink passes JVM_ARGS to java.
	jvmArgs := "-Djava.security.krb5.conf=" + c.krb5Conf
	if v := os.Getenv("JVM_ARGS"); v != "" {
		jvmArgs = v + " " + jvmArgs
	}
	return props, append(env, "JVM_ARGS="+jvmArgs)
}

// hdfsClient connects to the cluster's NameNodes as the benchmark's user, or with its Kerberos login on a
// Kerberized cluster. The benchmark makes NameNode calls only (stat, content summary, delete), so no DataNode
// transfer protection is set. colinmarc/hdfs takes no context: connections are bounded by a dial timeout.
func hdfsClient(conf *hadoopconf.Conf, env cluster) (*gohdfs.Client, error) {
	addrs, err := conf.NameNodeRPCAddresses()
	if err != nil {
		return nil, err
	}
	dial := (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	opts := gohdfs.ClientOptions{Addresses: addrs, User: env.user, NamenodeDialFunc: dial, DatanodeDialFunc: dial}
	if env.login != nil {
		if opts.KerberosClient, err = env.login.Client(); err != nil {
			return nil, err
		}
		opts.KerberosServicePrincipleName = conf.NameNodeServicePrincipal()
	}
	return gohdfs.NewClient(opts)
}

// removeHDFSRoot deletes the benchmark's staging directories.
func removeHDFSRoot(env cluster, root string) {
	conf, err := hadoopconf.Load(env.hadoopConfDir)
	if err != nil {
		return
	}
	c, err := hdfsClient(conf, env)
	if err != nil {
		fmt.Fprintf(os.Stderr, "remove %s: %v\n", root, err)
		return
	}
	defer c.Close()
	if err := c.RemoveAll(root); err != nil {
		fmt.Fprintf(os.Stderr, "remove %s: %v\n", root, err)
	}
}
