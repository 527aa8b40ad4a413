package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
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

// bindCPUs binds every thread of the process to cpus, as cpu-map binds
// HAProxy's: the threads there now, and through them those the runtime
// starts later, which inherit their creator's set.
func bindCPUs(cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("cpu-map: %w", err)
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("cpu-map: binding to CPUs %v: %w", cpus, err)
		}
	}
	return nil
}
