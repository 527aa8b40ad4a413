//go:build !linux

package channel

import "golang.org/x/sys/unix"

// rawRead and rawWrite go through the system's C library wrappers where
// system calls are not a stable interface (macOS), and the calls count
// as blocking for the scheduler like any other.
func rawRead(fd uintptr, p []byte) (int, error) { return unix.Read(int(fd), p) }

func rawWrite(fd uintptr, p []byte) (int, error) { return unix.Write(int(fd), p) }
