package main

import (
	"fmt"
	"syscall"
)

// setFileLimit sets the open file limit to n, as HAProxy's ulimit-n: the
// soft limit to n, the hard one to n or, when higher, the hard limit the
// process started with. When the system refuses, the soft limit is raised
// as far as the hard one allows and the error says where it stands.
func setFileLimit(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("cannot read the file limit: %w", err)
	}
	want := syscall.Rlimit{Cur: uint64(n), Max: max(lim.Max, uint64(n))}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return nil
	}
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return fmt.Errorf("cannot raise FD limit to %d, limit is %d (ulimit-n)", n, lim.Cur)
}
