package acl

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// addrIsLocal binds a UDP socket to a and connects it to a, with the
// system calls HAProxy makes; a bind the system refuses as not its own
// says no.
func addrIsLocal(a netip.Addr) (Sample, bool) {
	var sa unix.Sockaddr
	family := unix.AF_INET6
	if a.Is4() || a.Is4In6() {
		family = unix.AF_INET
		sa = &unix.SockaddrInet4{Addr: a.Unmap().As4()}
	} else {
		sa = &unix.SockaddrInet6{Addr: a.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return Sample{}, false
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, sa); err != nil {
		if err == unix.EADDRNOTAVAIL {
			return Bool(false), true
		}
		return Sample{}, false
	}
	return Bool(unix.Connect(fd, sa) == nil), true
}
