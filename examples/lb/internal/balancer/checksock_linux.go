package balancer

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// checkSocket prepares a health check's socket before it connects: with
// TCP_QUICKACK off, the kernel holds back the last ACK of the handshake
// to send it with the check's first bytes. A bare connect check sends
// none and resets the connection as soon as it is up, so the server's
// kernel never completes it and the server's application never accepts
// it: as with HAProxy's checks, which set the same option, a server does
// not log a connection per check. A check that sends something (a PROXY
// header, a TLS hello, an HTTP request) carries the ACK with it. A check
// that waits for the server to speak first (a tcp-check connect followed
// by an expect, smtpchk) leaves the option on.
func checkSocket(network, _ string, c syscall.RawConn) error {
	if network == "unix" {
		return nil // no TCP handshake to shorten
	}
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 0)
	}); cerr != nil {
		return cerr
	}
	return err
}
