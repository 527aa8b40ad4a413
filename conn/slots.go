package conn

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Slots is a connection limit shared by several listeners: a frontend's
// maxconn across all its bind lines, or the process's global maxconn
// across every frontend. A listener given a Slots ([ListenConfig.Slots])
// takes one before each accept and gives it back when the connection
// closes; while none is free, every listener sharing it stops accepting
// and leaves clients in the kernel's backlog, as HAProxy pauses its
// listeners at maxconn. A Slots is safe for concurrent use; a nil *Slots
// is no limit.
type Slots struct {
	// limit is the number of slots, used how many are taken; wake is
	// closed, and replaced, when a slot frees or the limit grows while
	// takers wait (waiters counts them).
	smu     sync.Mutex
	limit   int
	used    int
	waiters int
	wake    chan struct{}

	// The listeners sharing the slots (see Listener.Accept): while free
	// slots outnumber them, none can starve another, and each takes its
	// slots before a client comes; a listener that finds none free wakes
	// those waiting in accept(2) with slots taken, so they give them
	// back and wait for a client first.
	mu      sync.Mutex
	members []*Listener
	n       atomic.Int32 // len(members)
}

// NewSlots returns a limit of n connections alive at once. n must be
// positive.
func NewSlots(n int) (*Slots, error) {
	if n <= 0 {
		return nil, fmt.Errorf("conn: connection slots: need a positive count, got %d", n)
	}
	return &Slots{limit: n, wake: make(chan struct{})}, nil
}

// Cap is the number of slots; 0 for a nil Slots.
func (s *Slots) Cap() int {
	if s == nil {
		return 0
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.limit
}

// InUse is the number of slots taken.
func (s *Slots) InUse() int {
	if s == nil {
		return 0
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.used
}

// SetCap changes the number of slots to n, as HAProxy's "set maxconn"
// does at run time: a larger limit lets the listeners waiting for a slot
// accept at once; a smaller one closes no connection, and the listeners
// accept again once the connections alive have fallen below it. 0, as
// HAProxy's frontend maxconn 0, accepts nothing until a larger limit
// comes.
func (s *Slots) SetCap(n int) error {
	if n < 0 {
		return fmt.Errorf("conn: connection slots: need a count of 0 or more, got %d", n)
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	if n > s.limit {
		s.wakeLocked()
	}
	s.limit = n
	return nil
}

// wakeLocked wakes the takers waiting for a slot, if any. Called with
// s.smu held.
func (s *Slots) wakeLocked() {
	if s.waiters > 0 {
		close(s.wake)
		s.wake = make(chan struct{})
		s.waiters = 0
	}
}

// tryTake takes a slot if one is free; when none is, it returns the
// channel closed once one may be.
func (s *Slots) tryTake() (bool, <-chan struct{}) {
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.used < s.limit {
		s.used++
		return true, nil
	}
	s.waiters++
	return false, s.wake
}

// take waits for a free slot until done is closed, counting in waits
// each time it has to wait, and reports whether it got one.
func (s *Slots) take(done <-chan struct{}, waits *atomic.Uint64) bool {
	if s == nil {
		return true
	}
	ok, wake := s.tryTake()
	if ok {
		return true
	}
	waits.Add(1)
	s.nudgeHolders()
	for {
		select {
		case <-wake:
		case <-done:
			return false
		}
		if ok, wake = s.tryTake(); ok {
			return true
		}
	}
}

func (s *Slots) give() {
	if s == nil {
		return
	}
	s.smu.Lock()
	s.used--
	if s.used < s.limit {
		s.wakeLocked()
	}
	s.smu.Unlock()
}

// join adds l to the listeners sharing s. A listener already waiting in
// accept(2) with a slot taken, as a lone member may, is woken so that it
// looks again whether it must wait for a client first.
func (s *Slots) join(l *Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members = append(s.members, l)
	s.n.Store(int32(len(s.members)))
	if len(s.members) == 2 {
		s.members[0].nudge()
	}
}

// leave removes l from the listeners sharing s.
func (s *Slots) leave(l *Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.members, l); i >= 0 {
		s.members = slices.Delete(s.members, i, i+1)
	}
	s.n.Store(int32(len(s.members)))
}

// scarce reports whether a listener must wait for a client before it
// takes a slot: others share s, and no more slots are free than there are
// listeners, which could each sit on one in accept(2).
func (s *Slots) scarce() bool {
	n := int(s.n.Load())
	if n <= 1 {
		return false
	}
	s.smu.Lock()
	free := s.limit - s.used
	s.smu.Unlock()
	return free <= n
}

// nudgeHolders wakes the listeners sharing s that sit in accept(2) with
// slots taken and no client yet, so that they give them back.
func (s *Slots) nudgeHolders() {
	if s.n.Load() < 2 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.members {
		if m.holding.Load() {
			m.nudge()
		}
	}
}
