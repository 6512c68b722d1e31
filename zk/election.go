package zk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Candidate znodes are named as go-zookeeper's CreateProtectedEphemeralSequential (and Curator) name them:
// "_c_<guid>-n_<10-digit sequence>". The guid lets a candidate find the node it created when the connection
// dropped before the reply came; plain "n_<sequence>" nodes of other clients take part in the election too.
const (
	candidatePrefix   = "n_"
	protectedPrefix   = "_c_"
	sequenceDigits    = 10
	electionRoleLead  = "leader"
	electionRoleOther = "follower"
)

// ElectionOptions configure an Election.
type ElectionOptions struct {
	// Path is the election's parent znode; it is created (persistent) if missing. Required. It and the
	// candidate znodes get the Watcher's ACL (only the digest identity may touch them, see Watcher.Protected);
	// missing ancestors above it are created world-open.
	Path string
	// ID is this candidate's instance id, written as its znode's data and returned by Leader and Members.
	// Required.
	ID string
	// OnChange, if set, is called with the new value after every change of leadership as the election's
	// goroutine sees it (including losing it on disconnect and on Close). Calls come from that goroutine, one
	// at a time, in order; it must return quickly and must not call Close.
	OnChange func(leader bool)
	// Logger receives leadership changes at info level. Default: the Watcher's logger.
	Logger *slog.Logger
}

func (o *ElectionOptions) validate() error {
	if err := zkValidatePath(o.Path); err != nil {
		return fmt.Errorf("zk: election: Path: %w", err)
	}
	if o.Path == "/" {
		return errors.New("zk: election: Path is the root")
	}
	if o.ID == "" {
		return errors.New("zk: election: ID is required")
	}
	return nil
}

// Election is one candidate in a ZooKeeper leader election, by the standard recipe: every candidate creates an
// ephemeral sequential znode under Path, the lowest sequence leads, and every other candidate watches only its
// predecessor, so a leader's departure wakes one candidate, not all.
//
// A leader that cannot be sure must stop acting: IsLeader is false as soon as the connection drops, although
// the session, and with it the leadership, may survive a reconnect within the session timeout. The price is a
// pause in leading work during short disconnects; the gain is that two instances never both believe they lead
// for longer than the time the old leader needs to notice that it lost its connection. Work that must never
// overlap still needs fencing (check IsLeader right before each step, and make steps idempotent), since
// ZooKeeper can expire a session before its client notices.
//
// On reconnect within the session the candidate keeps its znode and place in line; after a session expiry it
// creates a new znode in the new session, at the end of the line.
type Election struct {
	w        *Watcher
	dir      string // server path of the election's parent znode (chroot applied)
	path     string // Path as given, for logs and metrics
	id       string
	guid     string // names this candidate's znodes
	onChange func(bool)
	log      *slog.Logger
	kick     chan struct{} // capacity 1: the session changed
	now      chan zk.Event // closed: "look again at once"
	cancel   context.CancelFunc
	done     chan struct{}

	// Owned by the election's goroutine: the watches it has set in session armedSess, by znode name, so that
	// none is set twice.
	armed     map[string]<-chan zk.Event
	armedSess int64

	mu       sync.Mutex
	node     string // this candidate's znode name, "" when it has none
	nodeSess int64  // the session owning node
	leading  bool   // node was the lowest at the last look (and OnChange was told so)
	leaderID string // the leader's instance id at the last look
	known    bool   // leaderID is set
}

