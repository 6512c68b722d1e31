package reconcile

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yarngate/yarngate/ident"
	"github.com/yarngate/yarngate/yarnclient"
	"github.com/yarngate/yarngate/zk"
)

// hostTable is a fake resolver: names to addresses, counting lookups.
type hostTable struct {
	names   map[string][]string
	lookups atomic.Int64
}

func (h *hostTable) lookup(_ context.Context, host string) ([]string, error) {
	h.lookups.Add(1)
	if a, ok := h.names[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

// fakeHosts resolves like the test cluster's machine ("vm", localhost on both loopbacks) beside two nodes of a
// real cluster, one of them with two addresses.
var fakeHosts = &hostTable{names: map[string][]string{
	"localhost":           {"127.0.0.1", "::1"},
	"vm":                  {"127.0.0.1"},
	"node1.example.com":   {"10.0.0.1"},
	"node1":               {"10.0.0.1"},
	"node2.example.com":   {"10.0.0.2", "192.168.0.2"},
	"node2-b.example.com": {"192.168.0.2"},
	"gateway.example.com": {"10.0.0.9"},
}}

func TestHostMatcherSame(t *testing.T) {
	cases := []struct {
		name string
		a, b string
		want bool
	}{
		{"same name", "node1.example.com", "node1.example.com", true},
		{"case and trailing dot", "Node1.Example.COM.", "node1.example.com", true},
		{"short and long name", "node1", "node1.example.com", true},
		{"name and its address", "node1.example.com", "10.0.0.1", true},
		{"address and name", "10.0.0.1", "node1", true},
		{"second address of a node", "192.168.0.2", "node2.example.com", true},
		{"two names sharing an address", "node2-b.example.com", "node2.example.com", true},
		{"test cluster: localhost and 127.0.0.1", "localhost", "127.0.0.1", true},
		{"test cluster: localhost and the hostname", "localhost", "vm", true},
		{"test cluster: the hostname and 127.0.0.1", "vm", "127.0.0.1", true},
		{"loopback addresses", "127.0.1.1", "localhost", true},
		{"IPv6 loopback in brackets", "[::1]", "127.0.0.1", true},
		{"IPv4-mapped IPv6", "::ffff:10.0.0.1", "node1", true},
		{"other node", "node1.example.com", "node2.example.com", false},
		{"other node's address", "10.0.0.2", "node1", false},
		{"the gateway's own machine is not the AM's node", "127.0.0.1", "node1.example.com", false},
		{"another machine named by address", "10.0.0.9", "node1.example.com", false},
		{"unresolvable names differ", "ghost-a", "ghost-b", false},
		{"unresolvable name and an address", "ghost-a", "10.0.0.1", false},
		{"empty AM host", "node1", "", false},
		{"empty address", "", "node1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newHostMatcher(fakeHosts.lookup, time.Now)
			if got := m.same(t.Context(), tc.a, tc.b); got != tc.want {
				t.Errorf("same(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestHostMatcherCaches(t *testing.T) {
	hosts := &hostTable{names: fakeHosts.names}
	now := time.Unix(1700000000, 0)
	m := newHostMatcher(hosts.lookup, func() time.Time { return now })
	for range 3 {
		if !m.same(t.Context(), "node1", "10.0.0.1") || m.same(t.Context(), "ghost", "10.0.0.1") {
			t.Fatal("wrong answer")
		}
	}
	if n := hosts.lookups.Load(); n != 2 {
		t.Errorf("%d lookups for two names asked three times, want 2", n)
	}
	now = now.Add(hostCacheTTL)
	m.same(t.Context(), "node1", "10.0.0.1")
	if n := hosts.lookups.Load(); n != 3 {
		t.Errorf("%d lookups after the cache expired, want 3", n)
	}
}

func TestAMHost(t *testing.T) {
	cases := []struct{ addr, want string }{
		{"node1.example.com:8042", "node1.example.com"},
		{"localhost:18042", "localhost"},
		{"http://node1:8042", "node1"},
		{"[::1]:8042", "::1"},
		{"node1", "node1"},
		{"N/A", ""},
		{"", ""},
	}
	for _, tc := range cases {
		if got := amHost(&yarnclient.App{AMHostHTTPAddress: tc.addr}); got != tc.want {
			t.Errorf("amHost(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestJobManagerURLOnAMHost: the JobManager address the gateway calls is on the host of the AM container YARN
// placed, whether it comes from YARN's amRPCAddress (which the AM registers itself) or from the leader znode
// (which any client of the quorum can write); another is ignored, and YARN's used.
func TestJobManagerURLOnAMHost(t *testing.T) {
	const leaderOK, leaderAway = "http://node1.example.com:40001", "http://10.0.0.2:40001"
	cases := []struct {
		name     string
		amHost   string // amHostHttpAddress
		amRPC    string
		leader   string // "" for none
		want     string
		refusals int
	}{
		{name: "YARN's address on the AM host", amHost: "node1.example.com:8042", amRPC: "node1.example.com:40000",
			want: "http://node1.example.com:40000"},
		{name: "YARN's address by IP", amHost: "node1.example.com:8042", amRPC: "10.0.0.1:40000", want: "http://10.0.0.1:40000"},
		{name: "the AM registered another host", amHost: "node1.example.com:8042", amRPC: "node2.example.com:40000",
			want: "", refusals: 1},
		{name: "the AM registered the gateway's loopback", amHost: "node1.example.com:8042", amRPC: "127.0.0.1:8080",
			want: "", refusals: 1},
		{name: "no AM container", amHost: "N/A", amRPC: "node1.example.com:40000", want: "", refusals: 1},
		{name: "leader on the AM host", amHost: "node1.example.com:8042", amRPC: "node1.example.com:40000",
			leader: leaderOK, want: leaderOK},
		{name: "leader on another host: YARN's", amHost: "node1.example.com:8042", amRPC: "node1.example.com:40000",
			leader: leaderAway, want: "http://node1.example.com:40000", refusals: 1},
		{name: "leader on another host, YARN's refused too", amHost: "node1.example.com:8042", amRPC: "node2.example.com:40000",
			leader: leaderAway, want: "", refusals: 2},
		{name: "test cluster: YARN localhost, ZooKeeper 127.0.0.1", amHost: "localhost:18042", amRPC: "localhost:40000",
			leader: "http://127.0.0.1:40001", want: "http://127.0.0.1:40001"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leaders := &fakeLeaders{leaders: map[string]zk.JobManagerLeader{}, watched: map[string]time.Time{}}
			h := newHarness(t, Options{Leaders: leaders})
			app := h.app(appA, yarnclient.StateRunning, yarnclient.FinalUndefined, ident.TagHA)
			app.AMHostHTTPAddress, app.AMRPCAddress = tc.amHost, tc.amRPC
			_ = leaders.Watch(appA) // followed already: no wait for a first read
			if tc.leader != "" {
				leaders.leaders[appA] = zk.JobManagerLeader{Known: true, Certain: true, Address: tc.leader, Since: time.Now()}
				h.r.answered[appA] = "http://" + tc.amRPC + " " + tc.leader // it answered: no TCP probe
			}
			for range 3 { // refusals are logged once
				if got := h.r.jobManagerURL(t.Context(), &app); got != tc.want {
					t.Fatalf("jobManagerURL = %q, want %q", got, tc.want)
				}
			}
			n := 0
			for _, addrs := range h.r.refused {
				n += len(addrs)
			}
			if n != tc.refusals {
				t.Errorf("%d addresses refused (%v), want %d", n, h.r.refused, tc.refusals)
			}
			h.r.forgetLeader(appA)
			if len(h.r.refused) != 0 {
				t.Errorf("refusals kept after the application ended: %v", h.r.refused)
			}
		})
	}
}
