package channel

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// parkable is what waits in the shared poller: a tunnel direction
// (*Channel) or an [IdleWait]. It keeps its registry token and its index
// in the deadline heap, names the socket it waits on, and is woken.
type parkable interface {
	token() *uint64
	heapIdx() *int32
	socket() syscall.RawConn
	wake()
}

func (c *Channel) token() *uint64          { return &c.ptok }
func (c *Channel) heapIdx() *int32         { return &c.pidx }
func (c *Channel) socket() syscall.RawConn { return c.parkRC }

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
	switch err := parkIn(c, &c.pstate, due); err {
	case nil:
		return true
	case ErrWoken:
	default:
		// No poller, or a closed or unpollable source: the runtime path
		// reports it.
		c.noPark = true
	}
	return false
}

// parkIn registers pk, whose state st is stParking, with the poller,
// waking it at due (on mono's clock) unless due is 0, and returns nil
// once it is parked. Otherwise it undoes what it did, leaves st at
// stRunning and returns ErrWoken when pk was woken meanwhile, or why it
// could not park.
func parkIn(pk parkable, st *atomic.Int32, due int64) error {
	p, tok, err := register(pk, due)
	if err != nil {
		st.Store(stRunning)
		return err
	}
	if err := p.add(pk, tok); err != nil {
		unregister(pk, tok)
		st.Store(stRunning)
		return err
	}
	if st.CompareAndSwap(stParking, stParked) {
		return nil
	}
	unpark(pk)
	st.Store(stRunning)
	return ErrWoken
}

// unpark undoes parkIn's registrations.
func unpark(pk parkable) {
	current().del(pk)
	unregister(pk, *pk.token())
}

// wake starts a goroutine for a parked direction; it may be called any
// number of times from anywhere, and does nothing unless parked.
func (c *Channel) wake() {
	if claimWake(&c.pstate) {
		go c.resume()
	}
}

// claimWake moves a parking state to woken (the parker sees it and goes
// on itself) or a parked one to running, and reports true in the second
// case: the caller then starts the goroutine that resumes.
func claimWake(st *atomic.Int32) bool {
	for {
		switch st.Load() {
		case stParking:
			if st.CompareAndSwap(stParking, stWoken) {
				return false
			}
		case stParked:
			if st.CompareAndSwap(stParked, stRunning) {
				return true
			}
		default:
			return false
		}
	}
}

func (c *Channel) resume() {
	unpark(c)
	// The wake counts as activity: the direction looks at its source and
	// waits parkAfter on this goroutine before it may park again.
	c.lastIn = mono()
	c.drive()
}

// IdleWait lets the goroutine of an idle connection go: Wait puts the
// connection's socket in the poller where idle tunnel directions wait,
// and the caller returns; a new goroutine runs the callback once the
// socket turns readable or hangs up, the deadline passes, or Wake is
// called. An HTTP server waiting for a keep-alive client's next request
// holds this struct instead of a goroutine and its stack.
//
// An IdleWait serves one wait at a time and may be reused after its
// callback started. The zero value is ready for use.
type IdleWait struct {
	ptok  uint64
	rc    syscall.RawConn
	fn    func()
	state atomic.Int32
	pidx  int32
}

// ErrWoken is returned by [IdleWait.Wait] when the wait was ended (by
// Wake, the socket or the deadline) while it was still registering: the
// caller goes on itself, and the callback does not run.
var ErrWoken = errors.New("channel: woken while starting to wait")

func (w *IdleWait) token() *uint64          { return &w.ptok }
func (w *IdleWait) heapIdx() *int32         { return &w.pidx }
func (w *IdleWait) socket() syscall.RawConn { return w.rc }

// Wait registers rc (a socket, from SyscallConn or a transport's Raw)
// and returns nil once fn is due to run on a new goroutine when rc turns
// readable or hangs up, when deadline passes (the zero time: never), or
// when Wake is called, whichever comes first; fn then finds out which by
// reading the socket. Nothing else is read meanwhile, and a socket closed
// while waiting wakes it within a few seconds. Wait returns an error, and
// fn does not run, when the platform has no such poller
// ([errors.ErrUnsupported]), when rc cannot be polled, or when the wait
// ended before it was in place ([ErrWoken]): the caller goes on by
// itself then.
func (w *IdleWait) Wait(rc syscall.RawConn, deadline time.Time, fn func()) error {
	if !parkSupported {
		return errIdleWaitUnsupported
	}
	w.rc, w.fn = rc, fn
	w.state.Store(stParking)
	var due int64
	if !deadline.IsZero() {
		if due = int64(deadline.Sub(epoch)); due <= 0 {
			due = 1 // already passed: the poller wakes it at once
		}
	}
	return parkIn(w, &w.state, due)
}

// Wake ends the wait at once: the callback runs on a new goroutine. It
// may be called any number of times, from anywhere, and does nothing
// when nothing waits.
func (w *IdleWait) Wake() { w.wake() }

func (w *IdleWait) wake() {
	if claimWake(&w.state) {
		go w.resume()
	}
}

func (w *IdleWait) resume() {
	unpark(w)
	fn := w.fn
	w.rc, w.fn = nil, nil
	fn()
}

var errIdleWaitUnsupported = fmt.Errorf("channel: no idle poller on this platform: %w", errors.ErrUnsupported)
