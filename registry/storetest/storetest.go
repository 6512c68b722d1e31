// Package storetest is the conformance suite of registry.Store: every implementation runs it from its own
// tests, so that they all keep the contract written on the interface.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yarngate/yarngate/registry"
)

// NotifyWithin bounds how long a subscriber may take to hear of a change.
const NotifyWithin = 2 * time.Second

// Run runs the whole suite. open returns a fresh, empty Store for each test and arranges its closing with
// t.Cleanup. Change notifications are checked with the writer and the subscriber being one Store.
func Run(t *testing.T, open func(t *testing.T) registry.Store) {
	t.Run("Get", func(t *testing.T) { testGet(t, open(t)) })
	t.Run("Create", func(t *testing.T) { testCreate(t, open(t)) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("List", func(t *testing.T) { testList(t, open(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, open(t)) })
	t.Run("ValueSize", func(t *testing.T) { testValueSize(t, open(t)) })
	t.Run("ConcurrentCreate", func(t *testing.T) { testConcurrentCreate(t, open(t)) })
	t.Run("ConcurrentUpdate", func(t *testing.T) { testConcurrentUpdate(t, open(t)) })
	t.Run("ContextCancelled", func(t *testing.T) { testContextCancelled(t, open(t)) })
	RunPeers(t, func(t *testing.T) (registry.Store, registry.Store) {
		s := open(t)
		return s, s
	})
}

// RunPeers runs the tests of change notifications between two Stores on one backing (two gateways sharing
// ZooKeeper): open returns a fresh pair, writer and subscriber, and arranges their closing with t.Cleanup.
func RunPeers(t *testing.T, open func(t *testing.T) (writer, subscriber registry.Store)) {
	t.Run("Subscribe", func(t *testing.T) {
		w, s := open(t)
		testSubscribe(t, w, s)
	})
	t.Run("SubscribeStop", func(t *testing.T) {
		w, s := open(t)
		testSubscribeStop(t, w, s)
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustCreate(t *testing.T, s registry.Store, key, value string) registry.Version {
	t.Helper()
	v, err := s.Create(ctxT(t), key, []byte(value))
	if err != nil {
		t.Fatalf("Create(%s): %v", key, err)
	}
	return v
}

func testGet(t *testing.T, s registry.Store) {
	ctx := ctxT(t)
	v := mustCreate(t, s, "jobs/a", "va")
	mustCreate(t, s, "jobs/empty", "")
	tests := []struct {
		name, key string
		want      string
		wantV     registry.Version
		wantErr   error
	}{
		{name: "missing key", key: "jobs/missing", wantErr: registry.ErrNotFound},
		{name: "missing table", key: "nosuchtable/a", wantErr: registry.ErrNotFound},
		{name: "present", key: "jobs/a", want: "va", wantV: v},
		{name: "empty value", key: "jobs/empty", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := s.Get(ctx, tc.key)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Get(%s) = %+v, %v; want %v", tc.key, e, err, tc.wantErr)
				}
				return
			}
			if err != nil || e.Key != tc.key || string(e.Value) != tc.want {
				t.Fatalf("Get(%s) = %+v, %v; want value %q", tc.key, e, err, tc.want)
			}
			if tc.wantV != 0 && e.Version != tc.wantV {
				t.Errorf("Get(%s).Version = %d, want %d (as Create returned)", tc.key, e.Version, tc.wantV)
			}
		})
	}
}

func testCreate(t *testing.T, s registry.Store) {
	ctx := ctxT(t)
	v, err := s.Create(ctx, "jobs/a", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "jobs/a", []byte("two")); !errors.Is(err, registry.ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	if e, err := s.Get(ctx, "jobs/a"); err != nil || string(e.Value) != "one" || e.Version != v {
		t.Fatalf("Get after failed Create = %+v, %v; want the first value at version %d", e, err, v)
	}
	// A deleted key can be created again.
	if err := s.Delete(ctx, "jobs/a", v); err != nil {
		t.Fatal(err)
	}
	v2, err := s.Create(ctx, "jobs/a", []byte("three"))
	if err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
	if e, err := s.Get(ctx, "jobs/a"); err != nil || string(e.Value) != "three" || e.Version != v2 {
		t.Fatalf("Get after re-Create = %+v, %v", e, err)
	}
}

func testUpdate(t *testing.T, s registry.Store) {
	ctx := ctxT(t)
	v0 := mustCreate(t, s, "jobs/a", "v0")
	v1, err := s.Update(ctx, "jobs/a", []byte("v1"), v0)
	if err != nil {
		t.Fatalf("Update with the current version: %v", err)
	}
	if v1 <= v0 {
		t.Errorf("Update returned version %d, not above %d", v1, v0)
	}
	tests := []struct {
		name    string
		key     string
		version registry.Version
		wantErr error
	}{
		{name: "stale version", key: "jobs/a", version: v0, wantErr: registry.ErrConflict},
		{name: "future version", key: "jobs/a", version: v1 + 100, wantErr: registry.ErrConflict},
		{name: "missing key", key: "jobs/missing", version: v0, wantErr: registry.ErrNotFound},
		{name: "missing table", key: "other/a", version: v0, wantErr: registry.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Update(ctx, tc.key, []byte("x"), tc.version); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Update(%s, v%d) = %v, want %v", tc.key, tc.version, err, tc.wantErr)
			}
		})
	}
	if e, err := s.Get(ctx, "jobs/a"); err != nil || string(e.Value) != "v1" || e.Version != v1 {
		t.Fatalf("Get = %+v, %v; want v1 at version %d", e, err, v1)
	}
}

func testDelete(t *testing.T, s registry.Store) {
	ctx := ctxT(t)
	v0 := mustCreate(t, s, "jobs/a", "v0")
	v1, err := s.Update(ctx, "jobs/a", []byte("v1"), v0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     string
		version registry.Version
		wantErr error
	}{
		{name: "stale version", key: "jobs/a", version: v0, wantErr: registry.ErrConflict},
		{name: "missing key", key: "jobs/missing", version: v0, wantErr: registry.ErrNotFound},
		{name: "current version", key: "jobs/a", version: v1},
		{name: "already deleted", key: "jobs/a", version: v1, wantErr: registry.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Delete(ctx, tc.key, tc.version)
			if (tc.wantErr == nil && err != nil) || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Delete(%s, v%d) = %v, want %v", tc.key, tc.version, err, tc.wantErr)
			}
		})
	}
	if _, err := s.Get(ctx, "jobs/a"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
}

func testList(t *testing.T, s registry.Store) {
	ctx := ctxT(t)
	for _, k := range []string{"jobs/c", "jobs/a", "jobs/b-2", "jobs/b", "jobs/B", "jobs2/a", "job/z", "sessions/a"} {
		mustCreate(t, s, k, "value of "+k)
	}
	tests := []struct {
		table string
		want  []string
	}{
		{table: "jobs", want: []string{"jobs/B", "jobs/a", "jobs/b", "jobs/b-2", "jobs/c"}},
		{table: "jobs2", want: []string{"jobs2/a"}},
		{table: "job", want: []string{"job/z"}},
		{table: "sessions", want: []string{"sessions/a"}},
		{table: "empty", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.table, func(t *testing.T) {
			got, err := s.List(ctx, tc.table)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, e := range got {
				keys = append(keys, e.Key)
				if string(e.Value) != "value of "+e.Key {
					t.Errorf("List(%s): %s = %q", tc.table, e.Key, e.Value)
				}
				if g, err := s.Get(ctx, e.Key); err != nil || g.Version != e.Version {
					t.Errorf("List(%s): %s at version %d, Get says %+v, %v", tc.table, e.Key, e.Version, g, err)
				}
			}
			if strings.Join(keys, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("List(%s) = %v, want %v", tc.table, keys, tc.want)
			}
		})
	}
	if err := s.Delete(ctx, "jobs2/a", mustVersion(t, s, "jobs2/a")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.List(ctx, "jobs2"); err != nil || len(got) != 0 {
		t.Fatalf("List of a table emptied by Delete = %v, %v", got, err)
	}
}

func mustVersion(t *testing.T, s registry.Store, key string) registry.Version {
	t.Helper()
	e, err := s.Get(ctxT(t), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return e.Version
}

func testInvalidKeys(t *testing.T, s registry.Store) {
	ctx := ctxT(t)
	for _, key := range []string{"", "jobs", "jobs/", "/a", "jobs/a/b", "jobs/a b", "jobs/ü", "jo bs/a", "jobs/a\x00"} {
		t.Run(strconv.Quote(key), func(t *testing.T) {
			ops := []struct {
				op string
				fn func() error
			}{
				{"Get", func() error { _, err := s.Get(ctx, key); return err }},
				{"Create", func() error { _, err := s.Create(ctx, key, nil); return err }},
				{"Update", func() error { _, err := s.Update(ctx, key, nil, 1); return err }},
				{"Delete", func() error { return s.Delete(ctx, key, 1) }},
			}
			for _, o := range ops {
				if err := o.fn(); !errors.Is(err, registry.ErrInvalidKey) {
					t.Errorf("%s(%q) = %v, want ErrInvalidKey", o.op, key, err)
				}
			}
		})
	}
	for _, table := range []string{"", "jobs/a", "a b", "/"} {
		if _, err := s.List(ctx, table); !errors.Is(err, registry.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", table, err)
		}
		if stop, err := s.Subscribe(table, func(string) {}); !errors.Is(err, registry.ErrInvalidKey) {
			t.Errorf("Subscribe(%q) = %v, want ErrInvalidKey", table, err)
			if stop != nil {
				stop()
			}
		}
	}
	// Every allowed character, and names that are path elements elsewhere, are valid.
	for _, key := range []string{"a.Z_9:-/x.Y_0:-", "jobs/.", "jobs/..", "./a", "../a", "zookeeper/a"} {
		v, err := s.Create(ctx, key, []byte(key))
		if err != nil {
			t.Errorf("Create(%q): %v", key, err)
			continue
		}
		if e, err := s.Get(ctx, key); err != nil || e.Version != v || string(e.Value) != key {
			t.Errorf("Get(%q) = %+v, %v", key, e, err)
		}
	}
	if got, err := s.List(ctx, "jobs"); err != nil || len(got) != 2 || got[0].Key != "jobs/." || got[1].Key != "jobs/.." {
		t.Errorf("List(jobs) = %+v, %v; want jobs/. and jobs/..", got, err)
	}
}

func testValueSize(t *testing.T, s registry.Store) {
	ctx := ctxT(t)
	limit := bytes.Repeat([]byte{0xa5}, registry.MaxValueSize)
	over := append(bytes.Clone(limit), 0)
	v, err := s.Create(ctx, "jobs/big", limit)
	if err != nil {
		t.Fatalf("Create of %d bytes: %v", len(limit), err)
	}
	if e, err := s.Get(ctx, "jobs/big"); err != nil || !bytes.Equal(e.Value, limit) {
		t.Fatalf("Get of the %d-byte value: %d bytes, %v", len(limit), len(e.Value), err)
	}
	if _, err := s.Create(ctx, "jobs/over", over); !errors.Is(err, registry.ErrTooLarge) {
		t.Errorf("Create of %d bytes = %v, want ErrTooLarge", len(over), err)
	}
	if _, err := s.Update(ctx, "jobs/big", over, v); !errors.Is(err, registry.ErrTooLarge) {
		t.Errorf("Update to %d bytes = %v, want ErrTooLarge", len(over), err)
	}
	if _, err := s.Get(ctx, "jobs/over"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Get after refused Create = %v, want ErrNotFound", err)
	}
}

func testConcurrentCreate(t *testing.T, s registry.Store) {
	ctx := ctxT(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Create(ctx, "jobs/contended", []byte(strconv.Itoa(i)))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("Create by %d and by %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, registry.ErrExists):
			t.Errorf("Create by %d = %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no Create succeeded")
	}
	if e, err := s.Get(ctx, "jobs/contended"); err != nil || string(e.Value) != strconv.Itoa(winner) {
		t.Fatalf("Get = %+v, %v; want the winner's value %d", e, err, winner)
	}
}

func testConcurrentUpdate(t *testing.T, s registry.Store) {
	ctx := ctxT(t)
	const workers, increments = 8, 20
	mustCreate(t, s, "jobs/counter", "0")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range increments {
				for {
					e, err := s.Get(ctx, "jobs/counter")
					if err != nil {
						errs <- err
						return
					}
					n, err := strconv.Atoi(string(e.Value))
					if err != nil {
						errs <- err
						return
					}
					_, err = s.Update(ctx, "jobs/counter", []byte(strconv.Itoa(n+1)), e.Version)
					if err == nil {
						break
					}
					if !errors.Is(err, registry.ErrConflict) {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if e, err := s.Get(ctx, "jobs/counter"); err != nil || string(e.Value) != strconv.Itoa(workers*increments) {
		t.Fatalf("counter = %+v, %v; want %d (a lost update otherwise)", e, err, workers*increments)
	}
}

func testContextCancelled(t *testing.T, s registry.Store) {
	v := mustCreate(t, s, "jobs/a", "a")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ops := []struct {
		op string
		fn func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "jobs/a"); return err }},
		{"Create", func() error { _, err := s.Create(ctx, "jobs/b", nil); return err }},
		{"Update", func() error { _, err := s.Update(ctx, "jobs/a", []byte("x"), v); return err }},
		{"Delete", func() error { return s.Delete(ctx, "jobs/a", v) }},
		{"List", func() error { _, err := s.List(ctx, "jobs"); return err }},
	}
	for _, o := range ops {
		t.Run(o.op, func(t *testing.T) {
			if err := o.fn(); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s with a cancelled context = %v, want context.Canceled", o.op, err)
			}
		})
	}
	if e, err := s.Get(ctxT(t), "jobs/a"); err != nil || string(e.Value) != "a" || e.Version != v {
		t.Fatalf("after cancelled calls: %+v, %v; want unchanged", e, err)
	}
	if _, err := s.Get(ctxT(t), "jobs/b"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("cancelled Create wrote jobs/b: %v", err)
	}
}

// recorder collects the keys onChange receives.
type recorder struct {
	mu   sync.Mutex
	seen map[string]int
	wake chan struct{}
}

func newRecorder() *recorder {
	return &recorder{seen: map[string]int{}, wake: make(chan struct{}, 1)}
}

func (r *recorder) onChange(key string) {
	r.mu.Lock()
	r.seen[key]++
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[key]
}

func (r *recorder) keys() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.seen))
	for k, n := range r.seen {
		out[k] = n
	}
	return out
}

