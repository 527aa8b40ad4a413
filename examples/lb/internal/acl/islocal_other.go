//go:build !linux

package acl

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
)

// addrIsLocal binds a UDP socket to a and connects it to a, through net
// where the raw system calls differ from Linux's; a bind the system
// refuses as not its own says no.
func addrIsLocal(a netip.Addr) (Sample, bool) {
	ua := &net.UDPAddr{IP: a.Unmap().AsSlice(), Zone: a.Zone()}
	c, err := net.DialUDP("udp", ua, &net.UDPAddr{IP: ua.IP, Port: 9, Zone: ua.Zone})
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			return Bool(false), true
		}
		return Sample{}, false
	}
	_ = c.Close()
	return Bool(true), true
}
