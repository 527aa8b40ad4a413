//go:build linux

package xprt

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/proxyblocks/proxyblocks/internal/idlesweep"
)

// idleSupported says whether an IdleWait may leave its goroutine and wait
// in the shared poller.
const idleSupported = true

// poller is one epoll instance shared by every IdleWait in the process,
// and the goroutine that waits on it. The epoll descriptor is itself
// waited on through the runtime's netpoller, so the goroutine holds no
// thread while nothing is ready.
//
// The same goroutine wakes the waits whose deadline falls due: their
// deadlines sit in a heap ordered by time, and the epoll descriptor's
// read deadline is kept at the earliest of them (or at the next sweep),
// so a wait costs a slot in the heap, not a timer of its own. A deadline
// wakes it as a timer would: both are the runtime's timers.
type poller struct {
	epfd int
	file *os.File
	rc   syscall.RawConn

	// Guarded by parkers.mu.
	due     []parkDue // a binary min-heap on when
	armed   int64     // the descriptor's read deadline, on mono's clock
	sweepAt int64     // when run next sweeps
}

// parkDue is a wait's deadline in the poller's heap.
type parkDue struct {
	when int64 // on mono's clock
	c    *IdleWait
}

// parkers is the registry of waits: a token (carried in the epoll event,
// so a reused descriptor number can never wake the wrong wait) leads to
// its IdleWait. The token is a slot in a table, in its low half, and a
// generation, in its high half, that the IdleWait keeps (ptok): an event
// left over from a slot's former occupant does not match its new one. A
// slot costs a wait a word, where a map from token to wait cost several.
// The poller lives only while something waits, so an idle process, and
// every test's leak check, sees neither its goroutine nor its descriptor.
var parkers struct {
	mu sync.Mutex
	// p is the running poller; set under mu, and read without it by a
	// registered wait, for which it cannot change: the poller stops only
	// once nothing waits.
	p     atomic.Pointer[poller]
	slots []*IdleWait // nil where free
	free  []uint32    // the free slots
	n     int         // registered waits
	gen   uint32
}

// lookup returns the wait a token names, or nil; the caller holds
// parkers.mu.
func lookup(tok uint64) *IdleWait {
	if i := uint32(tok); int(i) < len(parkers.slots) {
		if c := parkers.slots[i]; c != nil && c.ptok == tok {
			return c
		}
	}
	return nil
}

// current is the running poller, for a wait registered in it.
func current() *poller { return parkers.p.Load() }

// Parked returns how many [IdleWait]s are waiting in the shared poller,
// holding no goroutine (package channel's idle tunnel directions among
// them).
func Parked() int {
	parkers.mu.Lock()
	defer parkers.mu.Unlock()
	return parkers.n
}

// register adds c to the registry, starting the poller if it is not
// running, and returns the poller and c's token. A non-zero due (on mono's
// clock) is c's deadline: the poller wakes c then.
func register(c *IdleWait, due int64) (*poller, uint64, error) {
	parkers.mu.Lock()
	defer parkers.mu.Unlock()
	if parkers.p.Load() == nil {
		p, err := newPoller()
		if err != nil {
			return nil, 0, err
		}
		parkers.p.Store(p)
		go p.run()
	}
	var slot uint32
	if k := len(parkers.free); k > 0 {
		slot = parkers.free[k-1]
		parkers.free = parkers.free[:k-1]
	} else {
		slot = uint32(len(parkers.slots))
		parkers.slots = append(parkers.slots, nil)
	}
	if parkers.gen++; parkers.gen == 0 {
		parkers.gen = 1 // a token is never 0
	}
	tok := uint64(slot) | uint64(parkers.gen)<<32
	parkers.slots[slot] = c
	parkers.n++
	c.ptok = tok
	p := parkers.p.Load()
	if due != 0 {
		p.push(parkDue{when: due, c: c})
		if due < p.armed {
			p.arm(due)
		}
	}
	return p, tok, nil
}

// unregister removes a token and stops the poller once nothing is parked.
//
// The poller's file is closed after the registry's lock is released:
// Close waits for run's read to return, and run takes that lock inside
// its read when events come, so closing under the lock could deadlock.
func unregister(c *IdleWait, tok uint64) {
	parkers.mu.Lock()
	p := parkers.p.Load()
	if p == nil {
		parkers.mu.Unlock()
		return
	}
	if lookup(tok) == c {
		parkers.slots[uint32(tok)] = nil
		parkers.free = append(parkers.free, uint32(tok))
		parkers.n--
		c.ptok = 0
	}
	if i := c.pidx; i != 0 {
		p.remove(int(i) - 1)
	}
	stop := parkers.n == 0
	if stop {
		parkers.p.Store(nil)
		parkers.slots, parkers.free = nil, nil // as many as were ever parked
	}
	parkers.mu.Unlock()
	if stop {
		_ = p.file.Close() // wakes run, which returns
	}
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("xprt: creating the idle poller: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("xprt: idle poller: %w", err)
	}
	// A non-blocking descriptor given to os.NewFile is registered with the
	// runtime's netpoller; an epoll descriptor is readable when one of its
	// own events is ready.
	f := os.NewFile(uintptr(epfd), "xprt-idle-poller")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("xprt: idle poller: %w", err)
	}
	return &poller{epfd: epfd, file: f, rc: rc, sweepAt: mono() + int64(idlesweep.Every())}, nil
}

