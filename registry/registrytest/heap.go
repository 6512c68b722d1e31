package registrytest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/yarngate/yarngate/observe"
	"github.com/yarngate/yarngate/registry"
)

// HeapPerRecord stores n records made by record in a MemStore, opens a Registry on it and returns the heap
// the Registry holds per record after a garbage collection (the store's own copy is not counted).
func HeapPerRecord(ctx context.Context, n int, record func(i int) registry.Record) (float64, error) {
	s := NewMemStore()
	for i := range n {
		rec := record(i)
		b, err := json.Marshal(rec)
		if err != nil {
			return 0, fmt.Errorf("record %d: %w", i, err)
		}
		if _, err := s.Create(ctx, registry.TableJobs+"/"+rec.ID, b); err != nil {
			return 0, fmt.Errorf("record %d: %w", i, err)
		}
	}
	before := liveHeap()
	reg, err := registry.Open(ctx, registry.Options{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return 0, err
	}
	defer reg.Close()
	after := liveHeap()
	if got := reg.Count(nil); got != n {
		return 0, fmt.Errorf("the registry holds %d records, want %d", got, n)
	}
	return float64(int64(after)-int64(before)) / float64(n), nil
}

// liveHeap is the heap in use after a garbage collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TypicalRecord is the i-th of a set of application jobs as the gateway writes it after a few state changes, its events
// delivered: a
// spec, six transitions and a status of realistic sizes, varied by i.
func TypicalRecord(i int) registry.Record {
	app := fmt.Sprintf("application_1767225600000_%06d", i)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	spec := fmt.Sprintf(`{"name":"orders-%d","flinkVersion":"2.2.1","jarId":"sha256-%064x","entryClass":"com.example.Orders",`+
		`"args":["--input","kafka://broker:9092/orders-%d"],"parallelism":%d,"queue":"default","taskManager":{"memory":"4096m","slots":2}}`,
		i, i*7919, i%17, 1+i%8)
	rec := registry.Record{ID: app, Kind: registry.KindJob, ApplicationID: app, Owner: fmt.Sprintf("user%d", i%50),
		SubmittedBy: "airflow@EXAMPLE.COM", Name: fmt.Sprintf("orders-%d", i), Target: "application",
		KeyHash: fmt.Sprintf("%064x", i*31), Fingerprint: fmt.Sprintf("%064x", i*37), Spec: json.RawMessage(spec), CreatedAt: base}
	for k, s := range []string{"SUBMITTED", "ACCEPTED", "STARTING", "RUNNING", "RESTARTING", "RUNNING"} {
		at := base.Add(time.Duration(k*(1+i%7)) * time.Second)
		rec.SetStatus(observe.Status{Schema: observe.SchemaVersion, State: s, Since: at,
			YARN: observe.YARN{ApplicationID: app, State: "RUNNING", FinalStatus: "UNDEFINED", User: rec.Owner, Queue: "default",
				AMContainerLogs: fmt.Sprintf("http://nm-%d.example.com:8042/node/containerlogs/container_1767225600000_%04d_01_000001/%s", i%20, i%10000, rec.Owner)},
			Flink:      observe.Flink{Version: "2.2.1", JobID: fmt.Sprintf("%032x", i*7), State: s},
			JobManager: fmt.Sprintf("http://nm-%d.example.com:%d", i%20, 30000+i%20000)}, "")
	}
	rec.Outbox = nil
	return rec
}
