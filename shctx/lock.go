package shctx

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// pidMax is Linux's PID_MAX_LIMIT. A lock word above it cannot name a
// process; it also keeps kill(2) from ever seeing a negative pid, which
// would address a process group.
const pidMax = 1 << 22

// Back-off steps of a waiter: busy polls first (the holder usually leaves
// within a few hundred nanoseconds), then yields to other goroutines, then
// yields the thread to the kernel (the holder may be another process, or a
// thread the kernel preempted), and only then sleeps, so that a waiter on a
// stopped or dead owner costs no CPU. Sleeping early would cost a timer's
// granularity whenever a holder is merely descheduled on a busy host.
const (
	spinPolls     = 64
	goschedPolls  = 64
	osYieldPolls  = 256
	minSleep      = 20 * time.Microsecond
	maxSleep      = time.Millisecond
	yieldingPolls = spinPolls + goschedPolls + osYieldPolls
)

// lock takes the shard's lock for this process.
func (c *Cache) lock(s *shard) {
	if atomic.CompareAndSwapUint32(&s.hdr.lock, 0, c.pid) {
		return
	}
	c.lockSlow(s)
}

func (c *Cache) unlock(s *shard) {
	storeOrdered(&s.hdr.lock, 0)
}

func (c *Cache) lockSlow(s *shard) {
	var (
		owner uint32    // the holder we are waiting on
		since time.Time // when we first saw it hold the lock
		sleep = minSleep
	)
	for i := 0; ; i++ {
		v := atomic.LoadUint32(&s.hdr.lock)
		if v == 0 {
			if atomic.CompareAndSwapUint32(&s.hdr.lock, 0, c.pid) {
				return
			}
			continue
		}
		switch {
		case i < spinPolls:
			continue
		case i < spinPolls+goschedPolls:
			runtime.Gosched()
			continue
		case i < yieldingPolls:
			osYield()
			continue
		}
		now := time.Now()
		if v != owner {
			owner, since = v, now
		} else if v != c.pid && now.Sub(since) >= c.stealAfter {
			if !processAlive(v) && atomic.CompareAndSwapUint32(&s.hdr.lock, v, c.pid) {
				c.recover(s, v)
				return
			}
			since = now // check again only after another StealAfter
		}
		time.Sleep(sleep)
		sleep = min(sleep*2, maxSleep)
	}
}

// recover runs right after stealing a shard's lock from dead, a process
// that died holding it.
func (c *Cache) recover(s *shard, dead uint32) {
	s.hdr.steals++
	if atomic.LoadUint32(&s.hdr.dirty) != 0 {
		// The flag stays set while rebuilding, so that if this process dies
		// too, the next one rebuilds again.
		s.reset()
		storeOrdered(&s.hdr.dirty, 0)
		c.logger.Warn("shctx: rebuilt a shard a dead process left half modified", "pid", dead, "path", c.path)
		return
	}
	c.logger.Warn("shctx: took a lock from a dead process", "pid", dead, "path", c.path)
}

// processAlive reports whether pid names a process that may still release
// a lock. A zombie has exited and will never run again, so it counts as
// dead even though kill(2) still finds it.
func processAlive(pid uint32) bool {
	if pid == 0 || pid >= pidMax {
		return false
	}
	err := unix.Kill(int(pid), 0)
	if errors.Is(err, unix.ESRCH) {
		return false
	}
	// nil or EPERM: the process exists.
	stat, rerr := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/stat")
	if rerr != nil {
		return true // no /proc: trust kill
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	switch stat[i+2] {
	case 'Z', 'X':
		return false
	}
	return true
}