// arm sets the descriptor's read deadline, which ends run's wait; the
// caller holds parkers.mu.
func (p *poller) arm(when int64) {
	p.armed = when
	_ = p.file.SetReadDeadline(epoch.Add(time.Duration(when)))
}

// rearm sets the deadline to the earliest due wait or the next
// sweep, whichever comes first.
func (p *poller) rearm() {
	parkers.mu.Lock()
	when := p.sweepAt
	if len(p.due) > 0 && p.due[0].when < when {
		when = p.due[0].when
	}
	p.arm(when)
	parkers.mu.Unlock()
}

// expired appends the waits whose deadline is due at now, taking them
// out of the heap, and reports whether a sweep is due too.
func (p *poller) expired(now int64, due []*IdleWait) ([]*IdleWait, bool) {
	parkers.mu.Lock()
	defer parkers.mu.Unlock()
	for len(p.due) > 0 && p.due[0].when <= now {
		due = append(due, p.due[0].c)
		p.remove(0)
	}
	if now < p.sweepAt {
		return due, false
	}
	p.sweepAt = now + int64(idlesweep.Every())
	return due, true
}

// The heap operations; the caller holds parkers.mu. Each wait keeps its
// index (plus one) so that unregister can take it out.

func (p *poller) push(d parkDue) {
	p.due = append(p.due, d)
	p.up(len(p.due) - 1)
}

func (p *poller) remove(i int) {
	p.due[i].c.pidx = 0
	last := len(p.due) - 1
	if i != last {
		p.due[i] = p.due[last]
		p.due[i].c.pidx = int32(i + 1)
	}
	p.due[last] = parkDue{}
	p.due = p.due[:last]
	if i != last {
		p.down(i)
		p.up(i)
	}
	if cap(p.due) > 64 && len(p.due) < cap(p.due)/4 {
		p.due = append([]parkDue(nil), p.due...)
	}
}

func (p *poller) up(i int) {
	d := p.due[i]
	for i > 0 {
		parent := (i - 1) / 2
		if p.due[parent].when <= d.when {
			break
		}
		p.due[i] = p.due[parent]
		p.due[i].c.pidx = int32(i + 1)
		i = parent
	}
	p.due[i] = d
	d.c.pidx = int32(i + 1)
}

func (p *poller) down(i int) {
	d := p.due[i]
	n := len(p.due)
	for {
		child := 2*i + 1
		if child >= n {
			break
		}
		if r := child + 1; r < n && p.due[r].when < p.due[child].when {
			child = r
		}
		if d.when <= p.due[child].when {
			break
		}
		p.due[i] = p.due[child]
		p.due[i].c.pidx = int32(i + 1)
		i = child
	}
	p.due[i] = d
	d.c.pidx = int32(i + 1)
}

// run wakes the waits whose sockets turn readable (or hung up) until the
// poller is closed.
func (p *poller) run() {
	var evs [128]unix.EpollEvent
	var ready [128]*IdleWait
	var closed, due []*IdleWait
	for {
		p.rearm()
		err := p.rc.Read(func(uintptr) bool {
			for {
				n, err := unix.EpollWait(p.epfd, evs[:], 0)
				if err == unix.EINTR {
					continue
				}
				if n <= 0 {
					return false
				}
				parkers.mu.Lock()
				k := 0
				for i := range n {
					tok := uint64(uint32(evs[i].Fd)) | uint64(uint32(evs[i].Pad))<<32
					if c := lookup(tok); c != nil {
						ready[k] = c
						k++
					}
				}
				parkers.mu.Unlock()
				for i := range k {
					ready[i].Wake()
					ready[i] = nil
				}
				if n < len(evs) {
					return false // drained: the netpoller reports the next edge
				}
			}
		})
		if err == nil {
			continue
		}
		if !isTimeout(err) {
			return // closed by unregister
		}
		var sweepDue bool
		due, sweepDue = p.expired(mono(), due[:0])
		for i, c := range due {
			c.Wake()
			due[i] = nil
		}
		if !sweepDue {
			continue
		}
		closed = sweep(closed[:0])
		for i, c := range closed {
			c.Wake()
			closed[i] = nil
		}
	}
}

// sweep appends the waits whose socket was closed.
func sweep(closed []*IdleWait) []*IdleWait {
	parkers.mu.Lock()
	defer parkers.mu.Unlock()
	for _, c := range parkers.slots {
		if c != nil && c.rc.Control(func(uintptr) {}) != nil {
			closed = append(closed, c)
		}
	}
	return closed
}

// add registers the socket of c for one readiness event.
func (p *poller) add(c *IdleWait, tok uint64) error {
	var cerr error
	err := c.rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{
			Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT,
			Fd:     int32(uint32(tok)),
			Pad:    int32(uint32(tok >> 32)),
		}
		cerr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = cerr
	}
	return err
}

// del removes the socket of c from the poller. A socket closed meanwhile
// left the epoll set by itself, and its descriptor number may already
// belong to another socket, so nothing is done then.
func (p *poller) del(c *IdleWait) {
	_ = c.rc.Control(func(fd uintptr) {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
}
