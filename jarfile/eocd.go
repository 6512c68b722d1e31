package jarfile

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Zip record layouts (APPNOTE.TXT 4.3.14-4.3.16).
const (
	eocdSignature        = 0x06054b50
	eocdLen              = 22
	maxCommentLen        = 0xffff
	zip64LocatorSig      = 0x07064b50
	zip64LocatorLen      = 20
	zip64EOCDSignature   = 0x06064b50
	zip64EOCDLen         = 56
	zip64EntriesOffset   = 32
	eocdEntriesOffset    = 10
	eocdLocatorSearchGap = zip64LocatorLen
)

// directoryEntries reads the end-of-central-directory record (and its zip64 twin when the 16-bit count
// overflows) and returns the number of entries it announces. It is a cheap pre-check that lets Inspect refuse
// an archive whose index would not fit in memory before archive/zip allocates it.
func directoryEntries(r io.ReaderAt, size int64) (uint64, error) {
	tail := int64(eocdLen + maxCommentLen)
	if tail > size {
		tail = size
	}
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return 0, fmt.Errorf("%w: read end of archive: %w", ErrNotZip, err)
	}
	pos := findEOCD(buf)
	if pos < 0 {
		return 0, fmt.Errorf("%w: no end-of-central-directory record", ErrNotZip)
	}
	entries := uint64(binary.LittleEndian.Uint16(buf[pos+eocdEntriesOffset:]))
	if entries != 0xffff {
		return entries, nil
	}
	// The count overflowed 16 bits: a zip64 locator must sit right before the record.
	eocdAt := size - tail + int64(pos)
	if eocdAt < eocdLocatorSearchGap {
		return 0, fmt.Errorf("%w: zip64 locator missing", ErrNotZip)
	}
	loc := make([]byte, zip64LocatorLen)
	if _, err := r.ReadAt(loc, eocdAt-zip64LocatorLen); err != nil && err != io.EOF {
		return 0, fmt.Errorf("%w: read zip64 locator: %w", ErrNotZip, err)
	}
	if binary.LittleEndian.Uint32(loc) != zip64LocatorSig {
		// A genuine 65535-entry archive without zip64 records.
		return entries, nil
	}
	recAt := binary.LittleEndian.Uint64(loc[8:])
	if size < zip64EOCDLen || recAt > uint64(size-zip64EOCDLen) {
		return 0, fmt.Errorf("%w: zip64 record out of bounds", ErrNotZip)
	}
	rec := make([]byte, zip64EOCDLen)
	if _, err := r.ReadAt(rec, int64(recAt)); err != nil && err != io.EOF {
		return 0, fmt.Errorf("%w: read zip64 record: %w", ErrNotZip, err)
	}
	if binary.LittleEndian.Uint32(rec) != zip64EOCDSignature {
		return 0, fmt.Errorf("%w: bad zip64 record signature", ErrNotZip)
	}
	return binary.LittleEndian.Uint64(rec[zip64EntriesOffset:]), nil
}

// findEOCD returns the offset in b of the last end-of-central-directory record whose comment fits in b,
// or -1.
func findEOCD(b []byte) int {
	for i := len(b) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(b[i:]) != eocdSignature {
			continue
		}
		commentLen := int(binary.LittleEndian.Uint16(b[i+eocdLen-2:]))
		if i+eocdLen+commentLen <= len(b) {
			return i
		}
	}
	return -1
}
