package boltstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/yarngate/yarngate/registry"
)

// subscription is one Subscribe call: keys changed in its table are queued (coalesced per key) and handed
// to onChange by the subscription's own goroutine, never under a transaction or the Store's mutex, so
// onChange may call the Store.
type subscription struct {
	table    string
	onChange func(string)
	signal   chan struct{} // capacity 1: keys are pending
	cancel   context.CancelFunc

	mu      sync.Mutex
	pending []string
	marked  map[string]struct{}
}

// Subscribe calls onChange with the key of every value in table created, updated or deleted through this
// Store from now on, until stop is called or the Store is closed. Calls come from one goroutine, one at a
// time; a key changed again before its call is delivered once. stop does not wait for a call under way (Close
// does), so it may be called from onChange; a call already under way when stop runs may finish after it.
func (s *Store) Subscribe(table string, onChange func(key string)) (stop func(), err error) {
	if err := registry.CheckTable(table); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("boltstore: subscribe %s: %w (closed)", table, registry.ErrUnavailable)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	sub := &subscription{table: table, onChange: onChange, signal: make(chan struct{}, 1), cancel: cancel,
		marked: map[string]struct{}{}}
	s.subs[sub] = struct{}{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sub.run(ctx)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs, sub)
			s.mu.Unlock()
			sub.stop()
		})
	}, nil
}

// changed queues key for every subscription to table. It is called after the write committed.
func (s *Store) changed(table, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		if sub.table == table {
			sub.mark(key)
		}
	}
}

func (sub *subscription) mark(key string) {
	sub.mu.Lock()
	if _, ok := sub.marked[key]; !ok {
		sub.marked[key] = struct{}{}
		sub.pending = append(sub.pending, key)
	}
	sub.mu.Unlock()
	select {
	case sub.signal <- struct{}{}:
	default:
	}
}

// stop cancels the subscription. It takes mu, so run pops no further key once stop returned.
func (sub *subscription) stop() {
	sub.mu.Lock()
	sub.cancel()
	sub.pending = nil
	sub.mu.Unlock()
}

func (sub *subscription) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.signal:
		}
		for {
			sub.mu.Lock()
			if ctx.Err() != nil || len(sub.pending) == 0 {
				sub.mu.Unlock()
				break
			}
			key := sub.pending[0]
			sub.pending = sub.pending[1:]
			delete(sub.marked, key)
			sub.mu.Unlock()
			sub.onChange(key)
		}
	}
}
