package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/yarngate/yarngate/registry"
	"github.com/yarngate/yarngate/registry/storetest"
)

func BenchmarkStore(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "registry.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	storetest.Bench(b, func(*testing.B) registry.Store { return s })
}