// NewElection enters the election at opts.Path on w's session and starts its goroutine, which Close or
// Watcher.Close stops.
func NewElection(w *Watcher, opts ElectionOptions) (*Election, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = w.log
	}
	g := make([]byte, 16)
	_, _ = rand.Read(g)
	e := &Election{
		w: w, dir: w.chroot + strings.TrimSuffix(opts.Path, "/"), path: opts.Path, id: opts.ID,
		guid: hex.EncodeToString(g), onChange: opts.OnChange, log: opts.Logger.With("election", opts.Path),
		kick: make(chan struct{}, 1), now: make(chan zk.Event), done: make(chan struct{}),
		armed: map[string]<-chan zk.Event{},
	}
	close(e.now)
	unsubscribe, err := w.subscribeSession(e.kick)
	if err != nil {
		return nil, err
	}
	var ctx context.Context
	ctx, e.cancel = context.WithCancel(w.ctx)
	if err := w.goTracked(func() {
		defer close(e.done)
		defer unsubscribe()
		e.run(ctx)
	}); err != nil {
		e.cancel()
		unsubscribe()
		return nil, err
	}
	return e, nil
}

// IsLeader reports whether this candidate leads: it holds the lowest znode, in the session that is live and
// connected right now. It becomes false the moment the connection drops.
func (e *Election) IsLeader() bool {
	e.mu.Lock()
	leading, sess := e.leading, e.nodeSess
	e.mu.Unlock()
	if !leading {
		return false
	}
	s := e.w.Session()
	return s.State == StateConnected && s.ID == sess &&
		e.w.conn.State() == zk.StateHasSession && e.w.conn.SessionID() == sess
}

// Leader returns the leader's instance id as last seen, and false when no candidate led at the last look. While
// the session is unhealthy it is the last value seen, possibly stale.
func (e *Election) Leader() (id string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leaderID, e.known
}

// Members returns the instance ids of the live candidates, leader first. It reads ZooKeeper, and fails with
// ErrUnavailable while the session is unhealthy.
func (e *Election) Members(ctx context.Context) ([]string, error) {
	if s := e.w.Session(); s.State != StateConnected {
		return nil, fmt.Errorf("zk: election %s: members: %w (session %s)", e.path, ErrUnavailable, s.State)
	}
	type result struct {
		ids []string
		err error
	}
	done := make(chan result, 1)
	if err := e.w.goTracked(func() {
		ids, err := e.members()
		done <- result{ids, err}
	}); err != nil {
		return nil, err
	}
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("zk: election %s: members: %w", e.path, r.err)
		}
		return r.ids, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("zk: election %s: members: %w", e.path, ctx.Err())
	}
}

func (e *Election) members() ([]string, error) {
	children, _, err := e.w.conn.Children(e.dir)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(err)
	}
	var ids []string
	for _, c := range sortCandidates(children) {
		data, _, err := e.w.conn.Get(e.dir + "/" + c)
		switch {
		case errors.Is(err, zk.ErrNoNode): // left meanwhile
		case err != nil:
			return nil, classify(err)
		default:
			ids = append(ids, string(data))
		}
	}
	return ids, nil
}

// Close resigns: it stops the election's goroutine, which deletes this candidate's znode so that the next
// candidate takes over at once, and waits for it. While ZooKeeper is unreachable Close waits for a reconnect
// up to the session timeout plus 2 s (after that the session, and the znode, are gone). Idempotent;
// Watcher.Close also stops the election, at once (closing the session removes the znode).
func (e *Election) Close() {
	e.cancel()
	<-e.done
}

// run is the election's goroutine: take a look, then wait for the watched znode to change, the session to
// change, or a retry.
func (e *Election) run(ctx context.Context) {
	defer e.resign()
	bo := backoff{max: e.w.retryMax}
	for {
		wake, wake2, err := e.step()
		var retry <-chan time.Time
		if err != nil {
			d := bo.next()
			level := slog.LevelWarn
			if errors.Is(err, ErrUnavailable) { // the session monitor reports these
				level = slog.LevelDebug
			}
			e.log.Log(context.Background(), level, "election step failed; retrying", "err", err, "in", d)
			retry = time.After(d)
		} else {
			bo.reset()
		}
		select {
		case <-ctx.Done():
			return
		case <-e.kick:
		case <-wake:
			e.disarm(wake)
		case <-wake2:
			e.disarm(wake2)
		case <-retry:
		}
	}
}

// disarm forgets the watch whose channel fired.
func (e *Election) disarm(fired <-chan zk.Event) {
	for name, ch := range e.armed {
		if ch == fired {
			delete(e.armed, name)
		}
	}
}

