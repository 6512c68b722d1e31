package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"
	"unique"

	"github.com/google/btree"
	"github.com/klauspost/compress/s2"

	"github.com/yarngate/yarngate/observe"
)

// Summary is the part of a record the registry keeps decoded in memory, for the lookups, filters and
// authorization checks that run over many records (list pages, the reconciler's passes, notification
// rounds): everything else of the record is kept compressed and decoded on demand (Get, List). A Summary is
// derived from its Record (summarize) and never written.
type Summary struct {
	// ID, Kind, ApplicationID, Owner, ACL, State, Terminal, Launcher: the record's (ACL is shared with
	// the registry: read-only).
	ID            string
	Kind          string
	ApplicationID string
	Owner         string
	ACL           *ACL
	State         string
	Terminal      bool
	Launcher      string
	// Schema, Since and YARNState are the record's Status.Schema, Status.Since and Status.YARN.State.
	Schema    int
	Since     time.Time
	YARNState string
	// FailureKnown reports whether the record's Flink failure is known (Status.Flink.Failure != "").
	FailureKnown bool
	// Health is the record's Status.Health.Status; AutoRestart reports whether it has automatic restarts
	// (Record.AutoRestart != nil).
	Health      string
	AutoRestart bool
	// UpgradeStep is the step of the record's latest upgrade ("" without one).
	UpgradeStep string
	// Cluster reports whether the record has a cluster registration (Record.Cluster != nil).
	Cluster bool
	// Credentials: the record's (a session's, which its jobs run on). Read-only, as ACL.
	Credentials *Credentials
	// Outbox and Savepoints are the numbers of the record's undelivered events and savepoints.
	Outbox     int
	Savepoints int
	// CreatedAt, EndedAt, GoneAt: the record's.
	CreatedAt time.Time
	EndedAt   time.Time
	GoneAt    time.Time
}

// intern returns the canonical copy of a string that many records share (kinds, states, owners, a
// session's id), so that each record does not hold its own.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// SummaryOf returns the summary of a record, as the registry keeps it.
func SummaryOf(rec *Record) Summary { return summarize(rec) }

// summarize returns the summary of rec.
func summarize(rec *Record) Summary {
	s := Summary{
		ID: rec.ID, Kind: intern(rec.Kind), ApplicationID: rec.ID, Owner: intern(rec.Owner), ACL: rec.ACL,
		State: intern(rec.State), Terminal: rec.Terminal, Launcher: intern(rec.Launcher),
		Schema: rec.Status.Schema, Since: rec.Status.Since, YARNState: intern(rec.Status.YARN.State), Cluster: rec.Cluster != nil, Credentials: rec.Credentials,
		FailureKnown: rec.Status.Flink.Failure != "",
		Health:       intern(rec.Status.Health.Status), AutoRestart: rec.AutoRestart != nil,
		Outbox: len(rec.Outbox), Savepoints: len(rec.Savepoints),
		CreatedAt: rec.CreatedAt, EndedAt: rec.EndedAt, GoneAt: rec.GoneAt,
	}
	if rec.ApplicationID != rec.ID {
		s.ApplicationID = intern(rec.ApplicationID) // a session job's: its session's id
	}
	if rec.Upgrade != nil {
		s.UpgradeStep = intern(rec.Upgrade.Step)
	}
	return s
}

// entry is what the registry holds of one record: its summary and its stored JSON, compressed. An entry is
// never changed once made (a new version replaces it), so that it may be read outside the lock.
type entry struct {
	Summary
	data    []byte
	version Version
	runs    *runKeys
}

