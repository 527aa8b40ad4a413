//go:build !linux

package channel

import (
	"errors"
	"syscall"
)

// parkSupported is false where there is no epoll: idle directions keep
// their goroutine, parked in the runtime's netpoller through RawConn.
const parkSupported = false

type poller struct{}

// Parked returns how many tunnel directions and IdleWaits are waiting in
// the shared poller; always 0 on this platform.
func Parked() int { return 0 }

var errNoPoller = errors.New("channel: no idle poller on this platform")

func register(parkable, int64) (*poller, uint64, error) { return nil, 0, errNoPoller }
func unregister(parkable, uint64)                       {}
func current() *poller                                  { return nil }
func (*poller) add(parkable, uint64) error              { return errNoPoller }
func (*poller) del(parkable)                            {}

var _ syscall.RawConn
