// Package buffer holds the storage a stream uses while bytes are in flight:
// [Buffer], a fixed-size ring with a rewrite reserve, handed out by a
// bounded [Pool]; and [Pipe], a kernel pipe for splice(2), handed out by a
// [PipePool] with a cap on pipes in use.
//
// The layout follows HAProxy's struct buffer: a ring of Size bytes, the
// data starting at Head and running for Len bytes, wrapping at most once
// around the end of the area. Views of the data and of the free space are
// returned as at most two contiguous slices, so a reader can fill the free
// space with one read(2) and a writer can send the data with one write(2),
// without copying.
//
// Both pools exist so an idle connection holds nothing: a channel borrows a
// buffer or a pipe when bytes arrive and gives it back once they have left.
// A warm pool hands buffers out and takes them back without allocating.
//
// Pipes exist on Linux only, where splice(2) does. Elsewhere [NewPipe] and
// [PipePool.Get] return an error wrapping [errors.ErrUnsupported], and a
// channel moves the bytes through buffers.
package buffer

import (
	"errors"
	"fmt"
	"io"
)

// DefaultSize is the buffer size used when none is given, HAProxy's
// tune.bufsize default.
const DefaultSize = 16384

// DefaultReserve is the rewrite reserve used when none is given, HAProxy's
// tune.maxrewrite default.
const DefaultReserve = 1024

// ErrFull is returned by [Buffer.Write] when not all bytes fit.
var ErrFull = errors.New("buffer: full")

// ErrRange is returned when an offset or length falls outside the data or
// the free space of a buffer.
var ErrRange = errors.New("buffer: offset or length out of range")

// ErrNoRoom is returned by [Buffer.Replace] when the replacement would not
// fit in the buffer.
var ErrNoRoom = errors.New("buffer: no room for the rewrite")

// Buffer is a ring of bytes. The zero value is an empty buffer of size 0;
// use [New] or a [Pool] to get one with storage.
//
// A Buffer is not safe for concurrent use.
type Buffer struct {
	area    []byte
	head    int
	data    int
	reserve int

	pool *Pool
	// free is true while the buffer sits in its pool, so a second Put of
	// the same buffer is noticed instead of handing it out twice.
	free bool
}

// New returns an unpooled buffer of size bytes (DefaultSize when size is
// not positive) with the default rewrite reserve, clamped to half the size.
func New(size int) *Buffer {
	if size <= 0 {
		size = DefaultSize
	}
	b := &Buffer{area: make([]byte, size)}
	b.SetReserve(DefaultReserve)
	return b
}

// Size is the capacity of the buffer.
func (b *Buffer) Size() int { return len(b.area) }

// Len is the number of bytes held.
func (b *Buffer) Len() int { return b.data }

// Head is the offset in the area of the first byte held.
func (b *Buffer) Head() int { return b.head }

// Room is the number of bytes that may still be added.
func (b *Buffer) Room() int { return len(b.area) - b.data }

// IsEmpty reports whether the buffer holds no byte.
func (b *Buffer) IsEmpty() bool { return b.data == 0 }

// IsFull reports whether the buffer has no room left.
func (b *Buffer) IsFull() bool { return b.data == len(b.area) }

// Reserve is the rewrite reserve: the part of the buffer that incoming
// data may not fill while it still has to be analysed, so that an analyser
// can grow it (add a header, say) without running out of room.
func (b *Buffer) Reserve() int { return b.reserve }

// SetReserve sets the rewrite reserve and returns the value kept: negative
// values become 0 and values above half the size are clamped to half the
// size, as HAProxy clamps tune.maxrewrite.
func (b *Buffer) SetReserve(n int) int {
	n = max(n, 0)
	n = min(n, len(b.area)/2)
	b.reserve = n
	return n
}

// tail is the offset in the area just after the last byte held.
func (b *Buffer) tail() int {
	t := b.head + b.data
	if t >= len(b.area) {
		t -= len(b.area)
	}
	return t
}

// Data returns the bytes held as at most two contiguous slices of the
// area, in order. The second is empty unless the data wraps. The slices
// alias the buffer and stay valid until the next change.
func (b *Buffer) Data() (first, second []byte) {
	end := b.head + b.data
	if end <= len(b.area) {
		return b.area[b.head:end], nil
	}
	return b.area[b.head:], b.area[:end-len(b.area)]
}

// Free returns the free space as at most two contiguous slices of the
// area, in the order bytes are appended. Write into them, then call
// [Buffer.Add] with the number of bytes written.
func (b *Buffer) Free() (first, second []byte) {
	if b.data == len(b.area) {
		return nil, nil
	}
	t := b.tail()
	if t >= b.head {
		return b.area[t:], b.area[:b.head]
	}
	return b.area[t:b.head], nil
}

