package registry

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/yarngate/yarngate/observe"
)

// TestUpgradeSchema0 decodes records as the first registry wrote them (the API object in "view") into
// typed statuses.
func TestUpgradeSchema0(t *testing.T) {
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name          string
		rec           string
		want          observe.Status
		name2, target string
	}{
		{"running job", `{"id":"application_1_0001","kind":"job","applicationId":"application_1_0001","state":"RUNNING",
			"history":[{"state":"SUBMITTED","at":"2026-11-01T09:59:00Z"},{"state":"RUNNING","at":"2026-11-01T10:00:00Z"}],
			"view":{"id":"application_1_0001","name":"sum","target":"application","state":"RUNNING","terminal":false,
			"yarn":{"applicationId":"application_1_0001","state":"RUNNING","finalStatus":"UNDEFINED","diagnostics":"","queue":"default","user":"yarngate"},
			"flink":{"jobId":"00000000000000010000000000000001","state":"RUNNING","version":"1.20.3","failure":null},
			"links":{"yarn":"http://rm/cluster/app/application_1_0001","flinkUi":"http://rm/proxy/application_1_0001/","jobManager":"http://nm:4242"}}}`,
			observe.Status{Schema: 1, State: "RUNNING", Since: at, Ran: true,
				YARN:       observe.YARN{ApplicationID: "application_1_0001", State: "RUNNING", FinalStatus: "UNDEFINED", Queue: "default", User: "yarngate"},
				Flink:      observe.Flink{JobID: "00000000000000010000000000000001", State: "RUNNING", Version: "1.20.3"},
				JobManager: "http://nm:4242"}, "sum", "application"},
		{"failed job", `{"id":"application_1_0002","kind":"job","applicationId":"application_1_0002","state":"FAILED","terminal":true,
			"history":[{"state":"FAILED","at":"2026-11-01T10:00:00Z"}],
			"view":{"name":"bad","target":"application","state":"FAILED","yarn":{"state":"FINISHED","finalStatus":"FAILED"},
			"flink":{"jobId":"x","state":"FAILED","version":"2.2.1","failure":"boom"},"links":{"jobManager":null}}}`,
			observe.Status{Schema: 1, State: "FAILED", Since: at,
				YARN:  observe.YARN{ApplicationID: "application_1_0002", State: "FINISHED", FinalStatus: "FAILED"},
				Flink: observe.Flink{JobID: "x", State: "FAILED", Version: "2.2.1", Failure: "boom"}}, "bad", "application"},
		{"stopping session", `{"id":"application_1_0003","kind":"session","applicationId":"application_1_0003","state":"STOPPING",
			"history":[{"state":"STOPPING","at":"2026-11-01T10:00:00Z"}],
			"view":{"name":"s","state":"STOPPING","flinkVersion":"1.20.3","yarn":{"state":"RUNNING"},"links":{}}}`,
			observe.Status{Schema: 1, State: "STOPPING", Since: at, StopRequested: at,
				YARN:  observe.YARN{ApplicationID: "application_1_0003", State: "RUNNING"},
				Flink: observe.Flink{Version: "1.20.3"}}, "s", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var raw json.RawMessage = []byte(c.rec)
			rec, err := decodeRecord(Entry{Key: "jobs/x", Value: raw, Version: 3})
			if err != nil {
				t.Fatal(err)
			}
			if !rec.Status.Equal(c.want) || rec.Name != c.name2 || rec.Target != c.target || rec.View != nil {
				t.Fatalf("got %+v name %q target %q, want %+v", rec.Status, rec.Name, rec.Target, c.want)
			}
			// A record at schema 1 is left as it is.
			again := rec
			upgrade(&again)
			if !again.Status.Equal(rec.Status) {
				t.Fatal("upgrade changed a current record")
			}
		})
	}
}
