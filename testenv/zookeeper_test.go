package testenv_test

import (
	"net"
	"testing"
	"time"

	"github.com/yarngate/yarngate/testenv"
)

func TestPrivateZooKeeperRestarts(t *testing.T) {
	z := testenv.StartZooKeeper(t)
	addr := z.Addr()
	dial := func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatalf("dial %s after Start: %v", addr, err)
	}
	z.Stop()
	if err := dial(); err == nil {
		t.Fatalf("%s still accepts connections after Stop", addr)
	}
	z.Stop() // idempotent
	z.Start()
	if z.Addr() != addr {
		t.Fatalf("address after restart = %s, want %s", z.Addr(), addr)
	}
	if err := dial(); err != nil {
		t.Fatalf("dial %s after restart: %v", addr, err)
	}
}
