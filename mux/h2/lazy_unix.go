//go:build unix

package h2

import (
	"os"

	"golang.org/x/sys/unix"
)

// rawRecvSupported says lazyReader may receive straight from the socket.
const rawRecvSupported = true

var errAgain error = unix.EAGAIN

// rawRecv is read(2) on a non-blocking socket, retried on EINTR; it
// returns errAgain when nothing is there.
func rawRecv(fd uintptr, p []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), p)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, errAgain
		default:
			return 0, os.NewSyscallError("read", err)
		}
	}
}
