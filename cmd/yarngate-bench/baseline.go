package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// putBenchSource is the Hadoop-client baseline kept with the test cluster.
const putBenchSource = "testenv/hadoop/PutBench.java"

// jvmOpens are the module openings Hadoop needs on Java 17 (as testenv/cluster.sh uses).
var jvmOpens = []string{
	"--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
	"--add-opens=java.base/java.lang.reflect=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
	"--add-opens=java.base/java.net=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
	"--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
}

// putBench runs testenv/hadoop/PutBench: Hadoop's FileSystem.create + IOUtils.copyBytes, timed inside the
// JVM so that JVM start-up does not count.
type putBench struct {
	env     cluster
	classes string
}

// newPutBench compiles PutBench against the cluster's Hadoop jars.
func newPutBench(ctx context.Context, env cluster, workDir string) (*putBench, error) {
	if env.javaHome == "" || env.hadoopCP == "" {
		return nil, errors.New("JAVA_HOME and HADOOP_CLASSPATH must be set (cluster.env sets them)")
	}
	if _, err := os.Stat(putBenchSource); err != nil {
		return nil, fmt.Errorf("%s: %w (run from the repository root)", putBenchSource, err)
	}
	classes := filepath.Join(workDir, "putbench")
	if err := os.MkdirAll(classes, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(env.javaHome, "bin", "javac"), "-nowarn", "-cp", env.hadoopCP, "-d", classes, putBenchSource)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compile %s: %w: %s", putBenchSource, err, out)
	}
	return &putBench{env: env, classes: classes}, nil
}

// put writes local to dst in HDFS with the Hadoop client and returns the copy's duration.
func (p *putBench) put(ctx context.Context, local, dst string) (time.Duration, error) {
	cp := strings.Join([]string{p.classes, p.env.hadoopConfDir, p.env.hadoopCP}, string(os.PathListSeparator))
	args := append([]string{}, jvmOpens...)
	if p.env.kerberos {
		// Hadoop's client logs in from the gateway's keytab, as the gateway does.
		args = append(args, "-Djava.security.krb5.conf="+p.env.krb5Conf, "-cp", cp, "PutBench", local, dst, p.env.principal, p.env.keytab)
	} else {
		args = append(args, "-cp", cp, "PutBench", local, dst, p.env.user)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(p.env.javaHome, "bin", "java"), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("PutBench: %w: %s", err, lastLines(stderr.String(), 5))
	}
	fields := strings.Fields(stdout.String())
	if len(fields) == 0 {
		return 0, fmt.Errorf("PutBench printed nothing: %s", lastLines(stderr.String(), 5))
	}
	nanos, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("PutBench output %q: %w", stdout.String(), err)
	}
	return time.Duration(nanos), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
