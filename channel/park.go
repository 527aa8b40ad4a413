package channel

import (
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// parkAfter is how long a tunnel direction waits for its source in the
// runtime's netpoller, goroutine and all, before it parks in the shared
// poller and lets the goroutine go. A busy stream pauses for much less
// between reads and never pays the park and wake; an idle one gives its
// stack back soon.
const parkAfter = 100 * time.Millisecond

// mayPark reports whether this direction may leave its goroutine while
// waiting: only inside a tunnel (whose Run waits for both directions),
// on a raw source or one that can say when it holds nothing (TLS),
// holding nothing itself.
func (c *Channel) mayPark() bool {
	return xprt.IdleWaitSupported && c.tun != nil && (c.srcRC != nil || c.idler) && !c.noPark
}

// idleEnough reports whether the source has been silent for parkAfter
// and nothing is held, so the direction should park. A transforming
// source must also hold nothing: its last read ended by the deadline with
// no bytes, which is what the caller has just seen.
func (c *Channel) idleEnough() bool {
	if !c.mayPark() || c.buf != nil || c.pipe != nil || c.output != 0 ||
		mono()-c.lastIn < int64(parkAfter) || c.analyseExpiry() != 0 {
		return false
	}
	_, ok := c.idleSocket()
	return ok
}

// idleSocket returns the socket a parked direction waits on.
func (c *Channel) idleSocket() (syscall.RawConn, bool) {
	if c.srcRC != nil {
		return c.srcRC, true
	}
	return c.src.(xprt.Idler).IdleSocket()
}

// park puts the direction's source in the shared idle poller
// ([xprt.IdleWait]) and reports true when the calling goroutine must now
// return: a readiness event, the read timeout or an interrupt starts a
// new one. It reports false when the direction must go on on this
// goroutine (woken while registering, or parking failed).
func (c *Channel) park() bool {
	if c.isStopped() {
		return false
	}
	// The read timeout wakes a parked direction through the poller's
	// deadline heap, which costs it a slot there rather than a timer.
	var deadline time.Time
	to := c.readTimeout()
	if to > 0 {
		deadline = epoch.Add(time.Duration(c.srcClock.last.Load() + int64(to)))
	}
	rc, _ := c.idleSocket()
	switch err := c.pw.Wait(rc, deadline, c.resume); err {
	case nil:
		// interrupt stores stopped before it wakes, and a half-closed
		// timeout is in force before retime wakes: a wake that came
		// before the wait was registering found nothing to end, and this
		// sees either.
		if c.isStopped() || c.readTimeout() != to {
			c.pw.Wake()
		}
		return true
	case xprt.ErrWoken:
	default:
		// No poller, or a closed or unpollable source: the runtime path
		// reports it.
		c.noPark = true
	}
	return false
}

// resume runs a woken direction on the poller's new goroutine.
func (c *Channel) resume() {
	// The wake counts as activity: the direction looks at its source and
	// waits parkAfter on this goroutine before it may park again.
	c.lastIn = mono()
	c.drive()
}
