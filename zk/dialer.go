package zk

import (
	"net"
	"time"

	"github.com/go-zookeeper/zk"
)

// cappedDialer dials like go-zookeeper's default dialer and caps every read and write deadline the library
// sets at max from now. go-zookeeper waits up to ten times its receive timeout (20/3 of the session timeout)
// for a handshake reply, and reads the reply's body with no deadline at all; a server that accepts the
// connection but never answers (seen with ZooKeeper 3.8 while it loads its database after a restart: the
// connection is neither served nor closed) would stall the client that long. ZooKeeper's Java client bounds the
// handshake by the session timeout too. In steady state the library's own deadlines (the receive timeout, 2/3
// of the session timeout) are below the cap.
func cappedDialer(max time.Duration) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &cappedConn{Conn: c, max: max}, nil
	}
}

// cappedConn is a net.Conn whose deadlines are never further than max from when they are set; a zero deadline
// ("none") becomes max from now.
type cappedConn struct {
	net.Conn
	max time.Duration
}

func (c *cappedConn) cap(t time.Time) time.Time {
	if limit := time.Now().Add(c.max); t.IsZero() || t.After(limit) {
		return limit
	}
	return t
}

func (c *cappedConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.cap(t)) }
func (c *cappedConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.cap(t)) }
func (c *cappedConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.cap(t)) }
