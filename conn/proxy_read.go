package conn

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ReadProxyHeader reads one PROXY header (v1 or v2, detected) from r into
// h, consuming exactly its bytes: whatever follows stays in r for the
// application. maxLen bounds the header (0 means
// [DefaultMaxProxyHeaderLen]).
//
// On a socket (r implements syscall.Conn) the bytes are peeked with
// MSG_PEEK until the header is complete and then consumed in one read, the
// way HAProxy does it. On any other reader it reads no more than the
// parser proves is still missing, which for v1 is one or two bytes at a
// time. Either way the caller bounds a slow sender with a read deadline;
// a deadline that expires surfaces as an error wrapping both
// [ErrProxyHeader] and [os.ErrDeadlineExceeded].
func ReadProxyHeader(r io.Reader, h *ProxyHeader, maxLen int) error {
	if maxLen <= 0 {
		maxLen = DefaultMaxProxyHeaderLen
	}
	bp := headerBufs.Get().(*[]byte)
	defer headerBufs.Put(bp)
	if sc, ok := r.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return peekProxyHeader(rc, r, h, maxLen, bp)
		}
	}
	return readProxyHeader(r, h, maxLen, bp)
}

// headerBufs holds read buffers sized for the common header (v1, or v2 with
// a few TLVs); larger v2 headers grow theirs, and the grown one returns to
// the pool.
var headerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func grow(bp *[]byte, n int) []byte {
	if cap(*bp) < n {
		*bp = make([]byte, 0, n)
	}
	return (*bp)[:n]
}

func readProxyHeader(r io.Reader, h *ProxyHeader, maxLen int, bp *[]byte) error {
	have := 0
	need := 1
	for {
		buf := grow(bp, need)
		if _, err := io.ReadFull(r, buf[have:need]); err != nil {
			return readErr(err, need)
		}
		have = need
		n, nd, err := parseProxy(buf[:have], h, maxLen)
		if err == nil {
			if n != have {
				// parseProxy asks for exact lower bounds, so the header ends
				// where the reads ended.
				return proxyErr("internal: parsed %d of %d bytes read", n, have)
			}
			return nil
		}
		if !errors.Is(err, ErrProxyShort) {
			return err
		}
		need = nd
	}
}

func readErr(err error, at int) error {
	switch {
	case errors.Is(err, io.EOF) && at <= 1:
		return fmt.Errorf("%w: connection closed before any header byte: %w", ErrProxyHeader, io.EOF)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated, connection closed: %w", ErrProxyHeader, io.ErrUnexpectedEOF)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: not complete before the deadline: %w", ErrProxyHeader, err)
	}
	return fmt.Errorf("%w: read: %w", ErrProxyHeader, err)
}

// peekProxyHeader peeks until the header parses, then consumes exactly it.
// It relies on the netpoller being edge-triggered: when a peek shows no new
// bytes, returning false from the callback parks until more arrive (after
// at most one spurious wake-up for the edge already seen), so a slow
// sender costs no CPU.
func peekProxyHeader(rc syscall.RawConn, r io.Reader, h *ProxyHeader, maxLen int, bp *[]byte) error {
	size := min(max(cap(*bp), MaxProxyV1Len+1), maxLen+1)
	var (
		n, last int
		perr    error
		hdrLen  int
		done    bool
		herr    error
	)
	last = -1
	for !done {
		buf := grow(bp, size)
		err := rc.Read(func(fd uintptr) bool {
			n, _, perr = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK)
			if perr == unix.EAGAIN || perr == unix.EINTR {
				return false
			}
			if perr == nil && n == last && n > 0 && n < len(buf) {
				return false // nothing new yet: wait for the next readiness edge
			}
			return true
		})
		if err != nil {
			return readErr(err, n)
		}
		if perr != nil {
			return fmt.Errorf("%w: peek: %w", ErrProxyHeader, perr)
		}
		if n == 0 {
			return readErr(io.EOF, last)
		}
		last = n
		hl, need, err := parseProxy(buf[:n], h, maxLen)
		switch {
		case err == nil:
			hdrLen, done = hl, true
		case errors.Is(err, ErrProxyShort):
			if need > size {
				size = need
				last = -1
			}
		default:
			done, herr = true, err
		}
	}
	if herr != nil {
		return herr
	}
	// The bytes are in the socket buffer already; this read returns them
	// at once and leaves what follows the header in place.
	if _, err := io.ReadFull(r, grow(bp, hdrLen)); err != nil {
		return readErr(err, hdrLen)
	}
	return nil
}
