package hdfs

import (
	"bytes"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// scriptedConn is a DataNode connection that answers with fixed bytes and records what it is sent.
type scriptedConn struct {
	net.Conn
	in     *bytes.Reader
	out    bytes.Buffer
	closed bool
}

func (c *scriptedConn) Read(b []byte) (int, error)  { return c.in.Read(b) }
func (c *scriptedConn) Write(b []byte) (int, error) { return c.out.Write(b) }
func (c *scriptedConn) Close() error                { c.closed = true; return nil }

// challengeMessage is a DataNode's delimited DataTransferEncryptorMessageProto with status and payload.
func challengeMessage(status uint64, payload string) []byte {
	var msg []byte
	msg = protowire.AppendTag(msg, 1, protowire.VarintType)
	msg = protowire.AppendVarint(msg, status)
	msg = protowire.AppendTag(msg, 2, protowire.BytesType)
	msg = protowire.AppendBytes(msg, []byte(payload))
	msg = protowire.AppendTag(msg, 3, protowire.BytesType)
	msg = protowire.AppendBytes(msg, []byte("kept"))
	return protowire.AppendBytes(nil, msg)
}

// payloadOf decodes a delimited message and returns its payload (field 2) and message (field 3).
func payloadOf(t *testing.T, b []byte) (payload, message string) {
	t.Helper()
	msg, n := protowire.ConsumeBytes(b)
	if n < 0 || n != len(b) {
		t.Fatalf("not one delimited message: %q", b)
	}
	for len(msg) > 0 {
		num, typ, k := protowire.ConsumeTag(msg)
		m := protowire.ConsumeFieldValue(num, typ, msg[k:])
		if num == 2 {
			v, _ := protowire.ConsumeBytes(msg[k:])
			payload = string(v)
		}
		if num == 3 {
			v, _ := protowire.ConsumeBytes(msg[k:])
			message = string(v)
		}
		msg = msg[k+m:]
	}
	return payload, message
}

func TestQOPConnNarrowsTheOffer(t *testing.T) {
	const challenge = `realm="0",nonce="abc",qop="%s",charset=utf-8,cipher="3des,rc4",algorithm=md5-sess`
	tests := []struct {
		name    string
		accept  []string
		offered string
		want    string // the qop directive colinmarc sees, or the error
		wantErr bool
	}{
		{name: "authentication from authentication,privacy", accept: []string{"authentication"}, offered: "auth,auth-conf", want: "auth"},
		{name: "privacy from authentication,privacy", accept: []string{"privacy"}, offered: "auth,auth-conf", want: "auth-conf"},
		{name: "the client's order wins", accept: []string{"privacy", "authentication"}, offered: "auth,auth-conf", want: "auth-conf,auth"},
		{name: "integrity from all three", accept: []string{"integrity", "privacy"}, offered: "auth-conf,auth-int,auth", want: "auth-int,auth-conf"},
		{name: "nothing in common", accept: []string{"authentication"}, offered: "auth-conf", want: "the DataNode offers privacy, the client accepts authentication", wantErr: true},
		{name: "privacy wanted, authentication offered", accept: []string{"privacy"}, offered: "auth", want: "offers authentication, the client accepts privacy", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			after := []byte("block data")
			raw := &scriptedConn{in: bytes.NewReader(append(challengeMessage(0, strings.Replace(challenge, "%s", tc.offered, 1)), after...))}
			c := newQOPConn(raw, tc.accept)
			if _, err := c.Write(append(slices.Clone(saslMagic), 0x02, 0x08, 0x00)); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !raw.closed {
					t.Errorf("read = %v (closed %v), want an error saying %q and the connection closed", err, raw.closed, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(got, after) {
				t.Fatalf("the bytes after the challenge were not passed on: %q", got)
			}
			payload, message := payloadOf(t, got[:len(got)-len(after)])
			if want := strings.Replace(challenge, "%s", tc.want, 1); payload != want || message != "kept" {
				t.Errorf("challenge = %q, message %q; want %q, kept", payload, message, want)
			}
		})
	}
}

func TestQOPConnPassesOtherTrafficOn(t *testing.T) {
	tests := []struct {
		name  string
		first []byte
		in    []byte
	}{
		{name: "no SASL handshake", first: []byte{0x00, 0x1c, 0x51}, in: challengeMessage(0, `qop="auth,auth-conf"`)},
		{name: "an error answer", first: slices.Clone(saslMagic), in: challengeMessage(1, `qop="auth-conf"`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newQOPConn(&scriptedConn{in: bytes.NewReader(tc.in)}, []string{"authentication"})
			if _, err := c.Write(tc.first); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, tc.in) {
				t.Errorf("read %q, %v; want the DataNode's bytes unchanged", got, err)
			}
		})
	}
}

func TestWeakestQOP(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"privacy"}, "privacy"},
		{[]string{"privacy", "integrity"}, "integrity"},
		{[]string{"privacy", "authentication", "integrity"}, "authentication"},
	}
	for _, tc := range tests {
		if got := weakestQOP(tc.in); got != tc.want {
			t.Errorf("weakestQOP(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
