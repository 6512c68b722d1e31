package zk

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strconv"
)

// The Store's layout (version 2). Every table znode <Root>/<table> has 256 bucket znodes, %00 to %ff; key
// "<table>/<name>" is the znode <Root>/<table>/%<bb>/<name>, bb being the low byte of the FNV-1a hash of name
// in hex. No listing grows with the whole table: a bucket holds a 256th of it (ZooKeeper's 1 MiB reply holds
// some 25,000 names, so a table holds millions of keys before one bucket's listing gets near it).
//
// A bucket znode's data is its change feed: the names of the last feedMax keys written in the bucket, each
// with the bucket's data version that its write produced. Every Create, Update and Delete is one ZooKeeper
// multi that writes the key and appends to its bucket's feed, conditional on the bucket's data version, so
// the feed lists every change in order. A subscriber watches the 256 bucket znodes of a table (not one znode
// per key): when a bucket's version moves from v to w it hands over the names of entries v+1..w, and signals
// a table reload only when the feed no longer reaches back to v+1 (more than feedMax writes in the bucket
// between two reads, or the bucket znode was re-created).
//
// '%' is in no registry name, so bucket znodes never collide with the keys of the previous layout (flat
// children of the table znode), which migrate.go moves into buckets.
const (
	bucketCount = 256
	// feedMax is how many changes a bucket's feed keeps. 64 entries of ~50 bytes keep the bucket znode,
	// which every write of the bucket rewrites, near 3 KiB.
	feedMax = 64
	// feedMagic starts every feed, so that data not written by the Store reads as an overflowed feed.
	feedMagic = "yg-feed-1\n"
)

// bucketOf returns the bucket znode name of a key name.
func bucketOf(name string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return bucketName(int(h.Sum32() & 0xff))
}

// bucketName is the znode name of bucket i (0 <= i < bucketCount).
func bucketName(i int) string { return fmt.Sprintf("%%%02x", i) }

// isBucket reports whether a child of a table znode is one of its buckets.
func isBucket(z string) bool {
	if len(z) != 3 || z[0] != '%' {
		return false
	}
	v, err := strconv.ParseUint(z[1:], 16, 8)
	return err == nil && z == bucketName(int(v))
}

// feedEntry is one change in a bucket's feed: the write of name that moved the bucket to version seq.
type feedEntry struct {
	seq  int32
	name string
}

// decodeFeed parses a bucket's data. Data that is empty (a bucket created but never written) is an empty feed;
// data not in the feed format is reported with ok false.
func decodeFeed(data []byte) (entries []feedEntry, ok bool) {
	if len(data) == 0 {
		return nil, true
	}
	rest, found := bytes.CutPrefix(data, []byte(feedMagic))
	if !found {
		return nil, false
	}
	for len(rest) > 0 {
		line, tail, _ := bytes.Cut(rest, []byte{'\n'})
		rest = tail
		seqText, name, found := bytes.Cut(line, []byte{' '})
		if !found || len(name) == 0 {
			return nil, false
		}
		seq, err := strconv.ParseInt(string(seqText), 10, 32)
		if err != nil {
			return nil, false
		}
		entries = append(entries, feedEntry{seq: int32(seq), name: string(name)})
	}
	return entries, true
}

// appendFeed returns the feed data of a bucket whose current data is data, after the write of name that moves
// it to version seq: the old entries (at most feedMax-1 of them, the newest) and the new one.
func appendFeed(data []byte, seq int32, name string) []byte {
	entries, _ := decodeFeed(data) // a damaged feed starts over: subscribers see a gap and reload
	if len(entries) >= feedMax {
		entries = entries[len(entries)-feedMax+1:]
	}
	var b bytes.Buffer
	b.Grow(len(feedMagic) + (len(entries)+1)*48)
	b.WriteString(feedMagic)
	for _, e := range append(entries, feedEntry{seq: seq, name: name}) {
		b.WriteString(strconv.FormatInt(int64(e.seq), 10))
		b.WriteByte(' ')
		b.WriteString(e.name)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// feedSince returns the names written in a bucket after version from up to version to, reading its feed
// data; ok is false when the feed does not reach back to from+1 (the subscriber must reload).
func feedSince(data []byte, from, to int32) (names []string, ok bool) {
	if to == from {
		return nil, true
	}
	if to < from {
		return nil, false
	}
	entries, ok := decodeFeed(data)
	if !ok {
		return nil, false
	}
	covered := false
	for _, e := range entries {
		if e.seq == from+1 {
			covered = true
		}
		if e.seq > from && e.seq <= to {
			names = append(names, e.name)
		}
	}
	return names, covered
}
