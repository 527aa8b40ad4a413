package xprt

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// IdleWait lets the goroutine of an idle connection go. Wait puts the
// connection's socket in a poller shared by the whole process, and the
// caller returns; a new goroutine runs the callback once the socket turns
// readable or hangs up, the deadline passes, or Wake is called. A server
// waiting for a keep-alive client's next request, or a tunnel direction
// waiting for its source, holds this struct instead of a goroutine and
// its stack.
//
// One poller goroutine serves every wait. It is itself parked in the
// runtime's netpoller on its epoll descriptor, so it holds no thread
// while nothing is ready, and it exists only while something waits: an
// idle process, and a test's leak check, sees neither it nor its
// descriptor. The deadlines of the waits sit in one heap, and the epoll
// descriptor's read deadline is kept at the earliest of them, so a wait
// costs a slot in the heap, not a timer of its own.
//
// An IdleWait serves one wait at a time and may be reused once its
// callback started. The zero value is ready for use.
type IdleWait struct {
	ptok  uint64 // registry token while registered, 0 otherwise
	rc    syscall.RawConn
	fn    func()
	state atomic.Int32
	pidx  int32 // 1 + index in the poller's deadline heap, 0 when not in it
}

// IdleWaitSupported says whether this platform has the shared poller
// behind [IdleWait] (Linux). Elsewhere Wait returns an error wrapping
// [errors.ErrUnsupported] and callers keep a goroutine waiting instead.
const IdleWaitSupported = idleSupported

// ErrWoken is returned by [IdleWait.Wait] when the wait was ended (by
// Wake, the socket or the deadline) while it was still registering: the
// caller goes on itself, and the callback does not run.
var ErrWoken = errors.New("xprt: woken while starting to wait")

// The states of a wait.
const (
	stRunning int32 = iota // not waiting: the owner's goroutine runs
	stParking              // Wait is registering with the poller
	stParked               // no goroutine: the poller or Wake starts one
	stWoken                // woken while still registering
)

// epoch anchors the poller's clock: deadlines are nanoseconds since it.
var epoch = time.Now()

func mono() int64 { return int64(time.Since(epoch)) }

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// Wait registers rc (a socket, from SyscallConn or a transport's Raw)
// and returns nil once fn is due to run on a new goroutine when rc turns
// readable or hangs up, when deadline passes (the zero time: never), or
// when Wake is called, whichever comes first; fn then finds out which by
// reading the socket. Nothing is read meanwhile, and a socket closed
// while waiting wakes it within a few seconds. Wait returns an error, and
// fn does not run, when the platform has no such poller
// ([errors.ErrUnsupported]), when rc is nil or cannot be polled, or when
// the wait ended before it was in place ([ErrWoken], which a deadline
// already passed gives at once): the caller goes on by itself then.
func (w *IdleWait) Wait(rc syscall.RawConn, deadline time.Time, fn func()) error {
	if !idleSupported {
		return errIdleWaitUnsupported
	}
	if rc == nil || fn == nil {
		return errIdleWaitNil
	}
	var due int64
	if !deadline.IsZero() {
		if due = int64(deadline.Sub(epoch)); due <= mono() {
			return ErrWoken
		}
	}
	w.rc, w.fn = rc, fn
	w.state.Store(stParking)
	p, tok, err := register(w, due)
	if err != nil {
		w.abandon()
		return err
	}
	if err := p.add(w, tok); err != nil {
		unregister(w, tok)
		w.abandon()
		return err
	}
	if w.state.CompareAndSwap(stParking, stParked) {
		return nil
	}
	w.unpark()
	w.abandon()
	return ErrWoken
}

// abandon ends a wait that did not take place.
func (w *IdleWait) abandon() {
	w.rc, w.fn = nil, nil
	w.state.Store(stRunning)
}

// Wake ends the wait at once: the callback runs on a new goroutine. It
// may be called any number of times, from anywhere, and does nothing
// when nothing waits.
func (w *IdleWait) Wake() {
	for {
		switch w.state.Load() {
		case stParking:
			if w.state.CompareAndSwap(stParking, stWoken) {
				return // Wait sees it and returns ErrWoken
			}
		case stParked:
			if w.state.CompareAndSwap(stParked, stRunning) {
				go w.resume()
				return
			}
		default:
			return
		}
	}
}

func (w *IdleWait) resume() {
	w.unpark()
	fn := w.fn
	w.rc, w.fn = nil, nil
	fn()
}

// unpark undoes Wait's registrations.
func (w *IdleWait) unpark() {
	current().del(w)
	unregister(w, w.ptok)
}

var errIdleWaitNil = errors.New("xprt: IdleWait.Wait needs a socket and a callback")

var errIdleWaitUnsupported = fmt.Errorf("xprt: no idle poller on this platform: %w", errors.ErrUnsupported)
