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
// On a socket (r implements syscall.Conn) the bytes that have arrived are
// peeked with MSG_PEEK and, when they hold the whole header, consumed in
// one read, the way HAProxy does it. Otherwise, and on any other reader,
// it reads no more than the parser proves is still missing, which for v1
// is one or two bytes at a time. Either way the caller bounds a slow sender with a read deadline;
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
	return readProxyHeader(r, h, maxLen, bp, 0, 1)
}

// headerBufs holds read buffers sized for the common header (v1, or v2 with
// a few TLVs); larger v2 headers grow theirs, and the grown one returns to
// the pool.
var headerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// grow returns the buffer resized to n bytes, keeping its contents.
func grow(bp *[]byte, n int) []byte {
	if cap(*bp) < n {
		nb := make([]byte, n, max(n, 2*cap(*bp)))
		copy(nb, (*bp)[:cap(*bp)])
		*bp = nb[:0]
	}
	return (*bp)[:n]
}

// readProxyHeader reads the header, of which the first have bytes are in
// *bp already, asking r each time for exactly the bytes the parser proves
// are still missing.
func readProxyHeader(r io.Reader, h *ProxyHeader, maxLen int, bp *[]byte, have, need int) error {
	for {
		buf := grow(bp, need)
		if _, err := io.ReadFull(r, buf[have:need]); err != nil {
			return readErr(err, have)
		}
		have = need
		n, nd, err := parseProxy(buf[:have], h, maxLen)
		if err == nil {
			if n != have {
				// Cannot happen: the parser's lower bounds are exact.
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
	case errors.Is(err, io.EOF) && at == 0:
		return fmt.Errorf("%w: connection closed before any header byte: %w", ErrProxyHeader, io.EOF)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated, connection closed: %w", ErrProxyHeader, io.ErrUnexpectedEOF)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: not complete before the deadline: %w", ErrProxyHeader, err)
	}
	return fmt.Errorf("%w: read: %w", ErrProxyHeader, err)
}

// peekProxyHeader peeks at what has arrived, as HAProxy does: usually
// the whole header came in the first segment, and it is then consumed with
// one read. When only part of it is there, that part is consumed and the
// rest is read exactly, so a slow sender is waited for (within the
// deadline) and a sender that closes mid-header is seen at once, which a
// peek cannot do while bytes are pending.
func peekProxyHeader(rc syscall.RawConn, r io.Reader, h *ProxyHeader, maxLen int, bp *[]byte) error {
	buf := grow(bp, min(max(cap(*bp), MaxProxyV1Len+1), maxLen+1))
	var (
		n    int
		perr error
	)
	err := rc.Read(func(fd uintptr) bool {
		n, _, perr = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK)
		return perr != unix.EAGAIN && perr != unix.EINTR
	})
	if err != nil {
		return readErr(err, 0)
	}
	if perr != nil {
		return fmt.Errorf("%w: peek: %w", ErrProxyHeader, perr)
	}
	if n == 0 {
		return readErr(io.EOF, 0)
	}
	hdrLen, need, err := parseProxy(buf[:n], h, maxLen)
	switch {
	case err == nil:
		// The bytes are in the socket buffer already; this read returns
		// them at once and leaves what follows the header in place.
		if _, err := io.ReadFull(r, buf[:hdrLen]); err != nil {
			return readErr(err, hdrLen)
		}
		return nil
	case errors.Is(err, ErrProxyShort):
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return readErr(err, n)
		}
		return readProxyHeader(r, h, maxLen, bp, n, need)
	default:
		return err
	}
}
