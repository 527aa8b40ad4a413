//go:build unix

package conn

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// setTOS sets IP_TOS, or IPV6_TCLASS when v6 (an IPv6 address that is
// not IPv4-mapped).
func setTOS(c net.Conn, tos int, v6 bool) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("conn: set-tos: not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("conn: set-tos: %w", err)
	}
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		if v6 {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_TCLASS, tos)
			return
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TOS, tos)
	})
	if err := errors.Join(cerr, serr); err != nil {
		return fmt.Errorf("conn: set-tos: %w", err)
	}
	return nil
}
