package channel

import (
	"time"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// parkAfter is how long a tunnel direction waits for its source in the
// runtime's netpoller, goroutine and all, before it parks in the shared
// poller and lets the goroutine go. A busy stream pauses for much less
// between reads and never pays the park and wake; an idle one gives its
// stack back soon.
const parkAfter = 100 * time.Millisecond

// The parking states of a direction.
const (
	stRunning int32 = iota // a goroutine runs the direction
	stParking              // it is registering with the poller
	stParked               // no goroutine: the poller or a timer wakes it
	stWoken                // woken while still registering
	stDone                 // the direction ended
)

// mayPark reports whether this direction may leave its goroutine while
// waiting: only inside a tunnel (whose Run waits for both directions),
// on a raw source or one that can say when it holds nothing (TLS),
// holding nothing itself.
func (c *Channel) mayPark() bool {
	return parkSupported && c.tun != nil && (c.srcRC != nil || c.idler) && !c.noPark
}

// idleEnough reports whether the source has been silent for parkAfter
// and nothing is held, so the direction should park. A transforming
// source must also hold nothing: its last read ended by the deadline with
// no bytes, which is what the caller has just seen.
func (c *Channel) idleEnough() bool {
	if !c.mayPark() || c.buf != nil || c.pipe != nil || c.output != 0 ||
		mono()-c.lastIn < int64(parkAfter) {
		return false
	}
	if c.srcRC == nil {
		rc, ok := c.src.(xprt.Idler).IdleSocket()
		if !ok {
			return false
		}
		c.parkRC = rc
	}
	return true
}

// park registers the direction with the shared poller and reports true
// when the calling goroutine must now return: a readiness event, the
// read timeout or an interrupt starts a new one. It reports false when
// the direction must go on on this goroutine (woken while registering, or
// parking failed).
func (c *Channel) park() bool {
	c.pstate.Store(stParking)
	// interrupt stores stopped before it wakes: either it is seen here or
	// its wake sees stParking.
	if c.stopped.Load() {
		c.pstate.Store(stRunning)
		return false
	}
	// The read timeout wakes a parked direction through the poller's
	// deadline heap, which costs it a slot there rather than a timer.
	var due int64
	if to := c.readTimeout(); to > 0 {
		due = c.srcClock.last.Load() + int64(to)
	}
	p, tok, err := register(c, due)
	if err != nil {
		c.noPark = true
		c.pstate.Store(stRunning)
		return false
	}
	if err := p.add(c, tok); err != nil {
		// A closed or unpollable source: let the runtime path report it.
		unregister(c, tok)
		c.noPark = true
		c.pstate.Store(stRunning)
		return false
	}
	if c.pstate.CompareAndSwap(stParking, stParked) {
		return true
	}
	c.unpark()
	c.pstate.Store(stRunning)
	return false
}

// unpark undoes park's registrations.
func (c *Channel) unpark() {
	current().del(c)
	unregister(c, c.ptok)
}

// wake starts a goroutine for a parked direction; it may be called any
// number of times from anywhere, and does nothing unless parked.
func (c *Channel) wake() {
	for {
		switch c.pstate.Load() {
		case stParking:
			if c.pstate.CompareAndSwap(stParking, stWoken) {
				return
			}
		case stParked:
			if c.pstate.CompareAndSwap(stParked, stRunning) {
				go c.resume()
				return
			}
		default:
			return
		}
	}
}

func (c *Channel) resume() {
	c.unpark()
	// The wake counts as activity: the direction looks at its source and
	// waits parkAfter on this goroutine before it may park again.
	c.lastIn = mono()
	c.drive()
}
