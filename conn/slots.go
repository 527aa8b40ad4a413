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
	ch chan struct{}

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
	return &Slots{ch: make(chan struct{}, n)}, nil
}

// Cap is the number of slots; 0 for a nil Slots.
func (s *Slots) Cap() int {
	if s == nil {
		return 0
	}
	return cap(s.ch)
}

// InUse is the number of slots taken.
func (s *Slots) InUse() int {
	if s == nil {
		return 0
	}
	return len(s.ch)
}

// take waits for a free slot until done is closed, counting in waits
// each time it has to wait, and reports whether it got one.
func (s *Slots) take(done <-chan struct{}, waits *atomic.Uint64) bool {
	if s == nil {
		return true
	}
	select {
	case s.ch <- struct{}{}:
		return true
	default:
	}
	waits.Add(1)
	s.nudgeHolders()
	select {
	case s.ch <- struct{}{}:
		return true
	case <-done:
		return false
	}
}

func (s *Slots) give() {
	if s != nil {
		<-s.ch
	}
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
	return n > 1 && cap(s.ch)-len(s.ch) <= n
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
