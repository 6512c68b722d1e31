package yarnclient

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testSubmission is a context that uses every field shape.
func testSubmission() *SubmissionContext {
	prio := 3
	return &SubmissionContext{
		ApplicationID:   "application_1700000000000_0042",
		ApplicationName: "wordcount",
		Queue:           "default",
		Priority:        &prio,
		AMContainerSpec: ContainerLaunchContext{
			LocalResources: EntryMap[LocalResource]{
				"app.jar": {Resource: "hdfs://nn:8020/user/yarngate/app.jar", Type: ResourceFile,
					Visibility: VisibilityApplication, Size: 43004, Timestamp: 1405452071209},
				"lib/flink-dist-1.20.3.jar": {Resource: "hdfs://nn:8020/yarngate/flink/1.20.3/lib/flink-dist-1.20.3.jar",
					Type: ResourceFile, Visibility: VisibilityPublic, Size: 125000000, Timestamp: 1700000000123},
			},
			Environment: EntryMap[string]{"CLASSPATH": "{{CLASSPATH}}<CPS>./*", "HADOOP_USER_NAME": "yarngate"},
			Commands:    Commands{"sleep 60 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"},
			Credentials: &Credentials{Tokens: EntryMap[string]{"ha-hdfs:ns1": "MgASY2xp"}},
			ApplicationACLs: EntryMap[string]{
				ACLViewApp: "yarngate,alice ops", ACLModifyApp: "yarngate",
			},
		},
		MaxAppAttempts:                          2,
		Resource:                                Resource{MemoryMB: 1600, VCores: 1},
		ApplicationType:                         "Apache Flink",
		KeepContainersAcrossApplicationAttempts: true,
		ApplicationTags:                         Tags{"yarngate", "yg-job-7f3a"},
		AttemptFailuresValidityInterval:         10000,
	}
}

func TestSubmissionContextWireShape(t *testing.T) {
	got, err := testSubmission().JSON(true)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "submission.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Errorf("wire shape differs from %s (run go test -update):\n%s", golden, got)
	}
	// The shapes Hadoop's JAXB DAOs read.
	for _, frag := range []string{
		`"local-resources": {` + "\n" + `      "entry": [`,
		`"key": "app.jar"`,
		`"commands": {` + "\n" + `      "command": "sleep 60`,
		`"application-tags": {` + "\n" + `    "tag": [`,
		`"application-acls": {`,
		`"resource": {` + "\n" + `    "memory": 1600,` + "\n" + `    "vCores": 1`,
	} {
		if !strings.Contains(string(got), frag) {
			t.Errorf("missing %q", frag)
		}
	}
}

func TestSubmissionContextRoundTrip(t *testing.T) {
	in := testSubmission()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out SubmissionContext
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&out, in) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", out, *in)
	}
}

func TestEntryMapAndCommandsForms(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"list", `{"entry":[{"key":"a","value":"1"},{"key":"b","value":"2"}]}`, map[string]string{"a": "1", "b": "2"}},
		{"single object", `{"entry":{"key":"a","value":"1"}}`, map[string]string{"a": "1"}},
		{"empty", `{"entry":[]}`, map[string]string{}},
		{"null", `{"entry":null}`, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m EntryMap[string]
			if err := json.Unmarshal([]byte(tt.in), &m); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(map[string]string(m), tt.want) {
				t.Errorf("got %v", m)
			}
		})
	}
	several, _ := json.Marshal(Commands{"a", "b"})
	if string(several) != `{"command":["a","b"]}` {
		t.Errorf("several commands: %s", several)
	}
	var back Commands
	if err := json.Unmarshal(several, &back); err != nil || !reflect.DeepEqual(back, Commands{"a", "b"}) {
		t.Errorf("commands round trip %v %v", back, err)
	}
}

func TestSubmissionValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*SubmissionContext)
		wantErr string
	}{
		{"valid", func(*SubmissionContext) {}, ""},
		{"bad id", func(s *SubmissionContext) { s.ApplicationID = "app-1" }, "application id"},
		{"no memory", func(s *SubmissionContext) { s.Resource.MemoryMB = 0 }, "must be positive"},
		{"no command", func(s *SubmissionContext) { s.AMContainerSpec.Commands = nil }, "needs a command"},
		{"upper-case tag", func(s *SubmissionContext) { s.ApplicationTags = Tags{"Job"} }, "lower-case"},
		{"comma tag", func(s *SubmissionContext) { s.ApplicationTags = Tags{"a,b"} }, "without commas"},
		{"long tag", func(s *SubmissionContext) { s.ApplicationTags = Tags{strings.Repeat("x", 101)} }, "length"},
		{"eleven tags", func(s *SubmissionContext) { s.ApplicationTags = make(Tags, 11) }, "at most 10"},
		{"zero timestamp", func(s *SubmissionContext) {
			s.AMContainerSpec.LocalResources["x"] = LocalResource{Resource: "hdfs:///x", Size: 1, Type: ResourceFile, Visibility: VisibilityPublic}
		}, "timestamp > 0"},
		{"bad visibility", func(s *SubmissionContext) {
			s.AMContainerSpec.LocalResources["x"] = LocalResource{Resource: "hdfs:///x", Size: 1, Timestamp: 1, Type: ResourceFile, Visibility: "WORLD"}
		}, "bad visibility"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSubmission()
			tt.mutate(s)
			err := s.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestAppReportMarshalKeepsRMShape(t *testing.T) {
	var env struct {
		App App `json:"app"`
	}
	if err := json.Unmarshal(fixture(t, "app_running.json"), &env); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(env.App)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"applicationTags":"yarngate,yg-job-7f3a"`) {
		t.Errorf("tags not comma-joined: %s", b)
	}
}
