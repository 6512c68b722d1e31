package httpapi

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/api"
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
		got.FlinkVersion != "1.20" || got.Savepoint == nil || *got.Savepoint != (api.SavepointSpec{Path: "hdfs:///sp/1", AllowNonRestoredState: true}) ||
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
			var se *api.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *api.SpecError", err)
			}
			want := []api.FieldProblem{{Field: "body", Reason: tc.wantReason}}
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
