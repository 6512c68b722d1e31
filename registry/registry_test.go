package registry_test

import (
	"errors"
	"fmt"
	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/registrytest"
	"strings"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T, s registry.Store) *registry.Registry { return registrytest.Open(t, s) }

func TestRegistrySharedBetweenInstances(t *testing.T) {
	s := registrytest.NewMemStore()
	a, b := open(t, s), open(t, s)
	ctx := t.Context()

	rec, err := a.Create(ctx, registry.Record{ID: "application_1_0001", Kind: registry.KindJob, State: "SUBMITTING"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Create(ctx, registry.Record{ID: rec.ID}); !errorsIs(err, registry.ErrExists) {
		t.Fatalf("second create: %v, want registry.ErrExists", err)
	}
	// b reads through to the store, then follows a's changes.
	got, err := b.Get(ctx, rec.ID)
	if err != nil || got.State != "SUBMITTING" {
		t.Fatalf("b.Get = %+v, %v", got, err)
	}
	changed := b.Changed(rec.ID)
	if _, err := a.Update(ctx, rec.ID, func(r *registry.Record) (bool, error) {
		return r.SetState("RUNNING", false, time.Now(), ""), nil
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(2 * time.Second):
		t.Fatal("b did not see a's update")
	}
	if got, _ := b.Cached(rec.ID); got.State != "RUNNING" || len(got.History) != 1 {
		t.Fatalf("b holds %+v", got)
	}
}

func TestRegistryUpdateContention(t *testing.T) {
	s := registrytest.NewMemStore()
	regs := []*registry.Registry{open(t, s), open(t, s), open(t, s)}
	ctx := t.Context()
	if _, err := regs[0].Create(ctx, registry.Record{ID: "r"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			for range 10 {
				if _, err := regs[i%3].Update(ctx, "r", func(r *registry.Record) (bool, error) {
					r.Files = append(r.Files, fmt.Sprint(i))
					return true, nil
				}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	rec, err := registrytest.Open(t, s).Get(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Files) != 120 {
		t.Fatalf("%d updates kept, want 120 (none lost)", len(rec.Files))
	}
}

func TestRecordSetState(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name    string
		steps   []string // "STATE" or "STATE!" for terminal
		want    string
		history int
	}{
		{"moves", []string{"SUBMITTING", "STARTING", "RUNNING"}, "RUNNING", 3},
		{"repeat is no change", []string{"RUNNING", "RUNNING"}, "RUNNING", 1},
		{"terminal is final", []string{"RUNNING", "FINISHED!", "RUNNING", "LOST!"}, "FINISHED", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r registry.Record
			for _, s := range c.steps {
				st, term := strings.CutSuffix(s, "!")
				r.SetState(st, term, at, "")
			}
			if r.State != c.want || len(r.History) != c.history {
				t.Fatalf("state %s history %v", r.State, r.History)
			}
			if r.Terminal != !r.EndedAt.IsZero() {
				t.Fatalf("terminal %v, endedAt %v", r.Terminal, r.EndedAt)
			}
		})
	}
}

func TestClaimKey(t *testing.T) {
	r := open(t, registrytest.NewMemStore())
	ctx := t.Context()
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := map[string]bool{}
	for i := range 16 {
		wg.Go(func() {
			c, won, err := r.ClaimKey(ctx, "h", registry.KeyClaim{ID: fmt.Sprint("id", i), Fingerprint: "f"})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if won {
				winners[c.ID] = true
			}
			winners["seen:"+c.ID] = true
		})
	}
	wg.Wait()
	if len(winners) != 2 {
		t.Fatalf("claims %v: want exactly one winner seen by all", winners)
	}
	c, err := r.Claim(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	moved := c
	moved.ID = "other"
	if _, err := r.MoveClaim(ctx, "h", moved); err != nil {
		t.Fatal(err)
	}
	if _, err := r.MoveClaim(ctx, "h", moved); !errorsIs(err, registry.ErrConflict) {
		t.Fatalf("stale move: %v, want registry.ErrConflict", err)
	}
	if err := r.ReleaseKey(ctx, "h"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Claim(ctx, "h"); !errorsIs(err, registry.ErrNotFound) {
		t.Fatalf("released claim: %v", err)
	}
}

func errorsIs(err, target error) bool { return err != nil && errors.Is(err, target) }
