package zk

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yarngate/yarngate/testenv"
)

func TestSortCandidates(t *testing.T) {
	cases := []struct {
		name     string
		children []string
		want     []string
	}{
		{name: "empty"},
		{name: "protected and plain, by sequence",
			children: []string{"_c_bb-n_0000000003", "n_0000000001", "_c_aa-n_0000000002"},
			want:     []string{"n_0000000001", "_c_aa-n_0000000002", "_c_bb-n_0000000003"}},
		{name: "foreign names ignored",
			children: []string{"lock", "n_12", "x_0000000001", "n_00000000a1", "n_0000000007"},
			want:     []string{"n_0000000007"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := sortCandidates(tc.children); !slices.Equal(got, tc.want) {
				t.Errorf("sortCandidates(%q) = %q, want %q", tc.children, got, tc.want)
			}
		})
	}
}

func TestElectionOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		opts ElectionOptions
		ok   bool
	}{
		{name: "ok", opts: ElectionOptions{Path: "/yarngate/reconciler", ID: "gw-1"}, ok: true},
		{name: "no id", opts: ElectionOptions{Path: "/yarngate/reconciler"}},
		{name: "relative path", opts: ElectionOptions{Path: "yarngate", ID: "gw-1"}},
		{name: "root", opts: ElectionOptions{Path: "/", ID: "gw-1"}},
		{name: "empty segment", opts: ElectionOptions{Path: "/a//b", ID: "gw-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.opts.validate(); (err == nil) != tc.ok {
				t.Errorf("validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// candidate is one election participant on its own Watcher (and so its own session).
type candidate struct {
	id  string
	w   *Watcher
	reg *prometheus.Registry
	e   *Election
	log *leaderLog[bool]
}

func newCandidate(t *testing.T, id, path string, opts Options) *candidate {
	t.Helper()
	w, reg := newTestWatcher(t, opts)
	c := &candidate{id: id, w: w, reg: reg, log: newLeaderLog[bool]()}
	var err error
	c.e, err = NewElection(w, ElectionOptions{Path: path, ID: id, OnChange: c.log.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.e.Close)
	return c
}

// leaders returns the ids of the candidates that think they lead.
func leaders(cs ...*candidate) []string {
	var ids []string
	for _, c := range cs {
		if c.e.IsLeader() {
			ids = append(ids, c.id)
		}
	}
	return ids
}

// waitSettled waits until exactly one of cs leads and every candidate names it as the leader, and returns it.
func waitSettled(t *testing.T, timeout time.Duration, cs ...*candidate) *candidate {
	t.Helper()
	var leader *candidate
	waitFor(t, timeout, "exactly one leader, known to all", func() bool {
		ids := leaders(cs...)
		if len(ids) != 1 {
			return false
		}
		for _, c := range cs {
			if id, ok := c.e.Leader(); !ok || id != ids[0] {
				return false
			}
			if c.id == ids[0] {
				leader = c
			}
		}
		return true
	})
	return leader
}

func members(t *testing.T, c *candidate) []string {
	t.Helper()
	ids, err := c.e.Members(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestElectionOneLeaderAndTakeover(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	path := testRoot(t, admin) + "/yarngate/reconciler" // missing parents are created
	var cs []*candidate
	for _, id := range []string{"gw-a", "gw-b", "gw-c"} {
		cs = append(cs, newCandidate(t, id, path, Options{Servers: []string{server}}))
	}
	leader := waitSettled(t, 10*time.Second, cs...)
	if got := members(t, cs[0]); len(got) != 3 || got[0] != leader.id {
		t.Errorf("Members = %q, want 3 with the leader %s first", got, leader.id)
	}
	if got := testutil.ToFloat64(leader.w.metrics.electionLeader.WithLabelValues(path)); got != 1 {
		t.Errorf("election_leader on the leader = %v, want 1", got)
	}

	var rest []*candidate
	for _, c := range cs {
		if c != leader {
			rest = append(rest, c)
		}
	}
	resigned := time.Now()
	leader.e.Close()
	if leader.e.IsLeader() {
		t.Error("IsLeader after Close")
	}
	next := waitSettled(t, 2*time.Second, rest...)
	t.Logf("%s took over from %s %v after it resigned", next.id, leader.id, time.Since(resigned))
	if got := leader.log.all(); !slices.Equal(got, []bool{true, false}) {
		t.Errorf("OnChange of the resigned leader saw %v, want [true false]", got)
	}
	if got := members(t, rest[0]); len(got) != 2 || got[0] != next.id || slices.Contains(got, leader.id) {
		t.Errorf("Members after the resignation = %q", got)
	}
	for role, want := range map[string]float64{electionRoleLead: 1, electionRoleOther: 1} {
		if got := testutil.ToFloat64(leader.w.metrics.electionTransitions.WithLabelValues(path, role)); got != want {
			t.Errorf("election_transitions_total{role=%s} of the resigned leader = %v, want %v", role, got, want)
		}
	}
	if got := testutil.ToFloat64(leader.w.metrics.electionLeader.WithLabelValues(path)); got != 0 {
		t.Errorf("election_leader after resigning = %v, want 0", got)
	}
	// Closing the Watcher stops an election that was never closed; its session, and so its znode, ends.
	last := rest[0]
	if last == next {
		last = rest[1]
	}
	if err := next.w.Close(); err != nil {
		t.Fatal(err)
	}
	if next.e.IsLeader() {
		t.Error("IsLeader after Watcher.Close")
	}
	waitFor(t, 5*time.Second, "the last candidate leads", last.e.IsLeader)
	if got := members(t, last); !slices.Equal(got, []string{last.id}) {
		t.Errorf("Members = %q, want [%s]", got, last.id)
	}
}

func TestElectionSessionExpiry(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	admin := adminConn(t, server)
	path := testRoot(t, admin) + "/election"
	px := startProxy(t, server)
	a := newCandidate(t, "gw-a", path, Options{Servers: []string{px.addr()}, SessionTimeout: 2 * time.Second})
	waitFor(t, 10*time.Second, "gw-a leads alone", a.e.IsLeader)
	b := newCandidate(t, "gw-b", path, Options{Servers: []string{server}})
	if got := waitSettled(t, 10*time.Second, a, b); got != a {
		t.Fatalf("leader = %s, want gw-a, the first candidate", got.id)
	}
	first := a.w.Session()

	px.setRefuse(true)
	cut := time.Now()
	waitFor(t, time.Second, "gw-a no longer leading once cut off", func() bool { return !a.e.IsLeader() })
	t.Logf("gw-a stopped leading %v after it was cut off", time.Since(cut))
	a.log.waitLast(t, time.Second, "OnChange(false) on gw-a", func(l bool) bool { return !l })
	// The server expires gw-a's session (2 s) and deletes its znode: gw-b, watching it, takes over.
	waitFor(t, 10*time.Second, "gw-b leads", b.e.IsLeader)
	t.Logf("gw-b took over %v after gw-a was cut off", time.Since(cut))
	if a.e.IsLeader() {
		t.Fatal("both lead")
	}

	px.setRefuse(false)
	waitFor(t, 15*time.Second, "gw-a rejoins in a new session behind gw-b", func() bool {
		id, ok := a.e.Leader()
		return ok && id == "gw-b" && a.w.Session().State == StateConnected && a.w.Session().ID != first.ID
	})
	if got := members(t, b); !slices.Equal(got, []string{"gw-b", "gw-a"}) {
		t.Errorf("Members after gw-a rejoined = %q, want [gw-b gw-a]", got)
	}
	if got := leaders(a, b); !slices.Equal(got, []string{"gw-b"}) {
		t.Errorf("leaders after gw-a rejoined = %q, want [gw-b]", got)
	}
	if got := a.log.all(); !slices.Equal(got, []bool{true, false}) {
		t.Errorf("OnChange of gw-a saw %v, want [true false]", got)
	}
}

func TestElectionZooKeeperStopped(t *testing.T) {
	checkNoGoroutineLeak(t)
	z := testenv.StartZooKeeper(t)
	// A session long enough to outlast a ZooKeeper restart on a loaded machine (a JVM start took over 11 s once):
	// the test is about what happens within one session.
	a := newCandidate(t, "gw-a", "/yarngate/reconciler", Options{Servers: []string{z.Addr()}, SessionTimeout: 25 * time.Second})
	waitFor(t, 10*time.Second, "gw-a leads", a.e.IsLeader)
	a.e.mu.Lock()
	node := a.e.node
	a.e.mu.Unlock()

	stopped := time.Now()
	z.Stop()
	waitFor(t, 500*time.Millisecond, "IsLeader false with ZooKeeper stopped", func() bool { return !a.e.IsLeader() })
	t.Logf("IsLeader false %v after the stop began", time.Since(stopped))
	a.log.waitLast(t, time.Second, "OnChange(false)", func(l bool) bool { return !l })

	z.Start()
	waitFor(t, 25*time.Second, "gw-a leads again", a.e.IsLeader)
	a.e.mu.Lock()
	kept := a.e.node
	a.e.mu.Unlock()
	if kept != node || a.w.Session().Sessions != 1 {
		t.Errorf("after a reconnect within the session: znode %s (was %s), session %+v; want the same znode and session",
			kept, node, a.w.Session())
	}
	if got := members(t, a); !slices.Equal(got, []string{"gw-a"}) {
		t.Errorf("Members = %q, want [gw-a]", got)
	}
	if got := a.log.all(); !slices.Equal(got, []bool{true, false, true}) {
		t.Errorf("OnChange saw %v, want [true false true]", got)
	}

	// Resigning while ZooKeeper is down: the session survives the outage, so Close waits for the reconnect and
	// deletes the znode, which would otherwise keep the leadership with no one acting on it.
	z.Stop()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		a.e.Close()
	}()
	time.Sleep(500 * time.Millisecond)
	select {
	case <-closed:
		t.Fatal("Close returned while ZooKeeper was down and the session alive")
	default:
	}
	z.Start()
	select {
	case <-closed:
	case <-time.After(25 * time.Second):
		t.Fatal("Close still waiting 25 s after ZooKeeper came back")
	}
	admin := adminConn(t, z.Addr())
	if children, _, err := admin.Children("/yarngate/reconciler"); err != nil || len(children) != 0 {
		t.Errorf("candidates after Close = %q, %v; want none", children, err)
	}
	if s := a.w.Session(); s.Sessions != 1 {
		t.Errorf("session %+v, want the first session still", s)
	}
}

func TestElectionOnCallersConn(t *testing.T) {
	checkNoGoroutineLeak(t)
	server := requireZK(t)
	conn := adminConn(t, server) // drains its own events
	path := testRoot(t, conn) + "/election"
	w, _ := newTestWatcher(t, Options{Conn: conn})
	e, err := NewElection(w, ElectionOptions{Path: path, ID: "gw-a"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "gw-a leads", e.IsLeader)
	// The connection, and so the session, outlive the Watcher: closing it must still withdraw the candidate.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if children, _, err := conn.Children(path); err != nil || len(children) != 0 {
		t.Errorf("candidates after Watcher.Close = %q, %v; want none", children, err)
	}
	e.Close() // idempotent after Watcher.Close
	if _, err := NewElection(w, ElectionOptions{Path: path, ID: "gw-b"}); !errors.Is(err, ErrClosed) {
		t.Errorf("NewElection on a closed Watcher = %v, want ErrClosed", err)
	}
}