// entryLess orders entries as List returns them: oldest first, then by id.
func entryLess(a, b *entry) bool {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

func newIndex() *btree.BTreeG[*entry] { return btree.NewG(32, entryLess) }

// codec compresses records' JSON with a dictionary of typical records, which is where most of a small
// record's redundancy is (field names, ids, states). The dictionary lives in memory only: nothing it
// compresses is ever stored.
type codec struct {
	dict    *s2.Dict
	buffers sync.Pool // of *[]byte: decompressed JSON being decoded
}

func newCodec() *codec {
	var sample []byte
	for _, rec := range dictionaryRecords() {
		b, err := json.Marshal(rec)
		if err != nil {
			panic(fmt.Sprintf("registry: dictionary record: %v", err)) // fixed values: cannot fail
		}
		sample = append(sample, b...)
	}
	return &codec{dict: s2.MakeDict(sample, nil)}
}

// encode compresses a record's JSON into a slice of its own length (the encoder's is as long as the worst
// case).
func (c *codec) encode(raw []byte) []byte { return bytes.Clone(c.dict.EncodeBetter(nil, raw)) }

// decode returns the record an entry holds. The JSON is decompressed into a pooled buffer: decoding copies
// what it keeps (strings, json.RawMessage), so that a read allocates only the record.
func (c *codec) decode(e *entry) (Record, error) {
	bp, _ := c.buffers.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer c.buffers.Put(bp)
	raw, err := c.dict.Decode((*bp)[:cap(*bp)], e.data)
	if err != nil {
		return Record{}, fmt.Errorf("registry: record %s: decompress: %w", e.ID, err)
	}
	if cap(raw) <= 64<<10 {
		*bp = raw // kept for the next read (a larger one is left to the collector)
	}
	return decodeRecord(Entry{Key: key(TableJobs, e.ID), Value: raw, Version: e.version})
}

// dictionaryRecords are records shaped as the gateway writes them (an application job with its history,
// a session job, a session), for the compression dictionary.
func dictionaryRecords() []Record {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	app := "application_1767225600000_000001"
	st := observe.Status{Schema: observe.SchemaVersion, State: "RUNNING", Since: at, Ran: true,
		YARN: observe.YARN{ApplicationID: app, State: "RUNNING", FinalStatus: "UNDEFINED", Queue: "default", User: "flink",
			AMContainerLogs: "http://localhost:8042/node/containerlogs/container_1767225600000_0001_01_000001/flink"},
		Flink:      observe.Flink{Version: "2.2.1", JobID: "00000000000000000000000000000001", State: "RUNNING"},
		JobManager: "http://localhost:8081",
		Health:     observe.Health{Status: "HEALTHY", CheckedAt: at}}
	job := Record{ID: app, Kind: KindJob, ApplicationID: app, Owner: "flink", SubmittedBy: "flink@EXAMPLE.COM", Name: "job",
		Target: "application", KeyHash: "0000000000000000000000000000000000000000000000000000000000000000",
		Fingerprint: "0000000000000000000000000000000000000000000000000000000000000000",
		Spec: json.RawMessage(`{"name":"job","flinkVersion":"2.2.1","jarId":"sha256-0000000000000000000000000000000000000000000000000000000000000000",` +
			`"entryClass":"org.example.Job","args":["--input","--output"],"parallelism":1,"queue":"default",` +
			`"jobManager":{"memory":"1600m"},"taskManager":{"memory":"1728m","slots":1},"flinkConfiguration":{}}`),
		Files:     []string{"/user/flink/.flink/" + app},
		CreatedAt: at, UpdatedAt: at, Webhooks: []Webhook{{URL: "https://example.com/hook", Events: EventTypes()}}}
	for _, s := range []string{"SUBMITTED", "ACCEPTED", "STARTING", "RUNNING", "RESTARTING", "FINISHED", "FAILED", "CANCELED", "LOST"} {
		job.History = append(job.History, Transition{State: s, At: at})
		job.Outbox = append(job.Outbox, Event{ID: "00000000000000000000000000000000", Type: EventState, At: at, State: s, Previous: s})
	}
	job.Status = st
	sj := job
	sj.ID, sj.Kind, sj.Target, sj.Spec = app+".00000000000000000000000000000001", KindSessionJob, "session", nil
	sess := job
	sess.Kind, sess.Name, sess.Target, sess.Spec, sess.Status.Flink = KindSession, "", "", nil, observe.Flink{Version: "2.2.1"}
	return []Record{job, sj, sess}
}
