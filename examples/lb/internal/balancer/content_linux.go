package balancer

import "golang.org/x/sys/unix"

// tcpCloseWait is Linux's TCP_CLOSE_WAIT: the peer has sent its FIN.
const tcpCloseWait = 8

// peerSentFIN reports whether the peer of the TCP socket fd has ended its
// side, which a peek does not show while bytes are queued before the FIN.
func peerSentFIN(fd uintptr) bool {
	info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	return err == nil && info.State == tcpCloseWait
}
