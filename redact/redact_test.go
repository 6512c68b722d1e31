package redact

import (
	"slices"
	"testing"
)

func TestSensitiveKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"metrics.reporter.datadog.apikey", true},
		{"fs.azure.account.key.acct.dfs.core.windows.net", true},
		{"security.kerberos.login.contexts", false},
		{"sasl.jaas.config", true},
		{"properties.sasl.jaas.config", true},
		{"fs.s3a.secret.key", true},
		{"fs.s3a.access.key", true},
		{"s3.access-key", true},
		{"fs.oss.accessKeySecret", true},
		{"metrics.reporter.otel.http-headers", true},
		{"metrics.reporter.x.basic-auth", true},
		{"gcp.service-key", true},
		{"kafka.auth-params", true},
		{"my.connector.PASSWORD", true},
		{"ssl.truststore.pass", true},
		{"security.delegation.token.provider.x", true},
		{"execution.checkpointing.interval", false},
		{"state.checkpoints.dir", false},
		{"parallelism.default", false},
	}
	for _, tc := range tests {
		if got := SensitiveKey(tc.key); got != tc.want {
			t.Errorf("SensitiveKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestURIs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hdfs://nn:8020/ck", "hdfs://nn:8020/ck"},
		{"s3://AKIA123:abc/def@bucket/path", "s3://<redacted>@bucket/path"},
		{"jdbc:postgresql://alice:s3cr3t@db:5432/x", "jdbc:postgresql://<redacted>@db:5432/x"},
		{"https://token@github.com/o/r.git", "https://<redacted>@github.com/o/r.git"},
		{"jdbc:mysql://db/x?user=alice&password=s3cr3t&ssl=true", "jdbc:mysql://db/x?user=alice&password=<redacted>&ssl=true"},
		{"https://acct.blob.core.windows.net/c/f?sv=2022&sig=abc%3D&se=1", "https://acct.blob.core.windows.net/c/f?sv=2022&sig=<redacted>&se=1"},
		{"https://s3/x?X-Amz-Credential=AKIA&X-Amz-Signature=ff", "https://s3/x?X-Amz-Credential=<redacted>&X-Amz-Signature=<redacted>"},
		{"jdbc:sqlserver://db;user=a;password=b", "jdbc:sqlserver://db;user=a;password=<redacted>"},
		{"two: a://u:p@h and b://q@i", "two: a://<redacted>@h and b://<redacted>@i"},
		{"hdfs://nn/path@version", "hdfs://nn/path@version"},
		{"plain text a=b", "plain text a=b"},
	}
	for _, tc := range tests {
		if got := URIs(tc.in); got != tc.want {
			t.Errorf("URIs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValueAndArgs(t *testing.T) {
	if got := Value("fs.s3a.secret.key", "abc"); got != Placeholder {
		t.Errorf("secret value kept: %q", got)
	}
	if got := Value("state.checkpoints.dir", "s3://k:s@b/ck"); got != "s3://<redacted>@b/ck" {
		t.Errorf("URI value: %q", got)
	}
	args := []string{"--input", "hdfs:///in", "--password", "hunter2", "--db", "jdbc:postgresql://u:p@h/d", "token=abc",
		"--api-key=xyz", "--n", "10", "a=b", "--mode=bounded"}
	want := []string{"--input", "hdfs:///in", "--password", Placeholder, "--db", "jdbc:postgresql://<redacted>@h/d", "token=" + Placeholder,
		"--api-key=" + Placeholder, "--n", "10", "a=b", "--mode=bounded"}
	if got := Args(args); !slices.Equal(got, want) {
		t.Errorf("Args\n got %q\nwant %q", got, want)
	}
	if Args(nil) != nil {
		t.Error("Args(nil) is not nil")
	}
}
