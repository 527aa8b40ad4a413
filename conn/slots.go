package conn

import (
	"fmt"
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
