//go:build !linux

package balancer

// peerSentFIN reports whether the peer of the TCP socket fd has ended its
// side; elsewhere than Linux it cannot tell, and an inspection waits for
// its delay when a client ends its side in the middle of a ClientHello.
func peerSentFIN(uintptr) bool { return false }
