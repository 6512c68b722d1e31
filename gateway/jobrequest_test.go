package gateway

import (
	"errors"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestDecodeJobRequest(t *testing.T) {
	full := `{"name":"wordcount","jarId":"` + goodID + `","entryClass":"com.example.Job","args":["--in","a b",""],
		"target":"application","parallelism":4,"queue":"root.etl","jobManager":{"memory":"1600m"},
		"taskManager":{"memory":"2g","slots":2},"flinkVersion":"1.20","flinkConfig":{"a.b":"x","n":3,"t":true},
		"savepoint":{"path":"hdfs:///sp/1","allowNonRestoredState":true}}`
	got, err := decodeJobRequest([]byte(full))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.Name != "wordcount" || got.JarID != goodID || got.EntryClass != "com.example.Job" ||
		!slices.Equal(got.Args, []string{"--in", "a b", ""}) || got.Target != "application" ||
		got.Parallelism == nil || *got.Parallelism != 4 || got.Queue != "root.etl" ||
		got.JobManager == nil || got.JobManager.Memory != "1600m" ||
		got.TaskManager == nil || got.TaskManager.Memory != "2g" || got.TaskManager.Slots == nil || *got.TaskManager.Slots != 2 ||
		got.FlinkVersion != "1.20" || got.Savepoint == nil || *got.Savepoint != (SavepointSpec{Path: "hdfs:///sp/1", AllowNonRestoredState: true}) ||
		!reflect.DeepEqual(got.FlinkConfig, map[string]any{"a.b": "x", "n": 3.0, "t": true}) {
		t.Errorf("decoded %+v", got)
	}

	tests := []struct {
		name       string
		body       string
		wantReason string
	}{
		{"unknown field", `{"nmae":"x"}`, `unknown field "nmae"`},
		{"unknown nested field", `{"taskManager":{"cpus":1}}`, `unknown field "cpus"`},
		{"string for an integer", `{"parallelism":"2"}`, `field "parallelism" must be an integer`},
		{"fraction for an integer", `{"parallelism":1.5}`, `field "parallelism" must be an integer`},
		{"nested wrong type", `{"taskManager":{"slots":"x"}}`, `field "taskManager.slots" must be an integer`},
		{"string for args", `{"args":"--in x"}`, `field "args" must be an array`},
		{"number in args", `{"args":[1]}`, `field "args" must be a string`},
		{"number for an object", `{"taskManager":5}`, `field "taskManager" must be an object`},
		{"array for flinkConfig", `{"flinkConfig":[1]}`, `field "flinkConfig" must be an object`},
		{"string for a boolean", `{"savepoint":{"path":"p","allowNonRestoredState":"yes"}}`, `field "savepoint.allowNonRestoredState" must be a boolean`},
		{"array body", `[{"name":"x"}]`, "the body must be a JSON object"},
		{"string body", `"x"`, "the body must be a JSON object"},
		{"second object", `{"name":"a"} {"name":"b"}`, "trailing data after the JSON object"},
		{"stray brace", `{"name":"a"}}`, "trailing data after the JSON object"},
		{"stray bracket", `{"name":"a"}]`, "trailing data after the JSON object"},
		{"trailing word", "{\"name\":\"a\"}\n x", "trailing data after the JSON object"},
		{"cut off", `{"name":`, "malformed JSON"},
		{"missing colon", `{"name" "x"}`, "malformed JSON at byte 9"},
		{"empty", ``, "malformed JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeJobRequest([]byte(tc.body))
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SpecError", err)
			}
			want := []FieldProblem{{Field: "body", Reason: tc.wantReason}}
			if !slices.Equal(se.Problems, want) {
				t.Errorf("problems = %+v, want %+v", se.Problems, want)
			}
			if strings.Contains(se.Error(), "gateway.") || strings.Contains(se.Error(), "json:") {
				t.Errorf("reason shows Go internals: %q", se.Error())
			}
		})
	}

	if _, err := decodeJobRequest([]byte(" {\"name\":\"a\",\"jarId\":\"" + goodID + "\"} \r\n\t")); err != nil {
		t.Errorf("trailing white space: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	jar := `"jarId":"` + goodID + `"`
	tests := []struct {
		name     string
		body     string // a JSON JobRequest
		want     []FieldProblem
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
			want: []FieldProblem{{"name", "must be at most 256 characters without control characters"}}},
		{name: "name with a newline", body: `{"name":"a\nb",` + jar + `}`,
			want: []FieldProblem{{"name", "must be at most 256 characters without control characters"}}},
		{name: "name with an escape", body: `{"name":"a\u001b[31mb",` + jar + `}`,
			want: []FieldProblem{{"name", "must be at most 256 characters without control characters"}}},
		{name: "explicit application target", body: `{"target":"application",` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "session target", body: `{"target":"session",` + jar + `}`,
			want: []FieldProblem{{"sessionId", "required with target session: the id of a session (POST /v1/sessions)"}}},
		{name: "unknown target", body: `{"target":"yarn-per-job",` + jar + `}`,
			want: []FieldProblem{{"target", `"yarn-per-job" is not one of application, session`}}},
		{name: "session id with an application", body: `{"sessionId":"s1",` + jar + `}`,
			want: []FieldProblem{{"sessionId", "only allowed with target session"}}},
		{name: "no jar", body: `{}`, want: []FieldProblem{{"jarId", "either jarId or jarPath is required"}}},
		{name: "both jar fields", body: `{"jarPath":"hdfs:///a/b.jar",` + jar + `}`,
			want: []FieldProblem{{"jarPath", "give jarId or jarPath, not both"}}},
		{name: "jarPath without authority", body: `{"jarPath":"hdfs:///jobs/wordcount.jar"}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "jarPath with authority", body: `{"jarPath":"hdfs://nn.example.com:8020/jobs/wc.jar"}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "jarPath without scheme", body: `{"jarPath":"/jobs/wc.jar"}`,
			want: []FieldProblem{{"jarPath", "must be an hdfs:// URI with an absolute path"}}},
		{name: "jarPath on the local file system", body: `{"jarPath":"file:///jobs/wc.jar"}`,
			want: []FieldProblem{{"jarPath", "must be an hdfs:// URI with an absolute path"}}},
		{name: "jarPath relative", body: `{"jarPath":"hdfs:jobs/wc.jar"}`,
			want: []FieldProblem{{"jarPath", "must be an hdfs:// URI with an absolute path"}}},
		{name: "jarPath without path", body: `{"jarPath":"hdfs://nn"}`,
			want: []FieldProblem{{"jarPath", "must be an hdfs:// URI with an absolute path"}}},
		{name: "jarPath unparsable", body: `{"jarPath":"hdfs://nn:port/x.jar"}`,
			want: []FieldProblem{{"jarPath", "must be an hdfs:// URI with an absolute path"}}},
		{name: "jarPath not a jar", body: `{"jarPath":"hdfs:///jobs/wc.zip"}`,
			want: []FieldProblem{{"jarPath", "must name a .jar file"}}},
		{name: "entry class", body: `{"entryClass":"com.example.WordCount",` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "nested entry class", body: `{"entryClass":"com.example.Outer$Job_2",` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "unicode entry class", body: `{"entryClass":"com.exämple.Jöb",` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "entry class with slashes", body: `{"entryClass":"com/example/Job",` + jar + `}`,
			want: []FieldProblem{{"entryClass", `"com/example/Job" is not a Java class name`}}},
		{name: "entry class with an empty segment", body: `{"entryClass":"com..Job",` + jar + `}`,
			want: []FieldProblem{{"entryClass", `"com..Job" is not a Java class name`}}},
		{name: "entry class ending in a dot", body: `{"entryClass":"com.Job.",` + jar + `}`,
			want: []FieldProblem{{"entryClass", `"com.Job." is not a Java class name`}}},
		{name: "entry class segment starting with a digit", body: `{"entryClass":"com.1Job",` + jar + `}`,
			want: []FieldProblem{{"entryClass", `"com.1Job" is not a Java class name`}}},
		{name: "entry class with a shell metacharacter", body: `{"entryClass":"Job;rm",` + jar + `}`,
			want: []FieldProblem{{"entryClass", `"Job;rm" is not a Java class name`}}},
		{name: "args with NUL", body: `{"args":["ok","a\u0000b"],` + jar + `}`,
			want: []FieldProblem{{"args[1]", "must not contain NUL"}}},
		{name: "args with anything else", body: `{"args":["", "a b", "'\"", ";#$", "ünï", "-Dx=1"],` + jar + `}`,
			wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "parallelism 1", body: `{"parallelism":1,` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "parallelism 0", body: `{"parallelism":0,` + jar + `}`, want: []FieldProblem{{"parallelism", "must be at least 1"}}},
		{name: "parallelism negative", body: `{"parallelism":-3,` + jar + `}`, want: []FieldProblem{{"parallelism", "must be at least 1"}}},
		{name: "slots 0", body: `{"taskManager":{"slots":0},` + jar + `}`, want: []FieldProblem{{"taskManager.slots", "must be at least 1"}}},
		{name: "slots negative", body: `{"taskManager":{"memory":"2g","slots":-1},` + jar + `}`, want: []FieldProblem{{"taskManager.slots", "must be at least 1"}}},
		{name: "savepoint", body: `{"savepoint":{"path":"hdfs:///sp/savepoint-1"},` + jar + `}`, wantName: "yarngate-job", wantCfg: map[string]string{}},
		{name: "savepoint without path", body: `{"savepoint":{"allowNonRestoredState":true},` + jar + `}`,
			want: []FieldProblem{{"savepoint.path", "is required with savepoint"}}},
		{name: "savepoint with a blank path", body: `{"savepoint":{"path":"  "},` + jar + `}`,
			want: []FieldProblem{{"savepoint.path", "is required with savepoint"}}},
		{name: "flinkConfig scalars", body: `{"flinkConfig":{"s":"10 s","i":2,"f":0.75,"big":1e21,"neg":-1,"t":true,"false":false},` + jar + `}`,
			wantName: "yarngate-job",
			wantCfg:  map[string]string{"s": "10 s", "i": "2", "f": "0.75", "big": "1000000000000000000000", "neg": "-1", "t": "true", "false": "false"}},
		{name: "flinkConfig object", body: `{"flinkConfig":{"state":{"backend":"rocksdb"}},` + jar + `}`,
			want: []FieldProblem{{"flinkConfig.state", "must be a string, number or boolean"}}},
		{name: "flinkConfig array", body: `{"flinkConfig":{"pipeline.classpaths":["a","b"]},` + jar + `}`,
			want: []FieldProblem{{"flinkConfig.pipeline.classpaths", "must be a string, number or boolean"}}},
		{name: "flinkConfig null", body: `{"flinkConfig":{"k":null},` + jar + `}`,
			want: []FieldProblem{{"flinkConfig.k", "must be a string, number or boolean"}}},
		{name: "every problem at once", body: `{"name":"a\tb","target":"x","parallelism":0,"taskManager":{"slots":0},"entryClass":"1x","savepoint":{}}`,
			want: []FieldProblem{
				{"name", "must be at most 256 characters without control characters"},
				{"target", `"x" is not one of application, session`},
				{"jarId", "either jarId or jarPath is required"},
				{"entryClass", `"1x" is not a Java class name`},
				{"parallelism", "must be at least 1"},
				{"taskManager.slots", "must be at least 1"},
				{"savepoint.path", "is required with savepoint"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := decodeJobRequest([]byte(tc.body))
			if err != nil {
				t.Fatalf("decode %s: %v", tc.body, err)
			}
			cfg, err := req.normalize()
			if tc.want != nil {
				var se *SpecError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want a *SpecError", err)
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
	decode := func(body string) *JobRequest {
		t.Helper()
		req, err := decodeJobRequest([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := req.normalize(); err != nil {
			t.Fatal(err)
		}
		return &req
	}
	base := `{"name":"wc","jarId":"` + goodID + `","args":["a","b"],"parallelism":2,"flinkConfig":{"x":"1","y":"2"}}`
	fp := decode(base).fingerprint()
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
		if got := decode(tc.body).fingerprint(); got != fp {
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
		if got := decode(tc.body).fingerprint(); got == fp {
			t.Errorf("%s: same fingerprint %s as the base request", tc.name, got)
		}
	}
}
