package zk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/compress/zstd"
)

// Bucket snapshots. Each bucket may have a child znode %snapshot ('%' is in no registry name, so it never
// clashes with a key, and instances without snapshots drop it from their listings): the values of the bucket's
// keys as they all were at one version Vs of the bucket, zstd-compressed. With it, loading a table costs per
// bucket a snapshot read, a bucket read and a listing, plus a read of only the keys the snapshot cannot vouch
// for: those written after Vs (the bucket's change feed names them; when it no longer reaches back to Vs the
// snapshot is not used), created since, or missing from the snapshot. A snapshot never has to be complete
// or current to be correct: a key it lacks is read, a key it holds but the bucket listing does not is gone.
//
// Who writes them: the Store whose write moves a bucket to a multiple of snapshotEvery (after the write, in the
// background), and a List that found a bucket's snapshot missing or snapshotStale writes behind (from what it
// has just read). Writers build it from the previous snapshot plus the keys read since, then read the bucket
// again: keys written meanwhile are left out, so every entry is the key's value at the version stored. The
// write is conditional on the snapshot znode's version read before, so of two concurrent writers one wins and
// a snapshot never goes back to an older one. Writes by instances that know no snapshots (a rolling upgrade)
// still append to the feed, so they only make snapshots stale, never wrong.
const (
	// snapshotZnode is the name of a bucket's snapshot child.
	snapshotZnode = "%snapshot"
	// snapshotMagic starts every snapshot's data, followed by the bucket's czxid and the version Vs (varints)
	// and the zstd-compressed entries.
	snapshotMagic = "yg-snap-1\n"
	// snapshotMax bounds a snapshot znode's data. go-zookeeper's receive loop ends the shared connection for a
	// reply over 1 MiB (and ZooKeeper refuses requests over jute.maxbuffer, 1 MiB): a snapshot that would be
	// larger leaves entries out (they are read key by key). At ~10:1 compression of registry records, 512 KiB
	// hold some 5 MB of records per bucket: over 10^6 records per table before anything is left out.
	snapshotMax = 512 << 10
	// snapshotMaxDecoded bounds the decompressed size of a snapshot a reader accepts.
	snapshotMaxDecoded = 64 << 20
	// snapshotEvery: a write that moves its bucket to a multiple of it also refreshes the bucket's snapshot
	// (the feed keeps feedMax = 64 changes, so the snapshot stays within reach of it).
	snapshotEvery = 32
	// snapshotStale: a List writes a new snapshot of a bucket whose snapshot is missing, unusable or at least
	// this many writes behind.
	snapshotStale = 8
)

// snapEntry is one key of a snapshot.
type snapEntry struct {
	version int32
	data    []byte
}

// snapshot is a decoded bucket snapshot: every entry is its key's value at bucket version `version` of the
// bucket created at czxid.
type snapshot struct {
	czxid   int64
	version int32
	entries map[string]snapEntry
}

// snapCodec compresses and decompresses snapshots; safe for concurrent use. It only uses EncodeAll and
// DecodeAll, which start no goroutines, so it needs no closing.
type snapCodec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newSnapCodec() (*snapCodec, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, fmt.Errorf("zk: snapshot encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(snapshotMaxDecoded))
	if err != nil {
		return nil, fmt.Errorf("zk: snapshot decoder: %w", err)
	}
	return &snapCodec{enc: enc, dec: dec}, nil
}

// encode returns the data of a snapshot of entries at (czxid, version), at most limit bytes: when all entries
// do not fit, it leaves out as many as needed (readers read those keys). It also returns how many it kept.
func (c *snapCodec) encode(czxid int64, version int32, entries map[string]snapEntry, limit int) ([]byte, int) {
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	slices.Sort(names)
	head := []byte(snapshotMagic)
	head = binary.AppendVarint(head, czxid)
	head = binary.AppendVarint(head, int64(version))
	keep := len(names)
	var body []byte
	for {
		body = body[:0]
		for _, n := range names[:keep] {
			e := entries[n]
			body = binary.AppendUvarint(body, uint64(len(n)))
			body = append(body, n...)
			body = binary.AppendUvarint(body, uint64(e.version))
			body = binary.AppendUvarint(body, uint64(len(e.data)))
			body = append(body, e.data...)
		}
		out := c.enc.EncodeAll(body, slices.Clip(head))
		if len(out) <= limit || keep == 0 {
			return out, keep
		}
		// Keep the share that fits, with a margin, and try again.
		keep = int(float64(keep) * float64(limit-len(head)) / float64(len(out)-len(head)) * 0.9)
	}
}

var errBadSnapshot = errors.New("not a snapshot")

// decode parses a snapshot's data.
func (c *snapCodec) decode(data []byte) (snapshot, error) {
	rest, ok := bytes.CutPrefix(data, []byte(snapshotMagic))
	if !ok {
		return snapshot{}, errBadSnapshot
	}
	czxid, n := binary.Varint(rest)
	if n <= 0 {
		return snapshot{}, errBadSnapshot
	}
	rest = rest[n:]
	version, n := binary.Varint(rest)
	if n <= 0 || version < 0 || version > 1<<31-1 {
		return snapshot{}, errBadSnapshot
	}
	rest = rest[n:]
	body, err := c.dec.DecodeAll(rest, nil)
	if err != nil {
		return snapshot{}, fmt.Errorf("%w: %w", errBadSnapshot, err)
	}
	s := snapshot{czxid: czxid, version: int32(version), entries: map[string]snapEntry{}}
	for len(body) > 0 {
		name, rest, ok := snapField(body)
		if !ok {
			return snapshot{}, errBadSnapshot
		}
		v, n := binary.Uvarint(rest)
		if n <= 0 || v > 1<<31-1 {
			return snapshot{}, errBadSnapshot
		}
		data, rest, ok := snapField(rest[n:])
		if !ok {
			return snapshot{}, errBadSnapshot
		}
		s.entries[string(name)] = snapEntry{version: int32(v), data: data}
		body = rest
	}
	return s, nil
}

// snapField reads one length-prefixed field.
func snapField(b []byte) (field, rest []byte, ok bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, nil, false
	}
	return b[n : n+int(l) : n+int(l)], b[n+int(l):], true
}
