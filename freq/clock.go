package freq

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock gives the current date in milliseconds as a wrapping uint32 tick.
//
// Counters only ever compare two dates by subtraction, so the origin of the
// tick does not matter and wrapping every 49.7 days is harmless, as long as
// a counter is not left idle for more than about 24 days (2^31 ms) and then
// read before it is written again.
type Clock interface {
	// NowMs returns the current date in milliseconds.
	NowMs() uint32
}

// SystemClock is the default clock: monotonic milliseconds since the
// package was initialised. It reads only the monotonic clock (one vDSO
// call, no wall-clock read and no allocation), so it is unaffected by
// wall-clock steps. It may return 0.
var SystemClock Clock = systemClock{}

// processStart carries a monotonic reading, which makes time.Since read
// only the monotonic clock.
var processStart = time.Now()

type systemClock struct{}

// NowMs returns the milliseconds elapsed since the package was initialised,
// truncated to 32 bits.
func (systemClock) NowMs() uint32 {
	return uint32(time.Since(processStart) / time.Millisecond)
}

// nowMs is the system clock without the interface call, for the counters
// bound to SystemClock.
func nowMs() uint32 {
	return uint32(time.Since(processStart) / time.Millisecond)
}

// FakeClock is a Clock that only moves when told to, for deterministic
// tests. It is safe for concurrent use; the zero value reads 0.
type FakeClock struct {
	ms atomic.Uint32
}

// NewFakeClock returns a FakeClock reading ms.
func NewFakeClock(ms uint32) *FakeClock {
	c := &FakeClock{}
	c.ms.Store(ms)
	return c
}

// NowMs returns the date the clock was last set or advanced to.
func (c *FakeClock) NowMs() uint32 { return c.ms.Load() }

// Set moves the clock to ms, forwards or backwards.
func (c *FakeClock) Set(ms uint32) { c.ms.Store(ms) }

// Advance moves the clock ms milliseconds forwards, wrapping at 2^32.
func (c *FakeClock) Advance(ms uint32) { c.ms.Add(ms) }

// cellClock is a Clock whose date is one atomic word in memory, which
// counters load directly instead of making an interface call.
type cellClock interface {
	Clock
	cell() *atomic.Uint32
}

func (c *FakeClock) cell() *atomic.Uint32 { return &c.ms }

// CoarseClock is a Clock read from memory: a goroutine refreshes it from
// the monotonic clock at a fixed resolution, so reading it costs one
// atomic load instead of a clock read (tens of nanoseconds on virtual
// machines). It is HAProxy's now_ms: a date cached once per loop. Its
// dates are those of SystemClock, at most one resolution late.
//
// The refreshing goroutine runs until Close.
type CoarseClock struct {
	ms   atomic.Uint32
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewCoarseClock starts a CoarseClock refreshed every resolution, which
// is raised to a millisecond if below; Close stops it.
func NewCoarseClock(resolution time.Duration) *CoarseClock {
	resolution = max(resolution, time.Millisecond)
	c := &CoarseClock{stop: make(chan struct{}), done: make(chan struct{})}
	c.ms.Store(nowMs())
	go c.run(resolution)
	return c
}

func (c *CoarseClock) run(resolution time.Duration) {
	defer close(c.done)
	t := time.NewTicker(resolution)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.ms.Store(nowMs())
		case <-c.stop:
			return
		}
	}
}

// NowMs returns the date of the last refresh.
func (c *CoarseClock) NowMs() uint32 { return c.ms.Load() }

func (c *CoarseClock) cell() *atomic.Uint32 { return &c.ms }

// Close stops the refreshing goroutine and waits for it to exit; the clock
// then stays at its last date. It is safe to call more than once.
func (c *CoarseClock) Close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return nil
}
