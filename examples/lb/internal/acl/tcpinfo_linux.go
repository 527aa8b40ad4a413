package acl

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// readTCPInfo reads the socket's TCP_INFO; false for a socket that is
// not TCP.
func readTCPInfo(rc syscall.RawConn) (ti tcpInfo, ok bool) {
	_ = rc.Control(func(fd uintptr) {
		i, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return
		}
		ti = tcpInfo{rtt: i.Rtt, rttvar: i.Rttvar, unacked: i.Unacked, sacked: i.Sacked, retrans: i.Retrans,
			fackets: i.Fackets, lost: i.Lost, reorders: i.Reordering}
		ok = true
	})
	return ti, ok
}
