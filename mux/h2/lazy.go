package h2

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/xprt"
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

// copyIn adds p to the buffer like Write, but never hands p itself to
// the writer underneath, so that p does not escape: the callers of
// Stream.Write may pass a buffer on their stack.
func (l *lazyWriter) copyIn(p []byte) error {
	for len(p) > 0 {
		if l.buf == nil {
			l.buf = writeBufPool.Get().(*[]byte)
		}
		c := copy((*l.buf)[l.n:], p)
		l.n += c
		p = p[c:]
		if l.n == len(*l.buf) {
			if err := l.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
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

// readBufSize is the size of the buffer one receive fills.
const readBufSize = 16 << 10

var readBufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// lazyReader buffers what the connection receives. On a raw socket it
// holds a buffer only while received bytes wait to be read: an empty
// reader waits for the socket to be readable with no buffer, borrows one
// from a shared pool for each receive and gives it back when the
// receive finds nothing or the bytes are all read, so an idle connection
// holds none. Over a transport that transforms its bytes (TLS) it reads
// into a buffer it keeps while the peer sends; when it is told the wait
// may end in a park (idleArm), it gives that buffer back and reads the
// next bytes straight into the caller's slice, and a transport that can
// say it holds nothing ([xprt.Idler]) then lends its socket to wait on.
// It is used by the reader goroutine alone.
type lazyReader struct {
	t      xprt.Transport
	rc     syscall.RawConn // nil: read through t
	buf    *[]byte
	r, w   int
	recvFn func(fd uintptr) bool
	rerr   error
	// idleArm, set by the reader at a frame boundary, bounds the next
	// wait by readIdleAfter: the read then returns errReadIdle.
	idleArm bool
	// idler says t transforms its bytes and can say when it holds none
	// (an xprt.Idler).
	idler bool
	// dl is the read deadline readIdle or fill left on t, in
	// nanoseconds since epoch; 0: none.
	dl int64
}

func newLazyReader(t xprt.Transport) lazyReader {
	l := lazyReader{t: t}
	if rc, ok := t.Raw(); ok && rawRecvSupported {
		l.rc = rc
	} else if _, ok := t.(xprt.Idler); ok && xprt.IdleWaitSupported {
		l.idler = true
	}
	return l
}

// mayPark reports whether a wait for the next frame may end in a park:
// on a raw socket, or over a transport that can lend its socket.
func (l *lazyReader) mayPark() bool { return l.rc != nil || l.idler }

// idleSocket is the socket a parked reader waits on: the raw socket, or
// the one the transport lends once a read returned errReadIdle.
func (l *lazyReader) idleSocket() syscall.RawConn {
	if l.rc != nil {
		return l.rc
	}
	rc, _ := l.t.(xprt.Idler).IdleSocket()
	return rc
}

// Read copies out what waits, receiving first when nothing does.
func (l *lazyReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if l.r == l.w {
		if l.idleArm && l.idler {
			return l.readIdle(p)
		}
		if err := l.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*l.buf)[l.r:l.w])
	l.r += n
	if l.r == l.w && l.rc != nil {
		l.release()
	}
	return n, nil
}

// readIdle is Read over a transforming transport at a frame boundary,
// with nothing buffered here: the read, into p, waits readIdleAfter at
// most. When that passes with nothing read and the transport lends its
// socket (it holds no record whole, only perhaps part of one, whose rest
// must come through the socket), the buffer goes back to the pool and
// it returns errReadIdle; without a socket it reads on, unbounded, and
// never arms again.
//
// The deadline is moved only once half of it has passed, and stays after
// a read that brought bytes: a busy connection does not pay a deadline
// change or two per frame. A read within a frame that meets it lifts it
// and reads on (fill).
func (l *lazyReader) readIdle(p []byte) (int, error) {
	l.idleArm = false
	now := int64(time.Since(epoch))
	if l.dl == 0 || l.dl-now < int64(readIdleAfter)/2 {
		l.dl = now + int64(readIdleAfter)
		_ = l.t.SetReadDeadline(epoch.Add(time.Duration(l.dl)))
	}
	n, err := l.t.Read(p)
	if n > 0 || err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		if n > 0 && err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			err = nil
		}
		return n, err
	}
	l.dl = 0 // the reader lifts the deadline before it parks
	if _, ok := l.t.(xprt.Idler).IdleSocket(); ok {
		if l.buf != nil {
			l.release()
		}
		return 0, errReadIdle
	}
	l.idler = false
	_ = l.t.SetReadDeadline(time.Time{})
	return l.t.Read(p)
}

// take returns the next n bytes without copying them when they are all
// buffered, and reports false otherwise. They stay valid until the next
// read: the buffer is kept even once emptied, and the next receive
// reuses it.
func (l *lazyReader) take(n int) ([]byte, bool) {
	if l.buf == nil || l.w-l.r < n {
		return nil, false
	}
	p := (*l.buf)[l.r : l.r+n]
	l.r += n
	return p, true
}

func (l *lazyReader) release() {
	readBufPool.Put(l.buf)
	l.buf, l.r, l.w = nil, 0, 0
}

// fill receives at least one byte, or returns why it could not.
func (l *lazyReader) fill() error {
	if l.rc == nil {
		if l.buf == nil {
			l.buf = readBufPool.Get().(*[]byte)
		}
		n, err := l.t.Read(*l.buf)
		if n == 0 && l.dl != 0 && err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			// readIdle's deadline, met within a frame: lifted.
			l.dl = 0
			_ = l.t.SetReadDeadline(time.Time{})
			n, err = l.t.Read(*l.buf)
		}
		l.r, l.w = 0, max(n, 0)
		if n > 0 {
			return nil
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	if l.recvFn == nil {
		l.recvFn = l.recv // one method value per connection
	}
	l.rerr = nil
	armed := l.idleArm
	if armed {
		// As in readIdle, the deadline moves only once half of it has
		// passed and stays after a read that brought bytes: a busy
		// connection does not pay a deadline change or two per receive.
		l.idleArm = false
		now := int64(time.Since(epoch))
		if l.dl == 0 || l.dl-now < int64(readIdleAfter)/2 {
			l.dl = now + int64(readIdleAfter)
			_ = l.t.SetReadDeadline(epoch.Add(time.Duration(l.dl)))
		}
	}
	err := l.rc.Read(l.recvFn)
	if err != nil && l.dl != 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		l.dl = 0
		if armed {
			return errReadIdle // the reader lifts the deadline before it parks
		}
		// The idle deadline, met within a frame: lifted.
		_ = l.t.SetReadDeadline(time.Time{})
		err = l.rc.Read(l.recvFn)
	}
	if err != nil {
		return err // the socket closed
	}
	if l.w > 0 {
		return nil
	}
	return l.rerr
}

// recv runs inside RawConn.Read: it borrows a buffer and receives into
// it, giving it back when nothing is there (and asking to wait for
// readiness), or at the end or on an error.
func (l *lazyReader) recv(fd uintptr) bool {
	if l.buf == nil { // else emptied by take, and still held
		l.buf = readBufPool.Get().(*[]byte)
	}
	n, err := rawRecv(fd, *l.buf)
	switch {
	case n > 0:
		l.r, l.w = 0, n
		return true
	case err == errAgain:
		l.release()
		return false
	case err == nil:
		l.rerr = io.EOF
	default:
		l.rerr = err
	}
	l.release()
	return true
}