// Add commits n bytes written into the free space returned by
// [Buffer.Free].
func (b *Buffer) Add(n int) error {
	if n < 0 || n > b.Room() {
		return fmt.Errorf("%w: add %d bytes with %d free", ErrRange, n, b.Room())
	}
	b.data += n
	return nil
}

// Del consumes n bytes from the head. When the buffer becomes empty its
// head returns to the start of the area, so the next fill is contiguous.
func (b *Buffer) Del(n int) error {
	if n < 0 || n > b.data {
		return fmt.Errorf("%w: delete %d bytes of %d", ErrRange, n, b.data)
	}
	b.data -= n
	if b.data == 0 {
		b.head = 0
		return nil
	}
	b.head += n
	if b.head >= len(b.area) {
		b.head -= len(b.area)
	}
	return nil
}

// Reset empties the buffer.
func (b *Buffer) Reset() {
	b.head, b.data = 0, 0
}

// Write appends p, wrapping around the end of the area. When p does not
// fit, it appends what fits and returns ErrFull.
func (b *Buffer) Write(p []byte) (int, error) {
	f1, f2 := b.Free()
	n := copy(f1, p)
	n += copy(f2, p[n:])
	b.data += n
	if n < len(p) {
		return n, fmt.Errorf("%w: wrote %d of %d bytes", ErrFull, n, len(p))
	}
	return n, nil
}

// Read copies bytes from the head into p and consumes them. It returns
// io.EOF when the buffer is empty.
func (b *Buffer) Read(p []byte) (int, error) {
	if b.data == 0 {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := b.Peek(0, p)
	_ = b.Del(n)
	return n, nil
}

// Peek copies bytes starting off bytes after the head into p without
// consuming them, and returns how many it copied.
func (b *Buffer) Peek(off int, p []byte) int {
	if off < 0 || off >= b.data {
		return 0
	}
	d1, d2 := b.Data()
	n := 0
	if off < len(d1) {
		n = copy(p, d1[off:])
		n += copy(p[n:], d2)
	} else {
		n = copy(p, d2[off-len(d1):])
	}
	return n
}

// Realign moves the data so that it starts at the beginning of the area
// and is contiguous. It works in place, without allocating.
func (b *Buffer) Realign() {
	if b.head == 0 {
		return
	}
	if b.data == 0 {
		b.head = 0
		return
	}
	// A left rotation of the whole area by head, done with three
	// reversals, keeps the order of the data even when it wraps.
	reverse(b.area[:b.head])
	reverse(b.area[b.head:])
	reverse(b.area)
	b.head = 0
}

func reverse(p []byte) {
	for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
		p[i], p[j] = p[j], p[i]
	}
}

// Replace replaces the n bytes found off bytes after the head with p,
// moving the bytes after them, as analysers do to rewrite a message. The
// buffer is realigned first when the data wraps or the bytes would not
// fit after it.
func (b *Buffer) Replace(off, n int, p []byte) error {
	if off < 0 || n < 0 || off+n > b.data {
		return fmt.Errorf("%w: replace %d bytes at %d of %d", ErrRange, n, off, b.data)
	}
	grow := len(p) - n
	if grow > b.Room() {
		return fmt.Errorf("%w: replacing %d bytes by %d needs %d more, %d free", ErrNoRoom, n, len(p), grow, b.Room())
	}
	if b.head+b.data+max(grow, 0) > len(b.area) {
		b.Realign()
	}
	start := b.head + off
	end := b.head + b.data
	copy(b.area[start+len(p):end+grow], b.area[start+n:end])
	copy(b.area[start:], p)
	b.data += grow
	return nil
}

// RecvLimit is how many bytes the buffer may hold while data is still
// being received, given transit, the bytes already scheduled to leave plus
// those that will be forwarded without analysis. Data that still has to be
// analysed may not eat into the rewrite reserve; data in transit may, as
// nothing will rewrite it (HAProxy's channel_recv_limit).
func (b *Buffer) RecvLimit(transit int) int {
	if transit < 0 || transit >= b.reserve {
		return len(b.area)
	}
	return len(b.area) - (b.reserve - transit)
}

// IsRewritable reports whether the free space still covers the rewrite
// reserve.
func (b *Buffer) IsRewritable() bool {
	return len(b.area)-b.data-b.reserve >= 0
}

// Release gives a pooled buffer back to its pool. It does nothing for a
// buffer made with [New].
func (b *Buffer) Release() {
	if b.pool != nil {
		b.pool.Put(b)
	}
}
