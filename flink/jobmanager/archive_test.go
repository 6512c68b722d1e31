package jobmanager

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func archiveOf(t *testing.T, entries map[string]any) []byte {
	t.Helper()
	type entry struct {
		Path string `json:"path"`
		JSON string `json:"json"`
	}
	var a struct {
		Archive []entry `json:"archive"`
	}
	for p, v := range entries {
		b, _ := json.Marshal(v)
		a.Archive = append(a.Archive, entry{Path: p, JSON: string(b)})
	}
	b, _ := json.Marshal(a)
	return b
}

func TestArchivedRootException(t *testing.T) {
	const id = "000001a1fe4fa0c70000000000000028"
	errDecode := errors.New("any decoding error")
	tests := []struct {
		name    string
		archive []byte
		want    string
		wantErr error
	}{
		{"root exception with cause", archiveOf(t, map[string]any{
			"/jobs/" + id:                 map[string]any{"state": "FAILED"},
			"/jobs/" + id + "/exceptions": map[string]any{"root-exception": "org.apache.flink.util.FlinkException: Failed to execute job\n\tat x\nCaused by: java.lang.IllegalArgumentException: failing on purpose (--fail)\n\tat y"},
		}), "org.apache.flink.util.FlinkException: Failed to execute job (caused by java.lang.IllegalArgumentException: failing on purpose (--fail))", nil},
		{"history only", archiveOf(t, map[string]any{
			"/jobs/" + id + "/exceptions": map[string]any{"exceptionHistory": map[string]any{"entries": []any{map[string]any{"stacktrace": "java.lang.RuntimeException: boom\n\tat z"}}}},
		}), "java.lang.RuntimeException: boom", nil},
		{"no exception", archiveOf(t, map[string]any{"/jobs/" + id + "/exceptions": map[string]any{}}), "", nil},
		{"other job", archiveOf(t, map[string]any{"/jobs/other/exceptions": map[string]any{"root-exception": "x"}}), "", ErrNotArchived},
		{"not json", []byte("PK\x03\x04"), "", errDecode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ArchivedRootException(tc.archive, id)
			if tc.wantErr == errDecode {
				if err == nil || errors.Is(err, ErrNotArchived) {
					t.Fatalf("err = %v, want a decoding error", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("= %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestArchivedJobStatus(t *testing.T) {
	const id = "000001a1fe4fa0c70000000000000028"
	if got, err := ArchivedJobStatus(archiveOf(t, map[string]any{"/jobs/" + id: map[string]any{"jid": id, "state": "FINISHED"}}), id); err != nil || got != "FINISHED" {
		t.Errorf("= %q, %v; want FINISHED", got, err)
	}
	if _, err := ArchivedJobStatus(archiveOf(t, map[string]any{"/jobs/other": map[string]any{"state": "FINISHED"}}), id); !errors.Is(err, ErrNotArchived) {
		t.Errorf("other job: %v", err)
	}
	if _, err := ArchivedJobStatus([]byte("{"), id); err == nil || errors.Is(err, ErrNotArchived) {
		t.Errorf("not json: %v", err)
	}
}

// TestArchivedSavepoints reads the checkpoint statistics of an archive in the shape Flink 1.20 wrote it on
// the test cluster (a job stopped with a savepoint after an earlier savepoint).
func TestArchivedSavepoints(t *testing.T) {
	const job = "000001a24e4e6349000000000000001d"
	stats := `{"latest":{"completed":{"status":"COMPLETED","is_savepoint":false,"trigger_timestamp":1796611631154,` +
		`"checkpoint_type":"CHECKPOINT","external_path":"<checkpoint-not-externally-addressable>"},` +
		`"savepoint":{"status":"COMPLETED","is_savepoint":true,"savepointFormat":"CANONICAL","trigger_timestamp":1796611631711,` +
		`"checkpoint_type":"SYNC_SAVEPOINT","external_path":"hdfs://nn:19000/sp/app/savepoint-000001-1ced0b1b4f18"},"failed":null,"restored":null},` +
		`"history":[{"is_savepoint":true,"status":"COMPLETED","trigger_timestamp":1796611631711,"external_path":"hdfs://nn:19000/sp/app/savepoint-000001-1ced0b1b4f18"},` +
		`{"is_savepoint":false,"status":"COMPLETED","external_path":"<checkpoint-not-externally-addressable>"},` +
		`{"is_savepoint":true,"status":"FAILED","external_path":""},` +
		`{"is_savepoint":true,"status":"COMPLETED","trigger_timestamp":1796611600000,"external_path":"hdfs://nn:19000/sp/app/savepoint-000001-6fee24f8c1ba"}]}`
	entry, _ := json.Marshal(map[string]any{"archive": []map[string]string{{"path": "/jobs/" + job + "/checkpoints", "json": stats}}})
	got, err := ArchivedSavepoints(entry, job)
	want := []ArchivedSavepoint{{Path: "hdfs://nn:19000/sp/app/savepoint-000001-1ced0b1b4f18", TriggeredAt: 1796611631711},
		{Path: "hdfs://nn:19000/sp/app/savepoint-000001-6fee24f8c1ba", TriggeredAt: 1796611600000}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ArchivedSavepoints = %+v, %v; want %+v", got, err, want)
	}
	if _, err := ArchivedSavepoints(entry, "other"); !errors.Is(err, ErrNotArchived) {
		t.Errorf("another job: %v, want ErrNotArchived", err)
	}
}

func TestArchivedLatestCheckpoint(t *testing.T) {
	const job = "000001a24e4e6349000000000000001d"
	archive := func(stats string) []byte {
		b, _ := json.Marshal(map[string]any{"archive": []map[string]string{{"path": "/jobs/" + job + "/checkpoints", "json": stats}}})
		return b
	}
	for _, tc := range []struct {
		name, stats, want string
		err               bool
	}{
		{name: "retained", stats: `{"latest":{"completed":{"status":"COMPLETED","external_path":"hdfs://nn/cp/` + job + `/chk-9"}}}`, want: "hdfs://nn/cp/" + job + "/chk-9"},
		{name: "not externally addressable", stats: `{"latest":{"completed":{"external_path":"<checkpoint-not-externally-addressable>"}}}`},
		{name: "none completed", stats: `{"latest":{"completed":null}}`},
		{name: "bad JSON", stats: `{`, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ArchivedLatestCheckpoint(archive(tc.stats), job)
			if got != tc.want || (err != nil) != tc.err {
				t.Errorf("ArchivedLatestCheckpoint = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := ArchivedLatestCheckpoint(archive(`{}`), "other"); !errors.Is(err, ErrNotArchived) {
		t.Errorf("another job: %v, want ErrNotArchived", err)
	}
}
