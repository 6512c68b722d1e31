package jobmanager

import (
	"encoding/json"
	"errors"
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
