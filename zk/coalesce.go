package zk

import (
	"context"
	"sync"
)

// coalescer hands marked keys to one consumer goroutine. Marking never blocks; a key marked again before the
// consumer took it is handed over once. Keys are handed over in the order they were first marked.
type coalescer[K comparable] struct {
	signal chan struct{} // capacity 1

	mu      sync.Mutex
	pending []K
	marked  map[K]struct{}
}

func newCoalescer[K comparable]() *coalescer[K] {
	return &coalescer[K]{signal: make(chan struct{}, 1), marked: map[K]struct{}{}}
}

// mark queues k for the consumer.
func (c *coalescer[K]) mark(k K) {
	c.mu.Lock()
	if _, ok := c.marked[k]; !ok {
		c.marked[k] = struct{}{}
		c.pending = append(c.pending, k)
	}
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// run calls fn for each marked key until ctx is done. fn runs on run's goroutine, one call at a time.
func (c *coalescer[K]) run(ctx context.Context, fn func(K)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.signal:
		}
		c.mu.Lock()
		keys := c.pending
		c.pending = nil
		clear(c.marked)
		c.mu.Unlock()
		for _, k := range keys {
			if ctx.Err() != nil {
				return
			}
			fn(k)
		}
	}
}
