package shctx

import "golang.org/x/sys/unix"

// osYield gives the CPU to another thread (sched_yield), which a lock
// holder on the same core may need to finish.
func osYield() { _, _, _ = unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// adviseHugePages asks for transparent huge pages; advice only, fine if
// refused.
func adviseHugePages(mem []byte) { _ = unix.Madvise(mem, unix.MADV_HUGEPAGE) }
