//go:build unix

package conn

import (
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pendingWatch waits for a listening socket to hold a client to accept.
//
// A listener sharing [Slots] with others must not take a slot and then
// sit in accept(2) while its own socket is quiet: a busy listener sharing
// the limit would starve behind the idle one's slot. HAProxy only takes a
// slot once the listening socket is readable; so does Accept, through this
// watch. A *net.TCPListener's RawConn cannot wait for readiness, so the
// watch holds a duplicate of the listening descriptor, registered with the
// runtime's poller.
type pendingWatch struct {
	f  *os.File
	rc syscall.RawConn
}

// newPendingWatch returns a watch on ln, or nil where ln offers no
// descriptor to duplicate (Accept then takes its slots before it waits).
func newPendingWatch(ln net.Listener) *pendingWatch {
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return nil
	}
	f, err := fl.File()
	if err != nil {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil
	}
	return &pendingWatch{f: f, rc: rc}
}

// wait returns nil once a client is pending, or an error when the watch
// was closed or its deadline (set by Pause) struck.
func (w *pendingWatch) wait() error {
	var perr error
	err := w.rc.Read(func(fd uintptr) bool {
		fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds[:], 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				perr = err
				return true
			}
			// false: the runtime waits for the next readiness and asks again.
			return n > 0
		}
	})
	if err != nil {
		return err
	}
	return perr
}

// setDeadline wakes (with a past time) or re-arms (zero) a waiting wait.
func (w *pendingWatch) setDeadline(t time.Time) { _ = w.f.SetReadDeadline(t) }

func (w *pendingWatch) close() { _ = w.f.Close() }

// discardFD reads and drops what the socket fd holds, up to max bytes,
// without waiting, and reports how many it dropped.
func discardFD(fd, max int) int {
	var scratch [4096]byte
	n := 0
	for n < max {
		m, _, err := unix.Recvfrom(fd, scratch[:min(max-n, len(scratch))], unix.MSG_DONTWAIT)
		if m <= 0 || err != nil {
			break
		}
		n += m
	}
	return n
}

// peekFD peeks at the socket fd without waiting: eof when the peer
// closed (or reset) with nothing unread, unread when bytes wait.
func peekFD(fd int) (eof, unread bool) {
	var b [1]byte
	for {
		n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false, false
		case err != nil:
			return true, false
		}
		return n == 0, n > 0
	}
}
