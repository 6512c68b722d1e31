// Package delegation obtains Hadoop delegation tokens for launches on Kerberized clusters and reads what
// they say: an HDFS delegation token for a job's user, renewable by the ResourceManager, fetched from the
// NameNode's WebHDFS endpoint over SPNEGO, and the fields of its identifier (owner, renewer, expiry).
//
// The wire form is Hadoop's Token.encodeToUrlString: URL-safe base64 without padding of the token's
// Writable (identifier, password, kind, service), which is also what the ResourceManager's REST API takes in
// a submission's credentials.
package delegation

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// KindHDFS is the kind of the HDFS delegation tokens DFSClient selects.
const KindHDFS = "HDFS_DELEGATION_TOKEN"

// Token is a Hadoop delegation token with its identifier decoded.
type Token struct {
	// Kind is the token kind, such as HDFS_DELEGATION_TOKEN.
	Kind string
	// Service names what the token is for: host:port of a NameNode's RPC endpoint (as an IP), or
	// ha-hdfs:<nameservice>. Clients select tokens by kind and service.
	Service string
	// Owner is the user the token acts as; Renewer the short name allowed to renew it; RealUser the proxy
	// user that obtained it, if any.
	Owner, Renewer, RealUser string
	// IssueDate is when it was issued; MaxDate is the end of its life, beyond any renewal.
	IssueDate, MaxDate time.Time

	identifier, password []byte
}

// Decode reads a token in Token.encodeToUrlString form.
func Decode(s string) (Token, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return Token{}, fmt.Errorf("decode delegation token: %w", err)
	}
	r := &reader{b: raw}
	t := Token{identifier: r.bytes(), password: r.bytes()}
	t.Kind, t.Service = string(r.bytes()), string(r.bytes())
	if r.err != nil {
		return Token{}, fmt.Errorf("decode delegation token: %w", r.err)
	}
	// AbstractDelegationTokenIdentifier: version, owner, renewer, real user, issue date, max date, sequence
	// number, master key id.
	id := &reader{b: t.identifier}
	if v := id.byte(); id.err == nil && v != 0 {
		return Token{}, fmt.Errorf("decode delegation token: identifier version %d, want 0", v)
	}
	t.Owner, t.Renewer, t.RealUser = string(id.bytes()), string(id.bytes()), string(id.bytes())
	t.IssueDate, t.MaxDate = time.UnixMilli(id.vlong()).UTC(), time.UnixMilli(id.vlong()).UTC()
	if id.err != nil {
		return Token{}, fmt.Errorf("decode delegation token identifier: %w", id.err)
	}
	return t, nil
}

// Encode returns the token in Token.encodeToUrlString form.
func (t Token) Encode() string {
	var w writer
	w.bytes(t.identifier)
	w.bytes(t.password)
	w.bytes([]byte(t.Kind))
	w.bytes([]byte(t.Service))
	return base64.RawURLEncoding.EncodeToString(w.b)
}

// String describes the token without its secret part.
func (t Token) String() string {
	return fmt.Sprintf("%s for %s (owner %s, renewer %s, until %s)", t.Kind, t.Service, t.Owner, t.Renewer, t.MaxDate.Format(time.RFC3339))
}

var errTruncated = errors.New("truncated")

// reader reads Hadoop's Writable encodings: WritableUtils variable-length integers and length-prefixed
// bytes (Text, BytesWritable as Token writes them).
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.err = errTruncated
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// vlong reads WritableUtils.readVLong: one byte for -112..127, else a length byte (sign and size) and up to
// eight big-endian bytes.
func (r *reader) vlong() int64 {
	first := int8(r.byte())
	if first >= -112 {
		return int64(first)
	}
	n, negative := int(-112-first), false
	if first < -120 {
		n, negative = int(-120-first), true
	}
	var v int64
	for range n {
		v = v<<8 | int64(r.byte())
	}
	if negative {
		v = ^v
	}
	return v
}

func (r *reader) bytes() []byte {
	n := r.vlong()
	if r.err != nil {
		return nil
	}
	if n < 0 || n > int64(len(r.b)) {
		r.err = fmt.Errorf("length %d with %d bytes left", n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

// writer writes what reader reads.
type writer struct{ b []byte }

// vlong writes WritableUtils.writeVLong.
func (w *writer) vlong(v int64) {
	if v >= -112 && v <= 127 {
		w.b = append(w.b, byte(v))
		return
	}
	size := int64(-112)
	if v < 0 {
		v, size = ^v, -120
	}
	n := 0
	for tmp := v; tmp != 0; tmp >>= 8 {
		n++
	}
	w.b = append(w.b, byte(size-int64(n)))
	for i := n - 1; i >= 0; i-- {
		w.b = append(w.b, byte(v>>(8*i)))
	}
}

func (w *writer) bytes(b []byte) {
	w.vlong(int64(len(b)))
	w.b = append(w.b, b...)
}
