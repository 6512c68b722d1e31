package yarnlogs

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The BCFile container (Hadoop's org.apache.hadoop.io.file.tfile.BCFile), as written by TFile.Writer:
//
//	data block 0 … data block n-1      key/value entries (see entries below), each block compressed alone
//	meta blocks                        "TFile.meta", "TFile.index", "BCFile.index" (the data blocks' regions)
//	meta index                         VInt count, then per meta block: String "data:"+name, String codec,
//	                                   region (VLong offset, VLong compressed size, VLong raw size)
//	trailer                            int64 offset of the meta index, version (int16 major, int16 minor),
//	                                   16 magic bytes
//
// "BCFile.index" holds String default codec, VInt count, then a region per data block. A data block is a
// sequence of entries: VInt key length, the key, then the value in chunks — VInt n, and |n| bytes; n < 0
// means more chunks follow, n ≥ 0 ends the value. Numbers are TFile's variable-length encoding (readVLong).

// bcfileMagic ends every BCFile.
var bcfileMagic = []byte{0xd1, 0x11, 0xd3, 0x68, 0x91, 0xb5, 0xd7, 0xb6, 0x39, 0xdf, 0x41, 0x40, 0x92, 0xba, 0xe1, 0x50}

// ErrFormat means a file is not an aggregated log in the TFile format, or is damaged.
var ErrFormat = errors.New("not a readable aggregated log file")

// maxMetaBytes bounds what is read of the index blocks (a few bytes per data block).
const maxMetaBytes = 4 << 20

// region is where a block lies in the file.
type region struct {
	offset, compressed, raw int64
}

// File is one node's aggregated log file of an application.
type File struct {
	r      io.ReaderAt
	size   int64
	codec  string
	blocks []region
}

// Open reads the trailer and the index of an aggregated log file of size bytes.
func Open(r io.ReaderAt, size int64) (*File, error) {
	const trailer = 8 + 4 + 16
	if size < trailer {
		return nil, fmt.Errorf("%w: %d bytes", ErrFormat, size)
	}
	var tail [trailer]byte
	if _, err := r.ReadAt(tail[:], size-trailer); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read trailer: %w", err)
	}
	if string(tail[12:]) != string(bcfileMagic) {
		return nil, fmt.Errorf("%w: no BCFile magic", ErrFormat)
	}
	if major := binary.BigEndian.Uint16(tail[8:10]); major != 1 {
		return nil, fmt.Errorf("%w: BCFile version %d", ErrFormat, major)
	}
	metaOff := int64(binary.BigEndian.Uint64(tail[:8]))
	if metaOff < 0 || metaOff >= size-trailer || size-trailer-metaOff > maxMetaBytes {
		return nil, fmt.Errorf("%w: meta index at %d", ErrFormat, metaOff)
	}
	mr := bufio.NewReader(io.NewSectionReader(r, metaOff, size-trailer-metaOff))
	n, err := readVLong(mr)
	if err != nil || n < 0 || n > 1024 {
		return nil, fmt.Errorf("%w: meta index: %v", ErrFormat, err)
	}
	var index *region
	var indexCodec string
	for range n {
		name, err := readString(mr)
		if err != nil {
			return nil, fmt.Errorf("%w: meta index: %v", ErrFormat, err)
		}
		codec, err := readString(mr)
		if err != nil {
			return nil, fmt.Errorf("%w: meta index: %v", ErrFormat, err)
		}
		reg, err := readRegion(mr, size)
		if err != nil {
			return nil, fmt.Errorf("%w: meta index: %v", ErrFormat, err)
		}
		if name == "data:BCFile.index" {
			index, indexCodec = &reg, codec
		}
	}
	if index == nil || index.raw > maxMetaBytes {
		return nil, fmt.Errorf("%w: no data index", ErrFormat)
	}
	br, err := openBlock(r, *index, indexCodec)
	if err != nil {
		return nil, err
	}
	f := &File{r: r, size: size}
	if f.codec, err = readString(br); err != nil {
		return nil, fmt.Errorf("%w: data index: %v", ErrFormat, err)
	}
	count, err := readVLong(br)
	if err != nil || count < 0 || count > maxMetaBytes/3 {
		return nil, fmt.Errorf("%w: data index: %d blocks, %v", ErrFormat, count, err)
	}
	for range count {
		reg, err := readRegion(br, size)
		if err != nil {
			return nil, fmt.Errorf("%w: data index: %v", ErrFormat, err)
		}
		f.blocks = append(f.blocks, reg)
	}
	if _, err := codecOK(f.codec); err != nil {
		return nil, err
	}
	return f, nil
}

// codecOK reports whether a codec can be read: seekable for "none".
func codecOK(codec string) (seekable bool, err error) {
	switch codec {
	case "none":
		return true, nil
	case "gz":
		return false, nil
	}
	return false, fmt.Errorf("%w: compression %q (only none and gz are read)", ErrFormat, codec)
}

func readRegion(r io.ByteReader, size int64) (region, error) {
	var reg region
	var err error
	if reg.offset, err = readVLong(r); err != nil {
		return reg, err
	}
	if reg.compressed, err = readVLong(r); err != nil {
		return reg, err
	}
	if reg.raw, err = readVLong(r); err != nil {
		return reg, err
	}
	if reg.offset < 0 || reg.compressed < 0 || reg.raw < 0 || reg.offset+reg.compressed > size {
		return reg, fmt.Errorf("block region %d+%d outside the file of %d bytes", reg.offset, reg.compressed, size)
	}
	return reg, nil
}