// step looks at the election once: it makes sure this candidate has a znode in the current session, finds its
// place, and returns what to wait for (nil: a session change) or an error to retry after. A leader watches its
// own znode; a follower its predecessor, whose departure may make it the leader, and the leader's znode, so that
// Leader stays current (one watch per follower on the leader: a small herd, woken once per leadership change).
func (e *Election) step() (wake, wake2 <-chan zk.Event, err error) {
	s := e.w.Session()
	if s.State != StateConnected {
		e.set(false, "", false, true)
		return nil, nil, nil
	}
	conn := e.w.conn
	children, _, err := conn.Children(e.dir)
	if errors.Is(err, zk.ErrNoNode) {
		if err := createParents(e.w, e.dir, e.dir); err != nil {
			return nil, nil, err
		}
		return e.now, nil, nil
	}
	if err != nil {
		return nil, nil, classify(err)
	}
	cands := sortCandidates(children)
	mine := -1
	for i, c := range cands {
		if strings.HasPrefix(c, protectedPrefix+e.guid+"-") {
			mine = i
			break
		}
	}
	if mine < 0 {
		e.setNode("", 0)
		created, err := conn.Create(e.dir+"/"+protectedPrefix+e.guid+"-"+candidatePrefix, []byte(e.id),
			zk.FlagEphemeral|zk.FlagSequence, e.w.acl)
		if err != nil { // the node may exist nonetheless (connection lost after the create): the next look finds it
			return nil, nil, fmt.Errorf("create candidate znode: %w", classify(err))
		}
		e.log.Debug("candidate znode created", "znode", created, "session", fmt.Sprintf("0x%x", s.ID))
		return e.now, nil, nil
	}
	own := cands[mine]
	ok, st, err := conn.Exists(e.dir + "/" + own)
	switch {
	case err != nil:
		return nil, nil, classify(err)
	case !ok:
		return e.now, nil, nil
	case st.EphemeralOwner != s.ID:
		if conn.SessionID() == st.EphemeralOwner { // the Watcher has not seen the new session yet: it will kick
			return nil, nil, nil
		}
		// Left by an expired session of ours, not yet removed: remove it, it would hold a place in line.
		if err := conn.Delete(e.dir+"/"+own, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return nil, nil, fmt.Errorf("delete stale candidate znode: %w", classify(err))
		}
		return e.now, nil, nil
	}
	e.setNode(own, st.EphemeralOwner)

	if mine == 0 {
		ch, ok, err := e.arm(own, s.ID)
		switch {
		case err != nil:
			return nil, nil, err
		case !ok:
			return e.now, nil, nil
		}
		e.set(true, e.id, true, false)
		return ch, nil, nil
	}
	data, _, err := conn.Get(e.dir + "/" + cands[0])
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return e.now, nil, nil
	case err != nil:
		return nil, nil, classify(err)
	}
	for _, name := range []string{cands[mine-1], cands[0]} {
		ch, ok, err := e.arm(name, s.ID)
		switch {
		case err != nil:
			return nil, nil, err
		case !ok:
			return e.now, nil, nil
		}
		wake, wake2 = ch, wake
	}
	e.set(false, string(data), true, false)
	return wake, wake2, nil
}

// arm watches the candidate znode name (for deletion) unless a watch on it is already set in this session. ok
// is false when the znode is gone.
func (e *Election) arm(name string, sess int64) (<-chan zk.Event, bool, error) {
	if e.armedSess != sess {
		clear(e.armed) // gone with the old session; go-zookeeper has closed their channels
		e.armedSess = sess
	}
	if ch, ok := e.armed[name]; ok {
		return ch, true, nil
	}
	ok, _, ch, err := e.w.conn.ExistsW(e.dir + "/" + name)
	if err != nil {
		return nil, false, classify(err)
	}
	if ok {
		e.armed[name] = ch
		e.w.metrics.rearms.Inc()
	}
	return ch, ok, nil
}

