package hdfs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeClient records whether it was closed.
type fakeClient struct {
	id     int
	closed atomic.Bool
}

func (f *fakeClient) Close() error {
	f.closed.Store(true)
	return nil
}

// fakeDialer creates numbered fake clients, or fails with err when set.
type fakeDialer struct {
	mu      sync.Mutex
	created []*fakeClient
	err     error
}

func (d *fakeDialer) dial() (*fakeClient, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return nil, d.err
	}
	c := &fakeClient{id: len(d.created)}
	d.created = append(d.created, c)
	return c, nil
}

func TestPoolReusesAndBounds(t *testing.T) {
	d := &fakeDialer{}
	p := newPool(2, d.dial)
	ctx := t.Context()
	a, err := p.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A third caller must wait for a slot.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := p.get(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("get() on a full pool = %v, want DeadlineExceeded", err)
	}
	a.release()
	c, err := p.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.c != a.c {
		t.Errorf("released client was not reused")
	}
	if len(d.created) != 2 {
		t.Errorf("dialled %d clients, want 2", len(d.created))
	}
	b.release()
	c.release()
}

func TestPoolDropsBrokenClients(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantKeep bool
	}{
		{name: "success", err: nil, wantKeep: true},
		{name: "file not found", err: &os.PathError{Op: "stat", Path: "/x", Err: os.ErrNotExist}, wantKeep: true},
		{name: "already exists", err: &os.PathError{Op: "create", Path: "/x", Err: os.ErrExist}, wantKeep: true},
		{name: "permission denied", err: &os.PathError{Op: "create", Path: "/x", Err: os.ErrPermission}, wantKeep: true},
		{name: "directory not empty", err: syscall.ENOTEMPTY, wantKeep: true},
		{name: "timeout", err: &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, wantKeep: false},
		{name: "connection closed", err: fmt.Errorf("stat: %w", net.ErrClosed), wantKeep: false},
		{name: "no namenode", err: errors.New("no available namenodes: dial tcp: connection refused"), wantKeep: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDialer{}
			p := newPool(1, d.dial)
			l, err := p.get(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got := l.check(tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("check() = %v, want it to wrap %v", got, tc.err)
			}
			if tc.err != nil && errors.Is(got, ErrUnavailable) == tc.wantKeep {
				t.Errorf("check() = %v: ErrUnavailable must mark exactly the transport failures", got)
			}
			first := l.c
			l.release()
			if first.closed.Load() == tc.wantKeep {
				t.Errorf("client closed = %v, want %v", first.closed.Load(), !tc.wantKeep)
			}
			l2, err := p.get(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if (l2.c == first) != tc.wantKeep {
				t.Errorf("client reused = %v, want %v", l2.c == first, tc.wantKeep)
			}
			l2.release()
		})
	}
}

func TestPoolDialFailureIsUnavailable(t *testing.T) {
	d := &fakeDialer{err: errors.New("connection refused")}
	p := newPool(1, d.dial)
	if _, err := p.get(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("get() = %v, want ErrUnavailable", err)
	}
	// The failed dial must have given its slot back.
	d.err = nil
	l, err := p.get(t.Context())
	if err != nil {
		t.Fatalf("get() after a failed dial = %v", err)
	}
	l.release()
}

func TestPoolCloseWaitsForLeases(t *testing.T) {
	d := &fakeDialer{}
	p := newPool(2, d.dial)
	idle, _ := p.get(t.Context())
	busy, _ := p.get(t.Context())
	idle.release()

	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := p.close(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close() with a leased client = %v, want DeadlineExceeded", err)
	}
	if !idle.c.closed.Load() {
		t.Error("idle client not closed by close()")
	}
	if _, err := p.get(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("get() after close = %v, want ErrClosed", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.close(t.Context()) }()
	busy.release()
	if err := <-done; err != nil {
		t.Errorf("close() = %v after the lease came back", err)
	}
	if !busy.c.closed.Load() {
		t.Error("client released after close() was not closed")
	}
}

func TestDeadlineConnClosesOnTimeout(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	c := &deadlineConn{Conn: client, timeout: 30 * time.Millisecond}
	start := time.Now()
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read() = %v, want a deadline error", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("Read() took %v", time.Since(start))
	}
	// The connection must be unusable now, so that the next RPC reconnects instead of reading a stale reply.
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("Write() after a timed-out Read succeeded")
	}
}

func TestDeadlineConnPassesData(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	c := &deadlineConn{Conn: client, timeout: time.Second}
	go func() {
		buf := make([]byte, 5)
		n, _ := server.Read(buf)
		server.Write(buf[:n])
	}()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read() = %q, %v", buf[:n], err)
	}
}

// TestPoolReplacesClientsOfAnOldEpoch: after the credentials changed (a renewed Kerberos ticket), idle
// clients dialled with the old ones are closed and replaced; leases keep theirs until they return them.
func TestPoolReplacesClientsOfAnOldEpoch(t *testing.T) {
	d := &fakeDialer{}
	var epoch atomic.Int64
	p := newPool(2, d.dial).withEpoch(func() any { return epoch.Load() })
	ctx := t.Context()
	a, _ := p.get(ctx)
	b, _ := p.get(ctx)
	a.release()
	epoch.Store(1) // new credentials while b is leased
	b.release()    // b goes back tagged with the old epoch
	// The first get after the change dials anew and closes both old clients.
	c, err := p.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.c.id != 2 {
		t.Errorf("got client %d, want a new one", c.c.id)
	}
	for _, old := range d.created[:2] {
		if !old.closed.Load() {
			t.Errorf("old client %d not closed", old.id)
		}
	}
	c.release()
	// The new client is reused within its epoch.
	c, _ = p.get(ctx)
	if c.c.id != 2 {
		t.Errorf("client %d, want the one dialled in the current epoch", c.c.id)
	}
	c.release()
	if len(d.created) != 3 {
		t.Errorf("dialled %d clients, want 3", len(d.created))
	}
}

// TestPoolKeyed: a keyed pool (clients acting as users) reuses an idle client of the same key, closes an
// idle client of another key instead of keeping it, and stays within its size whatever the keys.
func TestPoolKeyed(t *testing.T) {
	d := &fakeDialer{}
	p := newPool(1, d.dial)
	ctx := t.Context()
	get := func(key string) *lease[*fakeClient] {
		t.Helper()
		l, err := p.getKeyed(ctx, key, d.dial)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a := get("user:alice")
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := p.getKeyed(short, "user:bob", d.dial); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second client beyond the size: %v", err)
	}
	a.release()
	if again := get("user:alice"); again.c != a.c {
		t.Error("alice's idle client was not reused")
	} else {
		again.release()
	}
	b := get("user:bob")
	if b.c == a.c || !a.c.closed.Load() {
		t.Errorf("bob got alice's client (%v) or alice's idle client stayed open (%v)", b.c == a.c, !a.c.closed.Load())
	}
	b.release()
	if len(d.created) != 2 {
		t.Errorf("%d clients dialled, want 2", len(d.created))
	}
}

// TestModes: the sticky bit between Go's fs.FileMode and HDFS's octal modes.
func TestModes(t *testing.T) {
	for _, tc := range []struct {
		in   os.FileMode
		want os.FileMode
	}{{0o755, 0o755}, {os.ModeSticky | 0o777, 0o1777}, {os.ModeDir | 0o700, 0o700}} {
		if got := hdfsPerm(tc.in); got != tc.want {
			t.Errorf("hdfsPerm(%v) = %o, want %o", tc.in, uint32(got), uint32(tc.want))
		}
	}
}
