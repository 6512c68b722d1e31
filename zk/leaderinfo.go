package zk

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"unicode/utf16"
)

// LeaderInformation is what a Flink leader writes into its connection_info znode: the address it serves on
// and the session id of its leadership. For the REST endpoint the address is the REST base URL, such as
// http://10.0.0.12:41234.
type LeaderInformation struct {
	// Address is the leader's address. It may be empty if a leader wrote an empty string.
	Address string
	// SessionID is the leader session id; the zero UUID when the writer serialised null.
	SessionID UUID
}

// UUID is a java.util.UUID in big-endian byte order: the 8 bytes of mostSigBits, then the 8 of leastSigBits.
type UUID [16]byte

// String formats u as 8-4-4-4-12 lower-case hex digits, as java.util.UUID.toString does.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// ErrDecode is wrapped by every error of DecodeLeaderInformation and DecodeActiveRMInfo.
var ErrDecode = errors.New("zk: undecodable znode data")

// MaxLeaderInformationSize bounds the input DecodeLeaderInformation accepts (ZooKeeper's default jute.maxbuffer).
const MaxLeaderInformationSize = 1 << 20

// Java serialisation constants (java.io.ObjectStreamConstants).
const (
	streamMagic     = 0xaced
	streamVersion   = 5
	tcNull          = 0x70
	tcClassDesc     = 0x72
	tcObject        = 0x73
	tcBlockData     = 0x77
	tcEndBlockData  = 0x78
	tcBlockDataLong = 0x7a
	scSerializable  = 0x02
	scWriteMethod   = 0x01
	scBlockData     = 0x08
	uuidClassName   = "java.util.UUID"
	uuidSerialUID   = -4856846361193249489
)

// DecodeLeaderInformation decodes the data of a Flink connection_info znode, which
// ZooKeeperUtils.writeLeaderInformationToZooKeeper writes with an ObjectOutputStream as writeUTF(address) then
// writeObject(leaderSessionID). Empty data means "no leader" and yields ok == false with a nil error.
// Errors wrap ErrDecode. It never panics, and allocates at most a small multiple of len(data).
func DecodeLeaderInformation(data []byte) (info LeaderInformation, ok bool, err error) {
	if len(data) == 0 {
		return LeaderInformation{}, false, nil
	}
	if len(data) > MaxLeaderInformationSize {
		return LeaderInformation{}, false, fmt.Errorf("%w: leader information of %d bytes", ErrDecode, len(data))
	}
	d := &javaDecoder{buf: data}
	if m, v := d.u16(), d.u16(); d.err == nil && (m != streamMagic || v != streamVersion) {
		return LeaderInformation{}, false, fmt.Errorf("%w: not a Java serialisation stream (%04x %04x)", ErrDecode, m, v)
	}
	block := d.blockData()
	if d.err == nil {
		info.Address = decodeWriteUTF(&javaDecoder{buf: block}, d)
	}
	if d.err == nil {
		info.SessionID = d.uuidObject()
	}
	if d.err == nil && d.pos != len(d.buf) {
		d.fail("%d trailing bytes", len(d.buf)-d.pos)
	}
	if d.err != nil {
		return LeaderInformation{}, false, fmt.Errorf("%w: leader information: %w", ErrDecode, d.err)
	}
	return info, true, nil
}

// javaDecoder reads big-endian values from buf; the first failure sticks in err and later reads return zeros.
type javaDecoder struct {
	buf []byte
	pos int
	err error
}

func (d *javaDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format+" at offset %d", append(args, d.pos)...)
	}
}

func (d *javaDecoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.buf)-d.pos {
		d.fail("truncated: need %d bytes", n)
		return nil
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b
}

func (d *javaDecoder) u8() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *javaDecoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *javaDecoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *javaDecoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// blockData reads one or more consecutive block-data records (the stream splits primitive data into records of
// at most 1024 bytes) and returns their concatenated payload.
func (d *javaDecoder) blockData() []byte {
	var out []byte
	for d.err == nil && d.pos < len(d.buf) {
		var n int
		switch d.buf[d.pos] {
		case tcBlockData:
			d.pos++
			n = int(d.u8())
		case tcBlockDataLong:
			d.pos++
			n = int(int32(d.u32()))
		default:
			if out == nil {
				d.fail("expected block data, found tag 0x%02x", d.buf[d.pos])
			}
			return out
		}
		if p := d.take(n); p != nil {
			out = append(out, p...)
		}
	}
	if out == nil {
		d.fail("truncated: no block data")
	}
	return out
}