// waitChange waits until onChange(key) has been called more than before times and then cond(Get) holds,
// re-checking after every further call and every 20 ms.
func waitChange(t *testing.T, r *recorder, s registry.Store, key string, before int, what string,
	cond func(registry.Entry, error) bool) {
	t.Helper()
	deadline := time.NewTimer(NotifyWithin)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if r.count(key) > before {
			// The contract: a Get made after the notification returns that change or a newer one.
			e, err := s.Get(ctxT(t), key)
			if cond(e, err) {
				return
			}
		}
		select {
		case <-r.wake:
		case <-tick.C:
		case <-deadline.C:
			e, err := s.Get(ctxT(t), key)
			t.Fatalf("no notification of %s within %v (calls for %s: %d, before %d; Get = %+v, %v)",
				what, NotifyWithin, key, r.count(key), before, e, err)
		}
	}
}

func hasValue(want string) func(registry.Entry, error) bool {
	return func(e registry.Entry, err error) bool { return err == nil && string(e.Value) == want }
}

func testSubscribe(t *testing.T, w, s registry.Store) {
	ctx := ctxT(t)
	mustCreate(t, w, "jobs/existing", "e0")
	r := newRecorder()
	stop, err := s.Subscribe("jobs", r.onChange)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	other := newRecorder()
	stopOther, err := s.Subscribe("sessions", other.onChange)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopOther)
	time.Sleep(100 * time.Millisecond) // let an asynchronous subscription arm before the first write

	steps := []struct {
		name  string
		key   string
		write func() error
		cond  func(registry.Entry, error) bool
	}{
		{name: "create", key: "jobs/a", write: func() error { _, err := w.Create(ctx, "jobs/a", []byte("a0")); return err },
			cond: hasValue("a0")},
		{name: "update", key: "jobs/a", write: func() error {
			_, err := w.Update(ctx, "jobs/a", []byte("a1"), mustVersion(t, w, "jobs/a"))
			return err
		}, cond: hasValue("a1")},
		{name: "update of a key that existed before Subscribe", key: "jobs/existing", write: func() error {
			_, err := w.Update(ctx, "jobs/existing", []byte("e1"), mustVersion(t, w, "jobs/existing"))
			return err
		}, cond: hasValue("e1")},
		{name: "delete", key: "jobs/a", write: func() error { return w.Delete(ctx, "jobs/a", mustVersion(t, w, "jobs/a")) },
			cond: func(_ registry.Entry, err error) bool { return errors.Is(err, registry.ErrNotFound) }},
		{name: "re-create", key: "jobs/a", write: func() error { _, err := w.Create(ctx, "jobs/a", []byte("a2")); return err },
			cond: hasValue("a2")},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := r.count(st.key)
			if err := st.write(); err != nil {
				t.Fatal(err)
			}
			waitChange(t, r, s, st.key, before, st.name+" of "+st.key, st.cond)
		})
	}

	// A burst of updates: coalescing may drop intermediate calls, never the last state.
	const burst = 50
	mustCreate(t, w, "jobs/burst", "0")
	v := mustVersion(t, w, "jobs/burst")
	before := r.count("jobs/burst")
	for i := 1; i <= burst; i++ {
		if v, err = w.Update(ctx, "jobs/burst", []byte(strconv.Itoa(i)), v); err != nil {
			t.Fatal(err)
		}
	}
	waitChange(t, r, s, "jobs/burst", before, "a burst of updates", hasValue(strconv.Itoa(burst)))

	for k := range r.keys() {
		if !strings.HasPrefix(k, "jobs/") {
			t.Errorf("jobs subscriber got key %q", k)
		}
	}
	if got := other.keys(); len(got) != 0 {
		t.Errorf("sessions subscriber got %v, want nothing", got)
	}
}

func testSubscribeStop(t *testing.T, w, s registry.Store) {
	ctx := ctxT(t)
	r := newRecorder()
	stop, err := s.Subscribe("jobs", r.onChange)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	mustCreate(t, w, "jobs/a", "a")
	waitChange(t, r, s, "jobs/a", 0, "create of jobs/a", hasValue("a"))
	stop()
	stop()                             // idempotent
	time.Sleep(100 * time.Millisecond) // a call under way when stop ran may still finish
	n := len(r.keys())
	total := 0
	for _, c := range r.keys() {
		total += c
	}
	for i := range 5 {
		if _, err := w.Create(ctx, fmt.Sprintf("jobs/after-%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	after := 0
	for _, c := range r.keys() {
		after += c
	}
	if len(r.keys()) != n || after != total {
		t.Fatalf("onChange called after stop: %v", r.keys())
	}
}
