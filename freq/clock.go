package freq

import (
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
