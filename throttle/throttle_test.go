package throttle

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestLimiter(t *testing.T) {
	type step struct {
		key   string
		at    time.Duration
		ok    bool
		retry time.Duration
	}
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{"burst then refused, whole seconds to wait", 1, 2, []step{
			{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, false, time.Second}, {"a", 500 * time.Millisecond, false, time.Second},
			{"a", time.Second, true, 0}, {"a", time.Second, false, time.Second},
		}},
		{"keys have their own buckets", 1, 1, []step{
			{"a", 0, true, 0}, {"a", 0, false, time.Second}, {"b", 0, true, 0}, {"b", 0, false, time.Second},
		}},
		{"a slow rate asks for a longer wait", 0.1, 1, []step{
			{"a", 0, true, 0}, {"a", time.Second, false, 9 * time.Second}, {"a", 10 * time.Second, true, 0},
		}},
		{"a refused request takes no token", 2, 1, []step{
			{"a", 0, true, 0}, {"a", 100 * time.Millisecond, false, time.Second}, {"a", 200 * time.Millisecond, false, time.Second},
			{"a", 500 * time.Millisecond, true, 0},
		}},
		{"no rate: no limit", 0, 0, []step{{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, true, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(tt.rate, tt.burst)
			for i, s := range tt.steps {
				ok, retry := l.Allow(s.key, at(s.at))
				if ok != s.ok || retry != s.retry {
					t.Errorf("step %d (%s at %v) = %v, %v; want %v, %v", i, s.key, s.at, ok, retry, s.ok, s.retry)
				}
			}
		})
	}
}

func TestLimiterForgetsIdleKeys(t *testing.T) {
	l := NewLimiter(1, 5)
	for _, k := range []string{"a", "b", "c"} {
		l.Allow(k, t0)
	}
	l.Allow("d", at(10*time.Second)) // before the sweep period: nothing dropped
	if n := l.keys(); n != 4 {
		t.Fatalf("keys = %d, want 4", n)
	}
	l.Allow("a", at(2*sweepEvery)) // every bucket is full again
	if n := l.keys(); n != 1 {
		t.Errorf("keys after the sweep = %d, want 1 (only a)", n)
	}
}

func TestGate(t *testing.T) {
	type step struct {
		key     string
		release int // >0: release the holder admitted at that step (1-based) instead of acquiring
		ok      bool
	}
	tests := []struct {
		name          string
		total, perKey int
		steps         []step
	}{
		{"total cap", 2, 0, []step{{"a", 0, true}, {"b", 0, true}, {"c", 0, false}, {"", 1, true}, {"c", 0, true}}},
		{"per-key cap", 0, 1, []step{{"a", 0, true}, {"a", 0, false}, {"b", 0, true}, {"", 1, true}, {"a", 0, true}}},
		{"both caps", 3, 2, []step{{"a", 0, true}, {"a", 0, true}, {"a", 0, false}, {"b", 0, true}, {"b", 0, false}}},
		{"a second release frees nothing", 1, 0, []step{{"a", 0, true}, {"", 1, true}, {"b", 0, true}, {"", 1, true}, {"c", 0, false}}},
		{"no caps", 0, 0, []step{{"a", 0, true}, {"a", 0, true}, {"a", 0, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGate(tt.total, tt.perKey)
			releases := map[int]func(){}
			for i, s := range tt.steps {
				if s.release > 0 {
					releases[s.release]()
					continue
				}
				release, ok := g.Acquire(s.key)
				if ok != s.ok {
					t.Fatalf("step %d: Acquire(%q) = %v, want %v", i+1, s.key, ok, s.ok)
				}
				releases[i+1] = release
			}
		})
	}
}

func TestPace(t *testing.T) {
	const kib = 1024
	type read struct {
		at time.Duration
		n  int
	}
	tests := []struct {
		name     string
		opts     PaceOptions
		reads    []read
		deadline time.Duration // after t0; -1: none
		cause    error
	}{
		{"no limits", PaceOptions{}, []read{{time.Second, 10}}, -1, nil},
		{"nothing received: the first window", PaceOptions{MinRate: kib, Window: 10 * time.Second}, nil, 10 * time.Second, ErrTooSlow},
		{"slow start: still the first window", PaceOptions{MinRate: kib, Window: 10 * time.Second},
			[]read{{time.Second, kib}}, 10 * time.Second, ErrTooSlow},
		{"a full window in one read lasts a window", PaceOptions{MinRate: kib, Window: 10 * time.Second},
			[]read{{2 * time.Second, 10 * kib}}, 12 * time.Second, ErrTooSlow},
		{"steady at the rate", PaceOptions{MinRate: kib, Window: 10 * time.Second},
			[]read{{5 * time.Second, 5 * kib}, {10 * time.Second, 5 * kib}, {15 * time.Second, 5 * kib}}, 20 * time.Second, ErrTooSlow},
		{"a burst then a trickle", PaceOptions{MinRate: kib, Window: 10 * time.Second},
			[]read{{time.Second, 30 * kib}, {20 * time.Second, 1}}, 11 * time.Second, ErrTooSlow},
		{"overall deadline first", PaceOptions{MinRate: kib, Window: 10 * time.Second, MaxDuration: 15 * time.Second},
			[]read{{10 * time.Second, 100 * kib}}, 15 * time.Second, ErrTooLong},
		{"overall deadline alone", PaceOptions{MaxDuration: time.Minute}, []read{{time.Second, 1}}, time.Minute, ErrTooLong},
		{"rate without a window is off", PaceOptions{MinRate: kib}, nil, -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPace(tt.opts)
			if _, _, ok := p.Deadline(); ok {
				t.Error("a deadline before Start")
			}
			p.Start(t0)
			for _, r := range tt.reads {
				p.Add(at(r.at), r.n)
			}
			got, cause, ok := p.Deadline()
			if tt.deadline < 0 {
				if ok {
					t.Errorf("Deadline() = %v, want none", got.Sub(t0))
				}
				return
			}
			if !ok || !got.Equal(at(tt.deadline)) || !errors.Is(cause, tt.cause) {
				t.Fatalf("Deadline() = %v %v %v, want %v %v", got.Sub(t0), cause, ok, tt.deadline, tt.cause)
			}
			if err := p.Check(got.Add(-time.Nanosecond)); err != nil {
				t.Errorf("Check just before the deadline = %v", err)
			}
			if err := p.Check(got); !errors.Is(err, tt.cause) {
				t.Errorf("Check at the deadline = %v, want %v", err, tt.cause)
			}
		})
	}
}

// TestPaceSamplesStayBounded: a long upload of many small reads keeps a bounded history.
func TestPaceSamplesStayBounded(t *testing.T) {
	p := NewPace(PaceOptions{MinRate: 1000, Window: 10 * time.Second})
	p.Start(t0)
	for i := 1; i <= 100000; i++ {
		p.Add(at(time.Duration(i)*time.Millisecond), 10) // 10 kB/s, 100 s
	}
	if len(p.samples) > 2*samplesPerWindow {
		t.Errorf("%d samples kept", len(p.samples))
	}
	if err := p.Check(at(100 * time.Second)); err != nil {
		t.Errorf("Check = %v for an upload at ten times the rate", err)
	}
	// It stops: the last window still holds 10x the minimum, so it fails 9 s after the last read, give or
	// take the sample merging (a 64th of the window).
	got, _, _ := p.Deadline()
	if d := got.Sub(at(100 * time.Second)); d < 9*time.Second || d > 9*time.Second+10*time.Second/samplesPerWindow {
		t.Errorf("deadline %v after the last read, want about 9s", d)
	}
}
