package storetest

import (
	"bytes"
	"testing"

	"github.com/yarngate/yarngate/registry"
)

// Bench measures Get and Update (read, then compare-and-set) of one 1 KiB value. open returns the Store to
// measure; the benchmarks write keys of the table "bench".
func Bench(b *testing.B, open func(b *testing.B) registry.Store) {
	value := bytes.Repeat([]byte("x"), 1<<10)
	b.Run("Get", func(b *testing.B) {
		s := open(b)
		if _, err := s.Create(b.Context(), "bench/get", value); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Get(b.Context(), "bench/get"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Update", func(b *testing.B) {
		s := open(b)
		v, err := s.Create(b.Context(), "bench/update", value)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if v, err = s.Update(b.Context(), "bench/update", value, v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
