package zk

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWatcherSilentServer: a server that accepts connections and never answers (as ZooKeeper 3.8 can while it
// loads its database after a restart) must not stall the client for go-zookeeper's ten receive timeouts; the
// capped dialer makes it give up after about one session timeout and dial again.
func TestWatcherSilentServer(t *testing.T) {
	checkNoGoroutineLeak(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var mu sync.Mutex
	var held []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			held = append(held, c) // read nothing, answer nothing, close nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})

	// Session timeout 2 s: go-zookeeper alone would wait 13 s for the handshake reply.
	w, _ := newTestWatcher(t, Options{Servers: []string{ln.Addr().String()}, SessionTimeout: 2 * time.Second})
	waitFor(t, 8*time.Second, "a second connection attempt", func() bool { return accepted.Load() >= 2 })
	if s := w.Session(); s.State == StateConnected {
		t.Errorf("Session = %+v", s)
	}
}

func TestCappedConnDeadlines(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &cappedConn{Conn: a, max: 50 * time.Millisecond}
	if err := c.SetReadDeadline(time.Time{}); err != nil { // "no deadline" is capped too
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a silent peer succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("read gave up after %v, want about 50ms", d)
	}
	if got := c.cap(time.Now().Add(time.Millisecond)); time.Until(got) > 10*time.Millisecond {
		t.Errorf("a nearer deadline was moved: %v", time.Until(got))
	}
}
