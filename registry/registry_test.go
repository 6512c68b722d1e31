package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStore is an in-memory Store for unit tests; registry/storetest checks the real ones.
type memStore struct {
	mu   sync.Mutex
	data map[string]Entry
	subs []func(string)
}

func newMemStore() *memStore { return &memStore{data: map[string]Entry{}} }

func (m *memStore) notify(k string) {
	for _, f := range m.subs {
		go f(k)
	}
}

func (m *memStore) Get(_ context.Context, k string) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.data[k]
	if !ok {
		return Entry{}, ErrNotFound
	}
	return e, nil
}

func (m *memStore) Create(_ context.Context, k string, v []byte) (Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[k]; ok {
		return 0, ErrExists
	}
	m.data[k] = Entry{Key: k, Value: slices.Clone(v)}
	m.notify(k)
	return 0, nil
}

func (m *memStore) Update(_ context.Context, k string, v []byte, ver Version) (Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.data[k]
	switch {
	case !ok:
		return 0, ErrNotFound
	case e.Version != ver:
		return 0, ErrConflict
	}
	m.data[k] = Entry{Key: k, Value: slices.Clone(v), Version: ver + 1}
	m.notify(k)
	return ver + 1, nil
}

func (m *memStore) Delete(_ context.Context, k string, ver Version) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.data[k]
	switch {
	case !ok:
		return ErrNotFound
	case e.Version != ver:
		return ErrConflict
	}
	delete(m.data, k)
	m.notify(k)
	return nil
}

func (m *memStore) List(_ context.Context, table string) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for k, e := range m.data {
		if strings.HasPrefix(k, table+"/") {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (m *memStore) Subscribe(table string, f func(string)) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs = append(m.subs, func(k string) {
		if strings.HasPrefix(k, table+"/") {
			f(k)
		}
	})
	return func() {}, nil
}

func open(t *testing.T, s Store) *Registry {
	t.Helper()
	r, err := Open(t.Context(), Options{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestRegistrySharedBetweenInstances(t *testing.T) {
	s := newMemStore()
	a, b := open(t, s), open(t, s)
	ctx := t.Context()

	rec, err := a.Create(ctx, Record{ID: "application_1_0001", Kind: KindJob, State: "SUBMITTING"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Create(ctx, Record{ID: rec.ID}); !errorsIs(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	// b reads through to the store, then follows a's changes.
	got, err := b.Get(ctx, rec.ID)
	if err != nil || got.State != "SUBMITTING" {
		t.Fatalf("b.Get = %+v, %v", got, err)
	}
	changed := b.Changed(rec.ID)
	if _, err := a.Update(ctx, rec.ID, func(r *Record) (bool, error) {
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
	s := newMemStore()
	regs := []*Registry{open(t, s), open(t, s), open(t, s)}
	ctx := t.Context()
	if _, err := regs[0].Create(ctx, Record{ID: "r"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			for range 10 {
				if _, err := regs[i%3].Update(ctx, "r", func(r *Record) (bool, error) {
					r.Files = append(r.Files, fmt.Sprint(i))
					return true, nil
				}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	e, _ := s.Get(ctx, key(TableJobs, "r"))
	rec, _ := decodeRecord(e)
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
			var r Record
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
	r := open(t, newMemStore())
	ctx := t.Context()
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := map[string]bool{}
	for i := range 16 {
		wg.Go(func() {
			c, won, err := r.ClaimKey(ctx, "h", KeyClaim{ID: fmt.Sprint("id", i), Fingerprint: "f"})
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
	if _, err := r.MoveClaim(ctx, "h", moved); !errorsIs(err, ErrConflict) {
		t.Fatalf("stale move: %v, want ErrConflict", err)
	}
	if err := r.ReleaseKey(ctx, "h"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Claim(ctx, "h"); !errorsIs(err, ErrNotFound) {
		t.Fatalf("released claim: %v", err)
	}
}

func errorsIs(err, target error) bool { return err != nil && errors.Is(err, target) }
