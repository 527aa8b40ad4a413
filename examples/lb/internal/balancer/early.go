package balancer

import (
	"errors"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// pastDeadline is a read deadline already gone: a read under it returns
// what the transport holds decoded and does not touch the socket.
var pastDeadline = time.Unix(1, 0)

// lookWait bounds the one read firstLook lets wait, when the socket holds
// bytes: long enough for the rest of a record already on its way.
const lookWait = 20 * time.Millisecond

// firstLook looks, without waiting, at what a TLS client did right after
// its handshake. A client that already ended its side (close_notify or a
// bare FIN) with nothing to forward is gone, and no server should be
// dialed for it: HAProxy drops such a connection before it makes a
// stream. Clients (and benchmarks) that handshake and leave are common,
// and a server connection costs more than the handshake's key exchange.
//
// Otherwise the returned tunnel is the one to forward: when the look took
// the client's first byte, it is t with that byte put back in front.
func firstLook(t mux.Tunnel) (mux.Tunnel, bool) {
	var b [1]byte
	// First what the TLS layer holds already decoded.
	_ = t.SetReadDeadline(pastDeadline)
	n, err := t.Read(b[:])
	if err != nil && n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		// Nothing whole inside: the socket tells whether more is there.
		switch peekSocket(t) {
		case peekEmpty:
			_ = t.SetReadDeadline(time.Time{})
			return t, false
		case peekBytes:
			_ = t.SetReadDeadline(time.Now().Add(lookWait))
			n, err = t.Read(b[:])
		case peekEOF:
			return t, true
		}
	}
	_ = t.SetReadDeadline(time.Time{})
	switch {
	case n == 1:
		return &unread{Tunnel: t, b: b[0], has: true}, false
	case err == nil || errors.Is(err, os.ErrDeadlineExceeded):
		return t, false
	default:
		return t, true // the end, or an alert: nothing can follow
	}
}

const (
	peekEmpty = iota // nothing queued: the client is there, silent
	peekBytes        // bytes queued
	peekEOF          // the end or a reset, and nothing queued before it
)

// peek1 looks at one byte queued on the socket fd without waiting and
// without taking it, and returns what recvfrom(2) did: the count (0 at
// the end) and the error number (EAGAIN when nothing is queued).
func peek1(fd uintptr) (int, syscall.Errno) {
	var b [1]byte
	n, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return int(n), e
}

// peekSocket looks at the socket under a transport whose last read ended
// by its deadline with nothing read (see xprt.Idler), without taking
// anything. A transport that cannot say counts as empty.
func peekSocket(t mux.Tunnel) int {
	id, ok := t.(xprt.Idler)
	if !ok {
		return peekEmpty
	}
	rc, ok := id.IdleSocket()
	if !ok {
		return peekEmpty
	}
	res := peekEmpty
	_ = rc.Control(func(fd uintptr) {
		for {
			n, err := peek1(fd)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				res = peekEmpty
			case err != 0 || n == 0:
				// The end, or a reset: a client that closes with bytes
				// unread (the tickets sent after its handshake) resets.
				res = peekEOF
			default:
				res = peekBytes
			}
			return
		}
	})
	return res
}

// unread is a tunnel with one byte put back in front of its input.
type unread struct {
	mux.Tunnel
	b   byte
	has bool
}

// Read returns the byte put back first, alone, then reads on.
func (u *unread) Read(p []byte) (int, error) {
	if u.has && len(p) > 0 {
		p[0], u.has = u.b, false
		return 1, nil
	}
	return u.Tunnel.Read(p)
}

// IdleSocket says no while the byte put back is unread.
func (u *unread) IdleSocket() (syscall.RawConn, bool) {
	if u.has {
		return nil, false
	}
	if id, ok := u.Tunnel.(xprt.Idler); ok {
		return id.IdleSocket()
	}
	return nil, false
}
