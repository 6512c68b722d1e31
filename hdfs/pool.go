package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
)

// pool hands out at most size clients, each to one goroutine at a time. Clients are created lazily and
// reused; a client that saw a transport error is closed instead of reused, because colinmarc's NameNode
// connection does not recover from a half-read response. With an epoch function, an idle client dialled
// in another epoch (under credentials since replaced: a renewed Kerberos ticket) is closed instead of
// reused, because a colinmarc client authenticates every reconnection with the credentials it was made with.
type pool[C io.Closer] struct {
	dial  func() (C, error)
	epoch func() any    // nil: one epoch forever
	slots chan struct{} // one token per client in use

	mu     sync.Mutex
	idle   []pooled[C]
	closed bool
	leases sync.WaitGroup // leases handed out and not yet released
}

// pooled is an idle client and the epoch it was dialled in.
type pooled[C io.Closer] struct {
	c     C
	epoch any
}

func newPool[C io.Closer](size int, dial func() (C, error)) *pool[C] {
	return &pool[C]{dial: dial, slots: make(chan struct{}, size)}
}

// withEpoch sets the function naming the current epoch; it returns p.
func (p *pool[C]) withEpoch(epoch func() any) *pool[C] {
	p.epoch = epoch
	return p
}

func (p *pool[C]) currentEpoch() any {
	if p.epoch == nil {
		return nil
	}
	return p.epoch()
}

// lease is one client lent to one goroutine.
type lease[C io.Closer] struct {
	p      *pool[C]
	c      C
	epoch  any
	broken bool
}

// get waits (bounded by ctx) for a free slot and returns an idle client or a new one.
func (p *pool[C]) get(ctx context.Context) (*lease[C], error) {
	return p.getKeyed(ctx, nil, p.dial)
}

// getKeyed is get for a pool whose clients differ by key (the user they act as): an idle client of another
// key is closed, a new one is dialled with dial. A nil key is the pool's own epoch.
func (p *pool[C]) getKeyed(ctx context.Context, key any, dial func() (C, error)) (*lease[C], error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a free hdfs client: %w", ctx.Err())
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, ErrClosed
	}
	p.leases.Add(1)
	epoch := key
	if epoch == nil {
		epoch = p.currentEpoch()
	}
	var stale []C
	for n := len(p.idle); n > 0; n = len(p.idle) {
		e := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if e.epoch != epoch {
			stale = append(stale, e.c)
			continue
		}
		p.mu.Unlock()
		closeAll(stale)
		return &lease[C]{p: p, c: e.c, epoch: epoch}, nil
	}
	p.mu.Unlock()
	closeAll(stale)
	c, err := dial()
	if err != nil {
		p.leases.Done()
		<-p.slots
		return nil, fmt.Errorf("%w: connect: %w", ErrUnavailable, err)
	}
	return &lease[C]{p: p, c: c, epoch: epoch}, nil
}

func closeAll[C io.Closer](cs []C) {
	for _, c := range cs {
		c.Close()
	}
}

// check marks the lease broken when err is a transport failure and returns err, wrapped with
// ErrUnavailable in that case. An error that wraps ErrUnavailable already is returned as it is.
func (l *lease[C]) check(err error) error {
	if err == nil || isRemoteAnswer(err) || errors.Is(err, ErrUnavailable) {
		return err // an answer, or classified already (by check itself, or by a WebHDFS read)
	}
	l.broken = true
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// release returns the client to the pool, or closes it when it is broken or the pool is closed.
func (l *lease[C]) release() {
	p := l.p
	p.mu.Lock()
	keep := !l.broken && !p.closed
	if keep {
		p.idle = append(p.idle, pooled[C]{c: l.c, epoch: l.epoch})
	}
	p.mu.Unlock()
	if !keep {
		l.c.Close()
	}
	<-p.slots
	p.leases.Done()
}

// close closes idle clients at once and waits, bounded by ctx, for leased ones to come back; they are
// closed on release.
func (p *pool[C]) close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, e := range idle {
		e.c.Close()
	}
	done := make(chan struct{})
	go func() {
		p.leases.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close hdfs clients: operations still running: %w", ctx.Err())
	}
}

// isRemoteAnswer reports whether err is an answer from the NameNode (the file does not exist, permission
// denied, a Java exception, ...) rather than a failure of the connection.
func isRemoteAnswer(err error) bool {
	var remote gohdfs.Error
	if errors.As(err, &remote) {
		return true
	}
	for _, target := range []error{os.ErrNotExist, os.ErrExist, os.ErrPermission, os.ErrInvalid,
		syscall.ENOTEMPTY, gohdfs.ErrReplicating} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// deadlineConn bounds every Read and Write on a NameNode connection by timeout and closes the connection
// after any failure. colinmarc's NameNode RPCs have no deadline of their own, and a connection abandoned
// halfway through a response would hand that response to the next call; a closed connection instead makes
// the client reconnect.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		c.Conn.Close()
		return 0, err
	}
	n, err := c.Conn.Read(b)
	if err != nil {
		c.Conn.Close()
	}
	return n, err
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		c.Conn.Close()
		return 0, err
	}
	n, err := c.Conn.Write(b)
	if err != nil {
		c.Conn.Close()
	}
	return n, err
}

// dialers returns the NameNode and DataNode dial functions: both bounded by dialTimeout, NameNode
// connections additionally wrapped in deadlineConn. DataNode connections get their deadlines from
// FileReader/FileWriter.SetDeadline; with data transfer protections (Hadoop names, in the client's order)
// they are wrapped in qopConn, so that the SASL handshake negotiates one of them.
func dialers(dialTimeout, ioTimeout time.Duration, protections []string) (nn, dn func(ctx context.Context, network, addr string) (net.Conn, error)) {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	nn = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &deadlineConn{Conn: conn, timeout: ioTimeout}, nil
	}
	if len(protections) == 0 {
		return nn, d.DialContext
	}
	dn = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newQOPConn(conn, protections), nil
	}
	return nn, dn
}
