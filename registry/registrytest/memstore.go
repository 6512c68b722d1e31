// Package registrytest provides an in-memory registry.Store and helpers for tests of packages that keep
// records.
package registrytest

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/yarngate/yarngate/registry"
)

// MemStore is an in-memory registry.Store for unit tests of the packages that use a registry. It keeps
// the Store contract (versions, compare-and-set, change feed) but nothing survives the process.
type MemStore struct {
	mu   sync.Mutex
	data map[string]registry.Entry
	subs []func(string)
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{data: map[string]registry.Entry{}} }

func (m *MemStore) notify(k string) {
	for _, f := range m.subs {
		go f(k)
	}
}

// Get implements registry.Store.
func (m *MemStore) Get(_ context.Context, k string) (registry.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.data[k]
	if !ok {
		return registry.Entry{}, registry.ErrNotFound
	}
	return e, nil
}

// Create implements registry.Store.
func (m *MemStore) Create(_ context.Context, k string, v []byte) (registry.Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[k]; ok {
		return 0, registry.ErrExists
	}
	m.data[k] = registry.Entry{Key: k, Value: slices.Clone(v)}
	m.notify(k)
	return 0, nil
}

// Update implements registry.Store.
func (m *MemStore) Update(_ context.Context, k string, v []byte, ver registry.Version) (registry.Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.data[k]
	switch {
	case !ok:
		return 0, registry.ErrNotFound
	case e.Version != ver:
		return 0, registry.ErrConflict
	}
	m.data[k] = registry.Entry{Key: k, Value: slices.Clone(v), Version: ver + 1}
	m.notify(k)
	return ver + 1, nil
}

// Delete implements registry.Store.
func (m *MemStore) Delete(_ context.Context, k string, ver registry.Version) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.data[k]
	switch {
	case !ok:
		return registry.ErrNotFound
	case e.Version != ver:
		return registry.ErrConflict
	}
	delete(m.data, k)
	m.notify(k)
	return nil
}

// List implements registry.Store.
func (m *MemStore) List(_ context.Context, table string) ([]registry.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []registry.Entry
	for k, e := range m.data {
		if strings.HasPrefix(k, table+"/") {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b registry.Entry) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Subscribe implements registry.Store; callbacks run on their own goroutines.
func (m *MemStore) Subscribe(table string, f func(string)) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs = append(m.subs, func(k string) {
		if strings.HasPrefix(k, table+"/") {
			f(k)
		}
	})
	return func() {}, nil
}

// Open returns a Registry over s, closed when the test ends.
func Open(t testing.TB, s registry.Store) *registry.Registry {
	t.Helper()
	r, err := registry.Open(context.Background(), registry.Options{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}
