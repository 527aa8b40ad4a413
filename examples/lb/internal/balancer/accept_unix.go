//go:build unix

package balancer

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// waitPending waits until the listening socket behind rc holds a
// connection to accept, or the wait fails (listener closed or paused).
//
// A listener takes its maxconn slots before it accepts. Taking them while
// no client is pending would let an idle bind sit on a slot that a busy
// bind sharing the limit needs; so an accept loop first waits here for a
// pending client, as HAProxy only takes a slot when the listening socket
// is readable.
func waitPending(rc syscall.RawConn) {
	_ = rc.Read(func(fd uintptr) bool {
		fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds[:], 0)
			if err == unix.EINTR {
				continue
			}
			// false makes the runtime wait for the socket's next
			// readiness, then ask again.
			return err != nil || n > 0
		}
	})
}
