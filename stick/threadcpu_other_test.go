//go:build !linux

package stick

// threadCPU cannot tell the thread's CPU time on this system.
func threadCPU() int64 { return -1 }
