package yarnlogs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The entries of an aggregated log file (AggregatedLogFormat): the keys are Java DataOutput UTF strings
// (int16 length, then the bytes): "VERSION", "APPLICATION_ACL", "APPLICATION_OWNER" and one container id per
// container. A container's value is, for each of its log files, the UTF file name, the UTF decimal length,
// and that many bytes of the file.

// Container is one container's logs in a node's aggregated file.
type Container struct {
	// ID is the container id, container_….
	ID string
	// Files are its log files in the order the NodeManager wrote them.
	Files []LogFile
}

// LogFile is one log file of a container.
type LogFile struct {
	// Name is the file's name, such as jobmanager.log.
	Name string
	// Size is its length in bytes.
	Size int64
	at   location
	// marks are places in the bytes, about every markEvery bytes, where a read of a range may start
	// instead of walking the chunks from the beginning.
	marks []mark
}

// mark is where the byte at off of a log file is.
type mark struct {
	off int64
	at  location
}

// markEvery is the distance between two marks: a 1 GiB log keeps 1024 of them.
const markEvery = 1 << 20

// location is where a log file's bytes start: a data block, the uncompressed offset in it, and the state
// of the value's chunks there.
type location struct {
	block     int
	pos       int64
	chunkLeft int64
	last      bool
}

// maxKey bounds a key read whole; longer keys are skipped (no container id is that long).
const maxKey = 1024

// Containers lists the containers of the file and their log files. It walks every data block, reading
// the headers and skipping the log bytes.
func (f *File) Containers() ([]Container, error) {
	var out []Container
	for i, reg := range f.blocks {
		b, err := openBlock(f.r, reg, f.codec)
		if err != nil {
			return nil, err
		}
		for b.pos() < reg.raw {
			key, err := readKey(b)
			if err != nil {
				return nil, fmt.Errorf("%w: block %d: key: %v", ErrFormat, i, err)
			}
			v := &chunks{b: b}
			if !strings.HasPrefix(key, "container_") {
				if err := v.drain(); err != nil {
					return nil, fmt.Errorf("%w: block %d: value of %s: %v", ErrFormat, i, key, err)
				}
				continue
			}
			c := Container{ID: key}
			for {
				name, err := readUTF(v)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return nil, fmt.Errorf("%w: container %s: file name: %v", ErrFormat, key, err)
				}
				length, err := readUTF(v)
				if err != nil {
					return nil, fmt.Errorf("%w: container %s: length of %s: %v", ErrFormat, key, name, err)
				}
				size, err := strconv.ParseInt(length, 10, 64)
				if err != nil || size < 0 {
					return nil, fmt.Errorf("%w: container %s: length of %s: %q", ErrFormat, key, name, length)
				}
				lf := LogFile{Name: name, Size: size, at: location{block: i, pos: b.pos(), chunkLeft: v.left, last: v.last}}
				if lf.marks, err = v.skipMarking(size, i); err != nil {
					return nil, fmt.Errorf("%w: container %s: %s: %v", ErrFormat, key, name, err)
				}
				c.Files = append(c.Files, lf)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// Content returns a reader of n bytes of a log file from offset off (clipped to the file); it holds at most
// a window of the file at a time.
func (f *File) Content(lf LogFile, off, n int64) (io.Reader, error) {
	if off < 0 || n < 0 || lf.at.block >= len(f.blocks) {
		return nil, fmt.Errorf("content of %s: bad range %d+%d", lf.Name, off, n)
	}
	off = min(off, lf.Size)
	n = min(n, lf.Size-off)
	b, err := openBlock(f.r, f.blocks[lf.at.block], f.codec)
	if err != nil {
		return nil, err
	}
	if err := b.skip(lf.at.pos); err != nil {
		return nil, fmt.Errorf("%w: content of %s: %v", ErrFormat, lf.Name, err)
	}
	from := mark{at: lf.at}
	for _, m := range lf.marks {
		if m.off > off {
			break
		}
		from = m
	}
	if err := b.skip(from.at.pos - lf.at.pos); err != nil {
		return nil, fmt.Errorf("%w: content of %s: %v", ErrFormat, lf.Name, err)
	}
	v := &chunks{b: b, left: from.at.chunkLeft, last: from.at.last}
	if err := v.skip(off - from.off); err != nil {
		return nil, fmt.Errorf("%w: content of %s: %v", ErrFormat, lf.Name, err)
	}
	return io.LimitReader(v, n), nil
}

// readKey reads an entry's key: VInt length, then a UTF string.
func readKey(b block) (string, error) {
	n, err := readVLong(b)
	if err != nil {
		return "", err
	}
	if n < 2 {
		return "", fmt.Errorf("key of %d bytes", n)
	}
	if n > maxKey {
		return "", b.skip(n)
	}
	k := make([]byte, n)
	if _, err := io.ReadFull(b, k); err != nil {
		return "", unexpected(err)
	}
	if int(binary.BigEndian.Uint16(k)) != len(k)-2 {
		return "", fmt.Errorf("key is not a UTF string")
	}
	return string(k[2:]), nil
}

// readUTF reads a Java DataOutput UTF string (int16 length, then the bytes); io.EOF when the value ended
// before it.
func readUTF(v *chunks) (string, error) {
	var l [2]byte
	if n, err := io.ReadFull(v, l[:]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return "", io.EOF
		}
		return "", unexpected(err)
	}
	s := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(v, s); err != nil {
		return "", unexpected(err)
	}
	return string(s), nil
}

// chunks reads a value: chunks of VInt n and |n| bytes, n < 0 for one followed by more.
type chunks struct {
	b    block
	left int64 // bytes left in the current chunk
	last bool  // the current chunk is the last
}

// next moves to the next chunk when the current one is used up; false at the end of the value.
func (c *chunks) next() (bool, error) {
	for c.left == 0 {
		if c.last {
			return false, nil
		}
		n, err := readVLong(c.b)
		if err != nil {
			return false, err
		}
		if n < 0 {
			c.left = -n
		} else {
			c.left, c.last = n, true
		}
	}
	return true, nil
}

func (c *chunks) Read(p []byte) (int, error) {
	more, err := c.next()
	if err != nil {
		return 0, err
	}
	if !more {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.b.Read(p)
	c.left -= int64(n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// skip moves n bytes forward in the value.
func (c *chunks) skip(n int64) error {
	for n > 0 {
		more, err := c.next()
		if err != nil {
			return err
		}
		if !more {
			return io.ErrUnexpectedEOF
		}
		k := min(n, c.left)
		if err := c.b.skip(k); err != nil {
			return err
		}
		c.left -= k
		n -= k
	}
	return nil
}

// skipMarking is skip, noting a mark about every markEvery bytes (in block, for a file that starts here).
func (c *chunks) skipMarking(n int64, block int) ([]mark, error) {
	var marks []mark
	var done, last int64
	for done < n {
		more, err := c.next()
		if err != nil {
			return nil, err
		}
		if !more {
			return nil, io.ErrUnexpectedEOF
		}
		if done-last >= markEvery {
			marks = append(marks, mark{off: done, at: location{block: block, pos: c.b.pos(), chunkLeft: c.left, last: c.last}})
			last = done
		}
		k := min(n-done, c.left)
		if err := c.b.skip(k); err != nil {
			return nil, err
		}
		c.left -= k
		done += k
	}
	return marks, nil
}

// drain skips the rest of the value.
func (c *chunks) drain() error {
	for {
		more, err := c.next()
		if err != nil || !more {
			return err
		}
		if err := c.b.skip(c.left); err != nil {
			return err
		}
		c.left = 0
	}
}
