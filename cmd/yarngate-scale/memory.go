package main

import (
	"context"
	"fmt"

	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/registrytest"
)

// benchMemory (-only memory) measures the registry alone: the live heap a Registry holds per record after a
// garbage collection, for c.zkRecords typical records (application jobs with a spec, six transitions and
// a status: registrytest.TypicalRecord) and for as many of the records the other parts seed.
func benchMemory(ctx context.Context, c config) ([]goal, error) {
	n := c.zkRecords
	fmt.Printf("registry memory: %d records in memory\n", n)
	typical, err := registrytest.HeapPerRecord(ctx, n, registrytest.TypicalRecord)
	if err != nil {
		return nil, err
	}
	fmt.Printf("  typical records (a spec, six transitions, a status): %.0f bytes of heap per record\n", typical)
	recs := seedRecords(n)
	seeded, err := registrytest.HeapPerRecord(ctx, n, func(i int) registry.Record { return recs[i] })
	if err != nil {
		return nil, err
	}
	fmt.Printf("  seeded records (jobs, sessions of 20 session jobs): %.0f bytes of heap per record\n", seeded)
	return []goal{{fmt.Sprintf("registry: %.0f bytes of heap per typical record, %.0f per seeded record (goal <= 1 KiB)", typical, seeded),
		typical <= 1024 && seeded <= 1024}}, nil
}
