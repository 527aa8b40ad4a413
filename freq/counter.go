package freq

import (
	"sync/atomic"
	"time"
)

// second is the period of a Counter, in milliseconds. Being a constant, it
// lets the compiler turn the divisions of Counter's reads into multiplies.
const second = 1000

// clockFast tells how to read clock without an interface call: from its
// date word, or as the system clock.
func clockFast(clock Clock) (cell *atomic.Uint32, sys bool) {
	if cc, ok := clock.(cellClock); ok {
		return cc.cell(), false
	}
	_, sys = clock.(systemClock)
	return nil, sys
}

// Counter counts events per second on a Clock. It is a Ctr with a
// one-second period and its own clock; all methods are safe for concurrent
// use, lock-free and allocation-free. The zero value counts on
// SystemClock.
type Counter struct {
	ctr   Ctr
	cell  *atomic.Uint32 // the clock's date word, when it has one
	sys   bool           // clock is SystemClock
	clock Clock
}

// NewCounter returns a per-second counter reading dates from clock, or
// from SystemClock when clock is nil.
func NewCounter(clock Clock) *Counter {
	if clock == nil {
		clock = SystemClock
	}
	cell, sys := clockFast(clock)
	return &Counter{cell: cell, sys: sys, clock: clock}
}

func (c *Counter) now() uint32 {
	if c.cell != nil {
		return c.cell.Load()
	}
	if c.sys || c.clock == nil {
		return nowMs()
	}
	return c.clock.NowMs()
}

// Add counts n events now and returns the count of the current second.
func (c *Counter) Add(n uint32) uint32 { return c.ctr.Update(c.now(), second, n) }

// Rate returns the events over the last second, interpolated as Ctr.Rate
// describes.
func (c *Counter) Rate() uint32 {
	return c.ctr.rateAt(c.now(), second)
}

// Remaining returns how many more events fit under limit events per
// second now; 0 once the limit is reached.
func (c *Counter) Remaining(limit uint32) uint32 {
	return remaining(c.ctr.totalAt(c.now(), second, 0), second, limit)
}

// NextEventDelay returns how long to wait before one more event fits under
// limit events per second: 0 when allowed now, at least a millisecond
// otherwise.
func (c *Counter) NextEventDelay(limit uint32) time.Duration {
	return time.Duration(nextEventDelay(c.ctr.totalAt(c.now(), second, 0), second, limit)) * time.Millisecond
}

// Allow reports whether one more event fits under limit events per second
// now, and counts it if so. The check and the count are two steps, so
// goroutines calling Allow at the same instant may overshoot the limit by
// at most their number, as HAProxy's own limits do.
func (c *Counter) Allow(limit uint32) bool {
	now := c.now()
	if remaining(c.ctr.totalAt(now, second, 0), second, limit) == 0 {
		return false
	}
	c.ctr.Update(now, second, 1)
	return true
}

// Ctr returns the underlying raw counter, for snapshots and restores. Its
// period is 1000 ms.
func (c *Counter) Ctr() *Ctr { return &c.ctr }

// Period counts events over a period of any number of milliseconds on a
// Clock. All methods are safe for concurrent use, lock-free and
// allocation-free. The zero value counts over MinPeriod on SystemClock;
// NewPeriod sets the period.
type Period struct {
	ctr    Ctr
	period uint32
	cell   *atomic.Uint32
	sys    bool
	clock  Clock
}

// NewPeriod returns a counter over periods of periodMs milliseconds,
// reading dates from clock, or from SystemClock when clock is nil.
// periodMs is kept within [MinPeriod, MaxPeriod].
func NewPeriod(clock Clock, periodMs uint32) *Period {
	if clock == nil {
		clock = SystemClock
	}
	cell, sys := clockFast(clock)
	return &Period{period: clampPeriod(periodMs), cell: cell, sys: sys, clock: clock}
}

func (p *Period) now() uint32 {
	if p.cell != nil {
		return p.cell.Load()
	}
	if p.sys || p.clock == nil {
		return nowMs()
	}
	return p.clock.NowMs()
}

// PeriodMs returns the period in milliseconds.
func (p *Period) PeriodMs() uint32 { return clampPeriod(p.period) }

// Add counts n events now and returns the count of the current period.
func (p *Period) Add(n uint32) uint32 { return p.ctr.Update(p.now(), p.PeriodMs(), n) }

// Rate returns the events over the last period, interpolated as Ctr.Rate
// describes.
func (p *Period) Rate() uint32 {
	return p.ctr.rateAt(p.now(), p.PeriodMs())
}

// Remaining returns how many more events fit under limit events per period
// now; 0 once the limit is reached.
func (p *Period) Remaining(limit uint32) uint32 {
	period := p.PeriodMs()
	return remaining(p.ctr.totalAt(p.now(), period, 0), period, limit)
}

// NextEventDelay returns how long to wait before one more event fits under
// limit events per period: 0 when allowed now, at least a millisecond
// otherwise.
func (p *Period) NextEventDelay(limit uint32) time.Duration {
	period := p.PeriodMs()
	return time.Duration(nextEventDelay(p.ctr.totalAt(p.now(), period, 0), period, limit)) * time.Millisecond
}

// Allow reports whether one more event fits under limit events per period
// now, and counts it if so, with the same overshoot bound as
// Counter.Allow.
func (p *Period) Allow(limit uint32) bool {
	now, period := p.now(), p.PeriodMs()
	if remaining(p.ctr.totalAt(now, period, 0), period, limit) == 0 {
		return false
	}
	p.ctr.Update(now, period, 1)
	return true
}

// Ctr returns the underlying raw counter, for snapshots and restores. Its
// period is PeriodMs.
func (p *Period) Ctr() *Ctr { return &p.ctr }
