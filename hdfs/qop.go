package hdfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// saslQOPs maps Hadoop's protection names to SASL's quality-of-protection names.
var saslQOPs = map[string]string{"authentication": "auth", "integrity": "auth-int", "privacy": "auth-conf"}

// weakestQOP returns the weakest of the protections: what colinmarc must accept at least (its
// DataTransferProtection enforces a minimum), or "" for none.
func weakestQOP(protections []string) string {
	weakest := ""
	for _, p := range []string{"privacy", "integrity", "authentication"} {
		for _, q := range protections {
			if q == p {
				weakest = p
			}
		}
	}
	return weakest
}

// saslMagic starts the SASL handshake a client opens on a DataNode connection.
var saslMagic = []byte{0xDE, 0xAD, 0xBE, 0xEF}

// qopPattern finds the qop directive of a DIGEST-MD5 challenge.
var qopPattern = regexp.MustCompile(`qop="([^"]*)"`)

// qopConn is a DataNode connection on which colinmarc may start a SASL handshake. colinmarc negotiates the
// first protection the DataNode offers, whatever the client's configuration lists (and refuses it when it
// is weaker than the weakest listed); Hadoop's client negotiates the first protection of its own list that
// the DataNode offers. A DataNode offering authentication,privacy would so get authentication from a
// client configured for privacy only. qopConn makes colinmarc choose as Hadoop does: it narrows the qop
// directive of the DataNode's challenge to the protections the client accepts, in the client's order. It
// only removes offers, so it can never weaken the protection; when nothing is left, the handshake fails
// with an error that says so.
type qopConn struct {
	net.Conn
	accept []string // SASL names, in the client's order of preference

	state   int    // qopStart, qopChallenge (the next message read is the challenge) or qopDone
	pending []byte // the rewritten challenge, served before the connection's next bytes
}

const (
	qopStart = iota
	qopChallenge
	qopDone
)

// newQOPConn wraps conn for a client accepting protections (Hadoop names).
func newQOPConn(conn net.Conn, protections []string) *qopConn {
	c := &qopConn{Conn: conn}
	for _, p := range protections {
		c.accept = append(c.accept, saslQOPs[p])
	}
	return c
}

func (c *qopConn) Write(b []byte) (int, error) {
	if c.state == qopStart {
		c.state = qopDone
		if bytes.HasPrefix(b, saslMagic) {
			c.state = qopChallenge
		}
	}
	return c.Conn.Write(b)
}

func (c *qopConn) Read(b []byte) (int, error) {
	if c.state == qopChallenge {
		c.state = qopDone
		msg, err := readDelimited(c.Conn)
		if err != nil {
			return 0, err
		}
		if msg, err = c.narrow(msg); err != nil {
			c.Conn.Close()
			return 0, err
		}
		c.pending = protowire.AppendBytes(nil, msg) // varint length and the message
	}
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// readDelimited reads one message prefixed with its varint length, reading no byte beyond it.
func readDelimited(r io.Reader) ([]byte, error) {
	var prefix []byte
	one := make([]byte, 1)
	for {
		if _, err := io.ReadFull(r, one); err != nil {
			return nil, fmt.Errorf("read the DataNode's SASL challenge: %w", err)
		}
		prefix = append(prefix, one[0])
		if one[0] < 0x80 {
			break
		}
		if len(prefix) == binaryMaxVarintLen32 {
			return nil, errors.New("read the DataNode's SASL challenge: bad length")
		}
	}
	size, n := protowire.ConsumeVarint(prefix)
	if n < 0 || size > 1<<20 {
		return nil, errors.New("read the DataNode's SASL challenge: bad length")
	}
	msg := make([]byte, size)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, fmt.Errorf("read the DataNode's SASL challenge: %w", err)
	}
	return msg, nil
}

const binaryMaxVarintLen32 = 5

// narrow rewrites a DataTransferEncryptorMessageProto (1: status, 2: payload, ...) whose payload is a
// DIGEST-MD5 challenge, keeping only the offered protections the client accepts. A message that is not a
// successful challenge is returned as it is.
func (c *qopConn) narrow(msg []byte) ([]byte, error) {
	var out []byte
	rest := msg
	for len(rest) > 0 {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return msg, nil
		}
		m := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if m < 0 {
			return msg, nil
		}
		field := rest[:n+m]
		rest = rest[n+m:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			if status, _ := protowire.ConsumeVarint(field[n:]); status != 0 {
				return msg, nil // an error answer: colinmarc reports it
			}
		case num == 2 && typ == protowire.BytesType:
			payload, _ := protowire.ConsumeBytes(field[n:])
			narrowed, err := c.narrowChallenge(payload)
			if err != nil {
				return nil, err
			}
			out = protowire.AppendTag(out, 2, protowire.BytesType)
			out = protowire.AppendBytes(out, narrowed)
			continue
		}
		out = append(out, field...)
	}
	return out, nil
}

// narrowChallenge returns the challenge with its qop directive narrowed to the accepted protections that
// are offered, in the client's order. A challenge without the directive offers authentication only.
func (c *qopConn) narrowChallenge(challenge []byte) ([]byte, error) {
	offered := []string{"auth"}
	m := qopPattern.FindSubmatchIndex(challenge)
	if m != nil {
		offered = strings.Split(string(challenge[m[2]:m[3]]), ",")
		for i := range offered {
			offered[i] = strings.TrimSpace(offered[i])
		}
	}
	var chosen []string
	for _, a := range c.accept {
		for _, o := range offered {
			if a == o {
				chosen = append(chosen, a)
			}
		}
	}
	if len(chosen) == 0 {
		return nil, fmt.Errorf("negotiate data transfer protection: the DataNode offers %s, the client accepts %s (dfs.data.transfer.protection)",
			hadoopNames(offered), hadoopNames(c.accept))
	}
	if m == nil {
		return challenge, nil
	}
	var b bytes.Buffer
	b.Write(challenge[:m[2]])
	b.WriteString(strings.Join(chosen, ","))
	b.Write(challenge[m[3]:])
	return b.Bytes(), nil
}

// hadoopNames turns SASL qop names into Hadoop's protection names, for messages.
func hadoopNames(qops []string) string {
	var names []string
	for _, q := range qops {
		name := q
		for h, s := range saslQOPs {
			if s == q {
				name = h
			}
		}
		names = append(names, name)
	}
	return strings.Join(names, ",")
}
