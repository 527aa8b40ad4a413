//go:build unix && !linux

package conn

// peerClosedFD can only tell a close with nothing unread here: a FIN
// behind unread bytes is not seen until they are read.
func peerClosedFD(fd int) (closed, unread bool) {
	return peekFD(fd)
}
