//go:build !unix

package conn

import (
	"net"
	"time"
)

// pendingWatch is not available here: Accept takes its slots before it
// waits in accept.
type pendingWatch struct{}

func newPendingWatch(net.Listener) *pendingWatch { return nil }
func (*pendingWatch) wait() error                { return nil }
func (*pendingWatch) setDeadline(time.Time)      {}
func (*pendingWatch) close()                     {}

// peerClosedFD cannot peek here: the peer is taken to be there.
func peerClosedFD(int) (closed, unread bool) { return false, false }