// block is the uncompressed bytes of one block, read forward.
type block interface {
	io.Reader
	io.ByteReader
	// skip moves n bytes forward.
	skip(n int64) error
	// pos is the number of uncompressed bytes consumed.
	pos() int64
}

// openBlock returns a reader of a block's uncompressed bytes.
func openBlock(r io.ReaderAt, reg region, codec string) (block, error) {
	seekable, err := codecOK(codec)
	if err != nil {
		return nil, err
	}
	if seekable {
		return newWindow(r, reg.offset, reg.compressed), nil
	}
	zr, err := zlib.NewReader(newWindow(r, reg.offset, reg.compressed))
	if err != nil {
		return nil, fmt.Errorf("%w: block at %d: %v", ErrFormat, reg.offset, err)
	}
	return &inflated{br: bufio.NewReaderSize(zr, 32<<10)}, nil
}

// inflated is a compressed block: skipping reads and discards.
type inflated struct {
	br *bufio.Reader
	n  int64
}

func (z *inflated) Read(p []byte) (int, error) {
	n, err := z.br.Read(p)
	z.n += int64(n)
	return n, err
}

func (z *inflated) ReadByte() (byte, error) {
	b, err := z.br.ReadByte()
	if err == nil {
		z.n++
	}
	return b, err
}

func (z *inflated) skip(n int64) error {
	m, err := io.CopyN(io.Discard, z.br, n)
	z.n += m
	if err != nil {
		return fmt.Errorf("skip %d bytes: %w", n, unexpected(err))
	}
	return nil
}

func (z *inflated) pos() int64 { return z.n }

// windowSize is the buffer of a window: the most a reader holds of a file, whatever its size. Reads as
// large go around it.
const windowSize = 256 << 10

// headerFill is what a window reads after a skip.
const headerFill = 4 << 10

// window reads a section of an io.ReaderAt forward through a bounded buffer; skipping moves the offset
// without reading.
type window struct {
	r          io.ReaderAt
	base, size int64 // the section
	off        int64 // next byte, relative to base
	buf        []byte
	bufOff     int64 // section offset of buf[0]
}

func newWindow(r io.ReaderAt, base, size int64) *window {
	return &window{r: r, base: base, size: size}
}

func (w *window) pos() int64 { return w.off }

func (w *window) skip(n int64) error {
	if n < 0 || w.off+n > w.size {
		return fmt.Errorf("skip %d bytes at %d of %d: %w", n, w.off, w.size, io.ErrUnexpectedEOF)
	}
	w.off += n
	return nil
}

func (w *window) Read(p []byte) (int, error) {
	if w.off >= w.size {
		return 0, io.EOF
	}
	if rest := w.size - w.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	if w.off >= w.bufOff && w.off < w.bufOff+int64(len(w.buf)) {
		n := copy(p, w.buf[w.off-w.bufOff:])
		w.off += int64(n)
		return n, nil
	}
	if len(p) >= windowSize {
		n, err := w.r.ReadAt(p, w.base+w.off)
		w.off += int64(n)
		if errors.Is(err, io.EOF) && n == len(p) {
			err = nil
		}
		return n, unexpected(err)
	}
	if w.buf == nil {
		w.buf = make([]byte, windowSize)
	}
	// A read that goes on from the buffer fills all of it; one after a skip (a header between two skips,
	// while listing) only a little, so that listing reads a small part of a large file.
	fill := int64(headerFill)
	if w.off == w.bufOff+int64(len(w.buf)) {
		fill = windowSize
	}
	fill = min(fill, w.size-w.off)
	n, err := w.r.ReadAt(w.buf[:fill], w.base+w.off)
	if errors.Is(err, io.EOF) && int64(n) == fill {
		err = nil
	}
	w.buf, w.bufOff = w.buf[:cap(w.buf)][:n], w.off
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return 0, unexpected(err)
	}
	m := copy(p, w.buf)
	w.off += int64(m)
	return m, nil
}

func (w *window) ReadByte() (byte, error) {
	var b [1]byte
	if _, err := io.ReadFull(w, b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

// unexpected turns an io.EOF in the middle of a structure into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readVLong decodes TFile's variable-length integer (Utils.readVLong).
func readVLong(r io.ByteReader) (int64, error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, unexpected(err)
	}
	first := int64(int8(b))
	if first >= -32 {
		return first, nil
	}
	next := func(k int) (int64, error) {
		var v int64
		for range k {
			c, err := r.ReadByte()
			if err != nil {
				return 0, unexpected(err)
			}
			v = v<<8 | int64(c)
		}
		return v, nil
	}
	switch (first + 128) / 8 {
	case 11, 10, 9, 8, 7:
		v, err := next(1)
		return (first+52)<<8 | v, err
	case 6, 5, 4, 3:
		v, err := next(2)
		return (first+88)<<16 | v, err
	case 2, 1:
		v, err := next(3)
		return (first+112)<<24 | v, err
	}
	n := int(first + 129)
	if n < 4 || n > 8 {
		return 0, fmt.Errorf("%w: bad VLong length %d", ErrFormat, n)
	}
	v, err := next(n)
	if err != nil {
		return 0, err
	}
	shift := uint(64 - 8*n) // sign-extend the big-endian integer of n bytes
	return v << shift >> shift, nil
}

// readString decodes TFile's String: VInt length, then the bytes.
func readString(r interface {
	io.Reader
	io.ByteReader
}) (string, error) {
	n, err := readVLong(r)
	if err != nil {
		return "", err
	}
	if n < 0 || n > 4096 {
		return "", fmt.Errorf("%w: string of %d bytes", ErrFormat, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", unexpected(err)
	}
	return string(b), nil
}
