//go:build !linux

package xprt

import "errors"

// idleSupported is false where there is no epoll: IdleWait.Wait returns
// an error, and callers keep a goroutine waiting.
const idleSupported = false

type poller struct{}

// Parked returns how many [IdleWait]s are waiting in the shared poller;
// always 0 on this platform.
func Parked() int { return 0 }

var errNoPoller = errors.New("xprt: no idle poller on this platform")

func register(*IdleWait, int64) (*poller, uint64, error) { return nil, 0, errNoPoller }
func unregister(*IdleWait, uint64)                       {}
func current() *poller                                   { return nil }
func (*poller) add(*IdleWait, uint64) error              { return errNoPoller }
func (*poller) del(*IdleWait)                            {}
