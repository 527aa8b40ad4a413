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

	// The listeners sharing the slots. While a Slots has one, that
	// listener can starve no other and accepts without first waiting for
	// a client (see Listener.Accept).
	mu      sync.Mutex
	members []*Listener
	shared  atomic.Bool // more than one member
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
// gives the slot back and waits for a client first from now on.
func (s *Slots) join(l *Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members = append(s.members, l)
	s.shared.Store(len(s.members) > 1)
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
	s.shared.Store(len(s.members) > 1)
}
