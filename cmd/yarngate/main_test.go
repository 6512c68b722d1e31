package main

import (
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Setenv("HADOOP_CONF_DIR", "/etc/hadoop/conf")
	t.Setenv("YARNGATE_ZOOKEEPER_DIGEST", "zk:hunter2")
	t.Setenv("YARNGATE_CONFIG", "")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", args: nil, wantCode: 2, wantStderr: "usage: yarngate"},
		{name: "unknown command", args: []string{"launch"}, wantCode: 2, wantStderr: `unknown command "launch"`},
		{name: "help", args: []string{"help"}, wantCode: 0, wantStdout: "serve"},
		{name: "version", args: []string{"version"}, wantCode: 0, wantStdout: "yarngate "},
		{name: "config with flags and env", args: []string{"config", "--listen", "127.0.0.1:9999", "--user", "alice"}, wantCode: 0,
			wantStdout: "listen: 127.0.0.1:9999\nhadoopConfDir: /etc/hadoop/conf\nuser: alice\n"},
		{name: "config redacts secrets", args: []string{"config"}, wantCode: 0, wantStdout: "digest: <redacted>"},
		{name: "config from the dev file", args: []string{"config", "--config", "../../configs/dev.yaml"}, wantCode: 0,
			wantStdout: "stagingRoot: /user/yarngate/.yarngate"},
		{name: "invalid value", args: []string{"config", "--hdfs.pool-size", "0"}, wantCode: 2, wantStderr: "hdfs.poolSize"},
		{name: "unknown flag", args: []string{"serve", "--no-such-flag"}, wantCode: 2, wantStderr: "no-such-flag"},
		{name: "stray argument", args: []string{"serve", "extra"}, wantCode: 2, wantStderr: "unexpected arguments"},
		{name: "serve help", args: []string{"serve", "-h"}, wantCode: 0, wantStderr: "-hdfs.staging-root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantStderr)
			}
			if strings.Contains(stdout.String()+stderr.String(), "hunter2") {
				t.Error("the secret was printed")
			}
		})
	}
}
