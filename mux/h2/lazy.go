package h2

import (
	"io"
	"sync"
)

// writeBufSize is the size of the buffer frames gather in before they
// leave in one write.
const writeBufSize = 16 << 10

var writeBufPool = sync.Pool{New: func() any { b := make([]byte, writeBufSize); return &b }}

// lazyWriter gathers frames for one write in a buffer that it holds only
// while frames wait: the buffer comes from a shared pool at the first
// byte and goes back once flushed, so an idle connection holds none. It
// is guarded by the mux's wmu.
type lazyWriter struct {
	w   io.Writer
	buf *[]byte // nil while nothing waits
	n   int
}

// Write adds p to the buffer, writing the buffer out whenever it fills.
// A write of a whole buffer or more with nothing waiting goes out as is.
func (l *lazyWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if l.buf == nil {
			if len(p) >= writeBufSize {
				n, err := l.w.Write(p)
				return written + n, err
			}
			l.buf = writeBufPool.Get().(*[]byte)
		}
		c := copy((*l.buf)[l.n:], p)
		l.n += c
		p = p[c:]
		written += c
		if l.n == len(*l.buf) {
			if err := l.Flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Flush writes out what waits and gives the buffer back. After an error
// the bytes are dropped: the connection is over.
func (l *lazyWriter) Flush() error {
	if l.buf == nil {
		return nil
	}
	b, n := l.buf, l.n
	l.buf, l.n = nil, 0
	_, err := l.w.Write((*b)[:n])
	writeBufPool.Put(b)
	return err
}

// Buffered is the number of bytes waiting.
func (l *lazyWriter) Buffered() int { return l.n }
