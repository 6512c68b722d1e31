package throttle

import (
	"errors"
	"fmt"
	"time"
)

// Errors of Pace.Check; test with errors.Is.
var (
	// ErrTooSlow means an upload received less than the minimum rate over the last window.
	ErrTooSlow = errors.New("upload slower than the minimum rate")
	// ErrTooLong means an upload did not complete within its overall deadline.
	ErrTooLong = errors.New("upload took longer than its deadline")
)

// samplesPerWindow bounds the samples a Pace keeps: reads closer together than window/samplesPerWindow are
// merged into one sample, timed at the later read. Merging times bytes later than they came, so the rate
// check is lenient by at most that slice of the window, never stricter.
const samplesPerWindow = 64

// PaceOptions sets an upload's limits. A zero value checks nothing.
type PaceOptions struct {
	// MinRate is the fewest bytes per second an upload must average over every Window once the first Window
	// has passed; 0 disables the check.
	MinRate int64
	// Window is the span the rate is measured over. Required with MinRate.
	Window time.Duration
	// MaxDuration bounds the whole upload; 0 disables it.
	MaxDuration time.Duration
}

// Pace tracks one upload body: bytes received over time, from Start. It is not safe for concurrent use
// (one body is read by one goroutine at a time).
type Pace struct {
	opts    PaceOptions
	started bool
	start   time.Time
	total   int64
	// samples are (time, bytes received up to then), in time order; samples[0] is the oldest still needed
	// to compute the rate deadline.
	samples []sample
}

type sample struct {
	t     time.Time
	total int64
}

// NewPace returns a Pace with opts; it counts nothing until Start.
func NewPace(opts PaceOptions) *Pace {
	if opts.MinRate > 0 && opts.Window <= 0 {
		opts.MinRate = 0
	}
	return &Pace{opts: opts}
}

// Started reports whether Start was called.
func (p *Pace) Started() bool { return p.started }

// Start starts the clock at now; later calls do nothing.
func (p *Pace) Start(now time.Time) {
	if p.started {
		return
	}
	p.started, p.start = true, now
	p.samples = []sample{{t: now}}
}

// Add records n bytes received at now (a no-op before Start).
func (p *Pace) Add(now time.Time, n int) {
	if !p.started || n <= 0 {
		return
	}
	p.total += int64(n)
	k := len(p.samples)
	if k >= 2 && now.Sub(p.samples[k-2].t) < p.opts.Window/samplesPerWindow {
		p.samples[k-1] = sample{t: now, total: p.total}
	} else {
		p.samples = append(p.samples, sample{t: now, total: p.total})
	}
	// Samples before the first one above total - MinRate*Window are never needed again: total only grows.
	if i := p.firstAbove(); i > 0 {
		p.samples = append(p.samples[:0], p.samples[i:]...)
	}
}

// firstAbove is the index of the first sample holding more than total - MinRate*Window bytes.
func (p *Pace) firstAbove() int {
	if p.opts.MinRate <= 0 {
		return len(p.samples) - 1
	}
	need := int64(float64(p.opts.MinRate) * p.opts.Window.Seconds())
	for i, s := range p.samples {
		if s.total > p.total-need {
			return i
		}
	}
	return len(p.samples) - 1
}

// Deadline returns when the upload fails if no further byte arrives, and the error it fails with: the
// earlier of the rate deadline (the time the last Window would hold less than MinRate*Window bytes, never
// before the first Window has passed) and the overall deadline. ok is false when nothing bounds it (no
// limits, or not started).
func (p *Pace) Deadline() (at time.Time, cause error, ok bool) {
	if !p.started {
		return time.Time{}, nil, false
	}
	if p.opts.MinRate > 0 {
		at = p.samples[p.firstAbove()].t.Add(p.opts.Window)
		if first := p.start.Add(p.opts.Window); at.Before(first) {
			at = first
		}
		cause, ok = ErrTooSlow, true
	}
	if p.opts.MaxDuration > 0 {
		if end := p.start.Add(p.opts.MaxDuration); !ok || end.Before(at) {
			at, cause, ok = end, ErrTooLong, true
		}
	}
	return at, cause, ok
}

// Check returns ErrTooSlow or ErrTooLong (wrapped with the limit) when the upload has failed by now, else nil.
func (p *Pace) Check(now time.Time) error {
	at, cause, ok := p.Deadline()
	if !ok || now.Before(at) {
		return nil
	}
	if errors.Is(cause, ErrTooLong) {
		return fmt.Errorf("%w of %v", ErrTooLong, p.opts.MaxDuration)
	}
	return fmt.Errorf("%w of %d bytes/s over %v", ErrTooSlow, p.opts.MinRate, p.opts.Window)
}
