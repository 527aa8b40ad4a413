//go:build !linux

package conn

import (
	"errors"
	"net"
	"syscall"
)

func reusePortControl(_, _ string, _ syscall.RawConn) error {
	return errors.New("conn: SO_REUSEPORT is only supported on Linux")
}

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
