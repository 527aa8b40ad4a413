package stick

import "syscall"

// threadCPU returns the CPU time the calling thread has used, in
// nanoseconds, or -1 if it cannot tell. A benchmark locked to its thread
// reports it beside the wall-clock figure, which on a shared machine also
// counts the time other processes held the CPU.
func threadCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru) != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
