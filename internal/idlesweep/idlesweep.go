// Package idlesweep holds how often xprt's shared idle poller sweeps for
// waits whose socket was closed underneath them (closing a socket takes
// it out of every epoll set without an event, so only a sweep notices).
// It is a package of its own so that the tests of the packages above
// xprt can turn the sweep off, and so tell an explicit Wake's work from
// the sweep's, or make it quick.
package idlesweep

import (
	"sync/atomic"
	"time"
)

// Default is the sweep interval outside tests.
const Default = 2 * time.Second

var every atomic.Int64

func init() { every.Store(int64(Default)) }

// Every returns the sweep interval. A poller reads it when it starts and
// after each sweep.
func Every() time.Duration { return time.Duration(every.Load()) }

// Set changes the sweep interval and returns a function that puts the
// former one back.
func Set(d time.Duration) (restore func()) {
	old := every.Swap(int64(d))
	return func() { every.Store(old) }
}
