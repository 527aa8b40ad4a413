//go:build linux && !proxyblocks_nosplice

package buffer

import "golang.org/x/sys/unix"

// spliceFlags are the flags of every splice: MOVE asks the kernel to move
// pages rather than copy them, NONBLOCK keeps the call from sleeping on
// the pipe (the sockets are non-blocking already). SPLICE_F_MORE is left
// out on purpose: it corks the socket and stalls small messages.
const spliceFlags = unix.SPLICE_F_MOVE | unix.SPLICE_F_NONBLOCK

// sysPipe opens a non-blocking close-on-exec pipe and asks for size bytes
// of capacity when size is positive; a refused size keeps the default.
func sysPipe(size int) (rfd, wfd int, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return -1, -1, err
	}
	if size > 0 {
		_, _ = unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, size)
	}
	return fds[0], fds[1], nil
}

func sysPipeSize(wfd int) (int, error) { return unix.FcntlInt(uintptr(wfd), unix.F_GETPIPE_SZ, 0) }

// sysSplice moves up to n bytes from in to out, retrying on EINTR.
func sysSplice(in, out, n int) (int, error) {
	for {
		m, err := unix.Splice(in, nil, out, nil, n, spliceFlags)
		if err == unix.EINTR {
			continue
		}
		return int(m), err
	}
}

func sysWrite(fd int, b []byte) (int, error) { return unix.Write(fd, b) }
func sysRead(fd int, b []byte) (int, error)  { return unix.Read(fd, b) }
func sysClose(fd int) error                  { return unix.Close(fd) }

// SpliceSupported reports whether this build has kernel pipes for
// splice(2): true on Linux unless built with the proxyblocks_nosplice tag.
const SpliceSupported = true
