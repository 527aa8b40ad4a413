// Package ring is a bounded buffer of messages that keeps the newest: a
// write makes room by dropping the oldest messages, unless a reader has
// yet to read the oldest one, in which case the write fails.
//
// The room a message takes is counted as HAProxy's rings count it: a
// varint length, the message and a reader-count byte, in a buffer of
// the ring's size that also holds one leading count byte. So a ring of
// a given size keeps the same messages as HAProxy's ring of that size.
package ring

import "sync"

// Ring is a bounded message buffer, safe for concurrent use.
type Ring struct {
	mu   sync.Mutex
	size int
	used int      // bytes taken, the leading count byte included
	msgs [][]byte // oldest first
	// first is the sequence number of msgs[0]; the next message
	// written gets first+len(msgs).
	first   uint64
	readers map[*Reader]struct{}
	// notify is closed, and replaced, by each successful write.
	notify chan struct{}
}

// New returns an empty ring of size bytes.
func New(size int) *Ring {
	return &Ring{size: size, used: 1, readers: map[*Reader]struct{}{}, notify: make(chan struct{})}
}

// varintBytes is how many bytes HAProxy's varint encoding of n takes:
// one below 240, then 7 more bits a byte after the first 4.
func varintBytes(n uint64) int {
	if n < 240 {
		return 1
	}
	n = (n - 240) >> 4
	b := 2
	for n >= 128 {
		n = (n - 128) >> 7
		b++
	}
	return b
}

func cost(n int) int { return varintBytes(uint64(n)) + n + 1 }

// Write appends a copy of msg, dropping the oldest messages to make
// room. It reports false, leaving the ring as it was but for the
// messages already dropped, when msg cannot fit in the ring at all or
// when a reader holds the oldest message.
func (r *Ring) Write(msg []byte) bool {
	need := cost(len(msg))
	r.mu.Lock()
	defer r.mu.Unlock()
	if need+1 > r.size {
		return false
	}
	for r.size-r.used < need {
		if len(r.msgs) == 0 || r.heldLocked(r.first) {
			return false
		}
		r.used -= cost(len(r.msgs[0]))
		r.msgs[0] = nil
		r.msgs = r.msgs[1:]
		r.first++
	}
	r.msgs = append(r.msgs, append([]byte(nil), msg...))
	r.used += need
	close(r.notify)
	r.notify = make(chan struct{})
	return true
}

// heldLocked reports whether a reader waits at message seq.
func (r *Ring) heldLocked(seq uint64) bool {
	for rd := range r.readers {
		if rd.next == seq {
			return true
		}
	}
	return false
}

// Len returns the number of messages held.
func (r *Ring) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// Reader reads a ring's messages in order. While attached, it keeps the
// ring from dropping the message it is to read next.
type Reader struct {
	r    *Ring
	next uint64
}

// NewReader attaches a reader at the oldest message, or after the
// newest one when seekNew is set.
func (r *Ring) NewReader(seekNew bool) *Reader {
	r.mu.Lock()
	defer r.mu.Unlock()
	rd := &Reader{r: r, next: r.first}
	if seekNew {
		rd.next = r.first + uint64(len(r.msgs))
	}
	r.readers[rd] = struct{}{}
	return rd
}

// Next appends the messages not read yet to dst, at most max of them
// (all when max <= 0), and returns dst with a channel closed once a
// new message is written. The messages must not be modified.
func (rd *Reader) Next(dst [][]byte, max int) ([][]byte, <-chan struct{}) {
	r := rd.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if rd.next < r.first {
		rd.next = r.first
	}
	start := int(rd.next - r.first)
	n := len(r.msgs) - start
	if max > 0 && n > max {
		n = max
	}
	dst = append(dst, r.msgs[start:start+n]...)
	rd.next += uint64(n)
	return dst, r.notify
}

// Close detaches the reader.
func (rd *Reader) Close() {
	rd.r.mu.Lock()
	defer rd.r.mu.Unlock()
	delete(rd.r.readers, rd)
}
