//go:build !linux

package conn

import (
	"errors"
	"net"
	"syscall"
	"time"
)

func reusePortControl(_, _ string, _ syscall.RawConn) error {
	return errors.New("conn: SO_REUSEPORT is only supported on Linux")
}

// netListenConfig is the net.ListenConfig that opens lc's socket; Go sets
// keepalive on each accepted socket.
func (lc ListenConfig) netListenConfig() net.ListenConfig {
	nlc := net.ListenConfig{KeepAlive: -1}
	if lc.DeferAccept || lc.FastOpen > 0 || lc.UserTimeout > 0 || lc.MaxSeg != 0 || lc.Interface != "" || lc.Transparent || lc.V6Only != V6OnlyDefault {
		nlc.Control = func(_, _ string, _ syscall.RawConn) error {
			return errors.New("conn: DeferAccept, FastOpen, UserTimeout, MaxSeg, Interface, Transparent and V6Only are only supported on Linux")
		}
		return nlc
	}
	if !lc.DisableKeepAlive {
		nlc.KeepAliveConfig = keepAliveOn(lc.KeepAlive)
	}
	if lc.ReusePort {
		nlc.Control = reusePortControl
	}
	return nlc
}

// lingerInherited tells that accepted sockets inherit SO_LINGER from the
// listening socket; here the listener sets it on each accepted socket.
const lingerInherited = false

func setLinger0(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
}

// silentDrop falls back to a reset where the TTL and repair tricks are not
// available.
func silentDrop(c net.Conn, _ int) bool {
	setLinger0(c)
	c.Close()
	return false
}

// setLingerFD makes the coming close of fd send a reset (SO_LINGER 0).
func setLingerFD(fd uintptr) error {
	return syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
}

func setBacklog(net.Listener, int) error {
	return errors.New("conn: Backlog is only supported on Linux")
}

// retune is Linux only.
func retune(ListenConfig, net.Listener, string) error {
	return errors.New("changing the options of an open socket is only supported on Linux")
}

// maxBacklog is never used where stopListening always fails.
const maxBacklog = 1<<31 - 1

// stopListening is only done on Linux.
func stopListening(net.Listener) error {
	return errors.New("conn: stopping a socket's listening is only supported on Linux")
}

// delayAckListener does nothing where TCP_QUICKACK does not exist.
func delayAckListener(net.Listener) {}

// delayAckControl keeps the dialer's Control where TCP_QUICKACK does not
// exist.
func delayAckControl(next func(network, address string, c syscall.RawConn) error) func(string, string, syscall.RawConn) error {
	return next
}

// lowerMSS is Linux only; Listen refuses MaxSeg elsewhere.
func lowerMSS(net.Conn, int) (int, error) { return 0, errors.ErrUnsupported }

// dialOptsControl refuses UserTimeout and FastOpen, Linux only.
func dialOptsControl(time.Duration, bool, func(network, address string, c syscall.RawConn) error) func(string, string, syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error {
		return errors.New("conn: Dialer.UserTimeout and FastOpen are only supported on Linux")
	}
}

func setMark(net.Conn, uint32) error {
	return errors.New("conn: set-mark (SO_MARK) is only supported on Linux")
}
