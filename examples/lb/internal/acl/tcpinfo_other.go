//go:build !linux

package acl

import "syscall"

// readTCPInfo finds no TCP_INFO where the system has none in Linux's
// form: the fetches give no sample, as HAProxy's do there.
func readTCPInfo(syscall.RawConn) (tcpInfo, bool) { return tcpInfo{}, false }