func (e *Election) setNode(node string, sess int64) {
	e.mu.Lock()
	e.node, e.nodeSess = node, sess
	e.mu.Unlock()
}

// set records the outcome of a look and reports a leadership change. keepLeader keeps the last leader seen.
func (e *Election) set(leading bool, leaderID string, known, keepLeader bool) {
	e.mu.Lock()
	was := e.leading
	e.leading = leading
	if !keepLeader {
		e.leaderID, e.known = leaderID, known
	}
	leader := e.leaderID
	e.mu.Unlock()
	if was == leading {
		return
	}
	m := e.w.metrics
	if leading {
		m.electionLeader.WithLabelValues(e.path).Inc()
		m.electionTransitions.WithLabelValues(e.path, electionRoleLead).Inc()
		e.log.Info("leadership acquired", "id", e.id)
	} else {
		m.electionLeader.WithLabelValues(e.path).Dec()
		m.electionTransitions.WithLabelValues(e.path, electionRoleOther).Inc()
		e.log.Info("leadership lost", "id", e.id, "leader", leader, "session", e.w.Session().State.String())
	}
	if e.onChange != nil {
		e.onChange(leading)
	}
}

// resignMargin is added to the session timeout when resign waits for a reconnect: past it, the server has
// expired the session and removed the znode.
const resignMargin = 2 * time.Second

// resign runs when the goroutine stops: it stops leading, then deletes the candidate's znode so that the next
// candidate takes over at once. While ZooKeeper is unreachable it keeps trying until the session timeout (plus
// a margin) has passed, since a session that survives a reconnect would otherwise keep the znode, and with it
// the leadership, without anyone acting on it. After Watcher.Close it does nothing: closing the session removed
// the znode.
func (e *Election) resign() {
	e.set(false, "", false, true)
	e.mu.Lock()
	node, sess := e.node, e.nodeSess
	e.node = ""
	e.mu.Unlock()
	if node == "" {
		return
	}
	conn := e.w.conn
	deadline := time.Now().Add(e.w.sessionTimeout + resignMargin)
	tick := time.NewTicker(retryMin)
	defer tick.Stop()
	for {
		// After Watcher.Close a connection the Watcher dialed is closed, and the znode gone with its session; a
		// caller's connection lives on, so one attempt is made to delete the znode.
		watcherClosed := e.w.ctx.Err() != nil
		if watcherClosed && e.w.ownsConn {
			return
		}
		state, sid := conn.State(), conn.SessionID()
		switch {
		case state == zk.StateHasSession && sid != sess: // expired: the znode went with the session
			return
		case state == zk.StateHasSession:
			err := conn.Delete(e.dir+"/"+node, -1)
			if err == nil || errors.Is(err, zk.ErrNoNode) {
				return
			}
			e.log.Debug("could not delete the candidate znode on resign; retrying", "err", err)
		}
		if watcherClosed || time.Now().After(deadline) {
			e.log.Warn("could not delete the candidate znode on resign; it goes with the session", "znode", node)
			return
		}
		<-tick.C
	}
}

// sortCandidates returns the candidate znodes among children (names ending in n_ and a 10-digit sequence), in
// sequence order.
func sortCandidates(children []string) []string {
	var cands []string
	for _, c := range children {
		if seq, ok := sequenceOf(c); ok && seq != "" {
			cands = append(cands, c)
		}
	}
	slices.SortFunc(cands, func(a, b string) int {
		sa, _ := sequenceOf(a)
		sb, _ := sequenceOf(b)
		return strings.Compare(sa, sb)
	})
	return cands
}

func sequenceOf(name string) (string, bool) {
	if len(name) < len(candidatePrefix)+sequenceDigits {
		return "", false
	}
	seq := name[len(name)-sequenceDigits:]
	if name[len(name)-sequenceDigits-len(candidatePrefix):len(name)-sequenceDigits] != candidatePrefix {
		return "", false
	}
	for _, r := range seq {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return seq, true
}
