//go:build !unix

package balancer

import "syscall"

// waitPending returns at once where the listening socket cannot be
// polled: a listener then holds its slots while it waits in accept.
func waitPending(syscall.RawConn) {}