// decodeWriteUTF reads a DataOutput.writeUTF string from the block payload b; a failure is reported on outer.
func decodeWriteUTF(b, outer *javaDecoder) string {
	n := int(b.u16())
	raw := b.take(n)
	if b.err == nil && b.pos != len(b.buf) {
		b.fail("%d bytes of block data after the address", len(b.buf)-b.pos)
	}
	if b.err != nil {
		outer.fail("address: %v", b.err)
		return ""
	}
	s, err := decodeModifiedUTF8(raw)
	if err != nil {
		outer.fail("address: %v", err)
	}
	return s
}

// decodeModifiedUTF8 decodes Java's modified UTF-8: U+0000 as C0 80 and supplementary characters as two
// three-byte surrogates. Malformed input is an error, as in DataInputStream.readUTF.
func decodeModifiedUTF8(b []byte) (string, error) {
	units := make([]uint16, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			units = append(units, uint16(c))
			i++
		case c&0xe0 == 0xc0:
			if i+1 >= len(b) || b[i+1]&0xc0 != 0x80 {
				return "", fmt.Errorf("malformed modified UTF-8 at byte %d", i)
			}
			units = append(units, uint16(c&0x1f)<<6|uint16(b[i+1]&0x3f))
			i += 2
		case c&0xf0 == 0xe0:
			if i+2 >= len(b) || b[i+1]&0xc0 != 0x80 || b[i+2]&0xc0 != 0x80 {
				return "", fmt.Errorf("malformed modified UTF-8 at byte %d", i)
			}
			units = append(units, uint16(c&0x0f)<<12|uint16(b[i+1]&0x3f)<<6|uint16(b[i+2]&0x3f))
			i += 3
		default:
			return "", fmt.Errorf("malformed modified UTF-8 at byte %d", i)
		}
	}
	return string(utf16.Decode(units)), nil
}

// uuidObject reads writeObject(UUID): TC_NULL, or TC_OBJECT with an inline java.util.UUID class descriptor
// followed by the two long fields. The stream holds a single object, so a back-reference (TC_REFERENCE) cannot
// occur and is rejected like any other tag.
func (d *javaDecoder) uuidObject() UUID {
	switch tag := d.u8(); {
	case d.err != nil:
		return UUID{}
	case tag == tcNull:
		return UUID{}
	case tag != tcObject:
		d.fail("expected a UUID object, found tag 0x%02x", tag)
		return UUID{}
	}
	leastFirst := d.classDesc()
	least, most := d.u64(), d.u64()
	if !leastFirst {
		least, most = most, least
	}
	var u UUID
	binary.BigEndian.PutUint64(u[0:8], most)
	binary.BigEndian.PutUint64(u[8:16], least)
	return u
}

// classDesc reads a class descriptor, which must describe java.util.UUID with exactly its two long fields, and
// reports whether leastSigBits comes first (it does: serialisation sorts primitive fields by name).
func (d *javaDecoder) classDesc() (leastFirst bool) {
	if tag := d.u8(); d.err == nil && tag != tcClassDesc {
		d.fail("expected a class descriptor, found tag 0x%02x", tag)
	}
	if name := d.utf(); d.err == nil && name != uuidClassName {
		d.fail("class %q is not %s", name, uuidClassName)
	}
	if uid := int64(d.u64()); d.err == nil && uid != uuidSerialUID {
		d.fail("unexpected serialVersionUID %d for %s", uid, uuidClassName)
	}
	if flags := d.u8(); d.err == nil && flags&(scSerializable|scWriteMethod|scBlockData) != scSerializable {
		d.fail("unexpected class descriptor flags 0x%02x", flags)
	}
	if n := d.u16(); d.err == nil && n != 2 {
		d.fail("%s has %d fields, want 2", uuidClassName, n)
	}
	var names [2]string
	for i := range names {
		if tc := d.u8(); d.err == nil && tc != 'J' {
			d.fail("field type %q, want J (long)", tc)
		}
		names[i] = d.utf()
	}
	switch {
	case d.err != nil:
		return false
	case names == [2]string{"leastSigBits", "mostSigBits"}:
		leastFirst = true
	case names == [2]string{"mostSigBits", "leastSigBits"}:
	default:
		d.fail("unexpected %s fields %q", uuidClassName, names)
	}
	if a := d.u8(); d.err == nil && a != tcEndBlockData {
		d.fail("class annotations are not supported (tag 0x%02x)", a)
	}
	if s := d.u8(); d.err == nil && s != tcNull {
		d.fail("%s with a serializable superclass (tag 0x%02x)", uuidClassName, s)
	}
	return leastFirst
}

// utf reads a u2-length-prefixed modified UTF-8 string outside block data (class and field names).
func (d *javaDecoder) utf() string {
	raw := d.take(int(d.u16()))
	if d.err != nil {
		return ""
	}
	s, err := decodeModifiedUTF8(raw)
	if err != nil {
		d.fail("%v", err)
	}
	return s
}
