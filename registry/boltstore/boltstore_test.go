package boltstore

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/storetest"
)

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) registry.Store {
		return openTest(t, filepath.Join(t.TempDir(), "registry.db"))
	})
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	openTest(t, path)
	start := time.Now()
	s, err := Open(path, Options{LockTimeout: 200 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second Open = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Open took %v", d)
	}
}

func TestReopenKeepsDataAndVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v, err := s.Create(ctx, "jobs/a", []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "jobs/a", v); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "jobs/a"); !errors.Is(err, registry.ErrUnavailable) {
		t.Errorf("Get after Close = %v, want ErrUnavailable", err)
	}
	s2 := openTest(t, path)
	v2, err := s2.Create(ctx, "jobs/a", []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	if v2 <= v {
		t.Errorf("version after delete, reopen and re-create = %d, want above %d", v2, v)
	}
}

func TestOnChangeMayCallStore(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "registry.db"))
	got := make(chan string, 10)
	stop, err := s.Subscribe("jobs", func(key string) {
		e, err := s.Get(t.Context(), key) // must not deadlock against the writer
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(e.Value)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if _, err := s.Create(t.Context(), "jobs/a", []byte("a")); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != "a" {
			t.Fatalf("onChange read %q", v)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no notification")
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{name: "defaults", opts: Options{}},
		{name: "lock timeout", opts: Options{LockTimeout: 5 * time.Second}},
		{name: "negative lock timeout", opts: Options{LockTimeout: -time.Second}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(filepath.Join(t.TempDir(), "registry.db"), tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Open = %v, want error %v", err, tc.wantErr)
			}
			if s != nil {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestAfterClose(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "registry.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	calls := make(chan string, 1)
	if _, err := s.Subscribe("jobs", func(k string) { calls <- k }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ops := []struct {
		op string
		fn func() error
	}{
		{"Create", func() error { _, err := s.Create(t.Context(), "jobs/a", nil); return err }},
		{"List", func() error { _, err := s.List(t.Context(), "jobs"); return err }},
		{"Subscribe", func() error { _, err := s.Subscribe("jobs", func(string) {}); return err }},
	}
	for _, o := range ops {
		if err := o.fn(); !errors.Is(err, registry.ErrUnavailable) {
			t.Errorf("%s after Close = %v, want ErrUnavailable", o.op, err)
		}
	}
	select {
	case k := <-calls:
		t.Errorf("onChange(%q) after Close", k)
	default:
	}
}
