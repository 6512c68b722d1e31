package throttle

import "sync"

// Gate caps concurrent holders: at most total overall and perKey for one key (0: no cap of that kind). A
// nil *Gate admits everyone. It is safe for concurrent use.
type Gate struct {
	total, perKey int

	mu    sync.Mutex
	n     int            // holders
	byKey map[string]int // holders by key; keys without holders are absent
}

// NewGate returns a Gate, or nil when neither cap is set (both 0).
func NewGate(total, perKey int) *Gate {
	if total <= 0 && perKey <= 0 {
		return nil
	}
	return &Gate{total: max(total, 0), perKey: max(perKey, 0), byKey: map[string]int{}}
}

// Acquire admits one holder for key unless a cap is reached. When admitted, release must be called once the
// holder is done (calling it again does nothing); when not, release is a no-op.
func (g *Gate) Acquire(key string) (release func(), ok bool) {
	if g == nil {
		return func() {}, true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if (g.total > 0 && g.n >= g.total) || (g.perKey > 0 && g.byKey[key] >= g.perKey) {
		return func() {}, false
	}
	g.n++
	g.byKey[key]++
	var once sync.Once
	return func() { once.Do(func() { g.release(key) }) }, true
}

func (g *Gate) release(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.byKey[key]--; g.byKey[key] <= 0 {
		delete(g.byKey, key)
	}
}

// Held returns the number of holders.
func (g *Gate) Held() int {
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}
