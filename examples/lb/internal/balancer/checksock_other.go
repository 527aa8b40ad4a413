//go:build !linux

package balancer

import "syscall"

// checkSocket prepares a health check's socket before it connects; only
// Linux has TCP_QUICKACK, so elsewhere a check's connection is completed
// and the server accepts it.
func checkSocket(_, _ string, _ syscall.RawConn) error { return nil }
