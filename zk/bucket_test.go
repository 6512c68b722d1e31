package zk

import (
	"fmt"
	"slices"
	"testing"
)

func TestBucketOf(t *testing.T) {
	counts := map[string]int{}
	for i := range 100000 {
		b := bucketOf(fmt.Sprintf("job-%08d", i))
		if !isBucket(b) {
			t.Fatalf("bucketOf = %q, not a bucket name", b)
		}
		counts[b]++
	}
	if len(counts) != bucketCount {
		t.Fatalf("%d buckets used, want %d", len(counts), bucketCount)
	}
	for b, n := range counts { // 390 on average
		if n < 250 || n > 550 {
			t.Errorf("bucket %s holds %d of 100,000 keys: badly spread", b, n)
		}
	}
	for _, z := range []string{"%0", "%000", "%GG", "%0A", "a00", "00", "%.", "%.."} {
		if isBucket(z) {
			t.Errorf("isBucket(%q) = true", z)
		}
	}
}

func TestFeed(t *testing.T) {
	// Build a feed of 100 writes (versions 1..100) of names n1..n100; it keeps the last feedMax.
	var data []byte
	for v := int32(1); v <= 100; v++ {
		data = appendFeed(data, v, fmt.Sprintf("n%d", v))
	}
	entries, ok := decodeFeed(data)
	if !ok || len(entries) != feedMax || entries[0].seq != 100-feedMax+1 || entries[feedMax-1].name != "n100" {
		t.Fatalf("feed after 100 writes: %d entries, ok %v, first %+v", len(entries), ok, entries[0])
	}
	names := func(from, to int) []string {
		var out []string
		for v := from; v <= to; v++ {
			out = append(out, fmt.Sprintf("n%d", v))
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		from, to int32
		want     []string
		ok       bool
	}{
		{"no change", data, 100, 100, nil, true},
		{"one", data, 99, 100, names(100, 100), true},
		{"all kept", data, 100 - feedMax, 100, names(101-feedMax, 100), true},
		{"overflowed", data, 99 - feedMax, 100, nil, false},
		{"older version seen than kept", data, 10, 100, nil, false},
		{"went back (re-created)", data, 100, 5, nil, false},
		{"new bucket", appendFeed(appendFeed(nil, 1, "a"), 2, "b"), 0, 2, []string{"a", "b"}, true},
		{"empty data, moved", nil, 0, 1, nil, false},
		{"foreign data", []byte("hello"), 0, 1, nil, false},
		{"damaged line", []byte(feedMagic + "x a\n"), 0, 1, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := feedSince(tc.data, tc.from, tc.to)
			if ok != tc.ok || (ok && !slices.Equal(got, tc.want)) {
				t.Errorf("feedSince(%d, %d) = %v, %v; want %v, %v", tc.from, tc.to, got, ok, tc.want, tc.ok)
			}
		})
	}
	if n := len(data); n > 1200 {
		t.Errorf("a full feed of short names is %d bytes", n)
	}
}
