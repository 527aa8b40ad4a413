package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrSOCKS4 wraps every failure of the SOCKS4 handshake [Dialer.Dial]
// runs when [Dialer.SOCKS4] is set: the request's write, the reply's read
// (a proxy that closes early, a timeout) and a refusal ([SOCKS4Error]).
var ErrSOCKS4 = errors.New("conn: SOCKS4 handshake failed")

// SOCKS4Granted is the reply code of a SOCKS4 proxy that grants a CONNECT
// request; any other refuses it (91 to 93 in the protocol).
const SOCKS4Granted = 90

// socks4ReplyLen is the size of a SOCKS4 reply: version, code, port and
// address.
const socks4ReplyLen = 8

// SOCKS4Error is a SOCKS4 proxy's refusal of a CONNECT request: its reply
// code was not [SOCKS4Granted].
type SOCKS4Error struct {
	// Code is the reply's code (91: rejected or failed, 92 and 93: the
	// proxy could not confirm the user id with identd).
	Code byte
}

// Error describes the refusal and its code.
func (e *SOCKS4Error) Error() string {
	return fmt.Sprintf("SOCKS4 proxy refused the request (code %d)", e.Code)
}

// AppendSOCKS4Request appends to b a SOCKS4 CONNECT request for dst, with
// userID as its user id: version 4, command 1, dst's port and IPv4
// address in network order, then userID and a NUL. It refuses an address
// other than IPv4 (an IPv4-mapped IPv6 address is taken as its IPv4 one),
// which SOCKS4 cannot carry, and a user id holding a NUL.
func AppendSOCKS4Request(b []byte, dst netip.AddrPort, userID string) ([]byte, error) {
	a := dst.Addr().Unmap()
	if !a.Is4() {
		return b, fmt.Errorf("SOCKS4 carries IPv4 addresses only, not %s", dst)
	}
	for i := 0; i < len(userID); i++ {
		if userID[i] == 0 {
			return b, errors.New("SOCKS4 user id holds a NUL byte")
		}
	}
	ip := a.As4()
	b = append(b, 4, 1, byte(dst.Port()>>8), byte(dst.Port()))
	b = append(b, ip[:]...)
	b = append(b, userID...)
	return append(b, 0), nil
}

// ParseSOCKS4Reply reads the 8-byte reply of a SOCKS4 proxy: nil when it
// grants the request, a [*SOCKS4Error] with its code otherwise. Like
// most clients it looks at the code only, whatever the version byte
// says. A reply shorter than 8 bytes is io.ErrUnexpectedEOF.
func ParseSOCKS4Reply(reply []byte) error {
	if len(reply) < socks4ReplyLen {
		return io.ErrUnexpectedEOF
	}
	if reply[1] != SOCKS4Granted {
		return &SOCKS4Error{Code: reply[1]}
	}
	return nil
}

// socks4Target checks that address, which a SOCKS4 request is to carry,
// is an IPv4 address and port: the error wraps [ErrSOCKS4] and EINVAL.
func socks4Target(address string) error {
	dst, err := netip.ParseAddrPort(address)
	if err == nil && !dst.Addr().Unmap().Is4() {
		err = fmt.Errorf("%s is not IPv4", dst.Addr())
	}
	if err != nil {
		return fmt.Errorf("%w: SOCKS4 carries IPv4 addresses only: %w (%w)", ErrSOCKS4, err, syscall.EINVAL)
	}
	return nil
}

// socks4Handshake asks the SOCKS4 proxy at the other end of sock to
// connect it to address, before ctx ends, and reads its reply: exactly
// its 8 bytes, so that whatever the server sends next stays unread.
func socks4Handshake(ctx context.Context, sock net.Conn, address, userID string) error {
	dst, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: the target must be an IPv4 address and port: %w", ErrSOCKS4, err)
	}
	var buf [64]byte
	req, err := AppendSOCKS4Request(buf[:0], dst, userID)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSOCKS4, err)
	}
	if err := writeAll(ctx, sock, req); err != nil {
		return fmt.Errorf("%w: sending the request: %w", ErrSOCKS4, err)
	}
	if d, ok := ctx.Deadline(); ok {
		sock.SetReadDeadline(d)
		defer sock.SetReadDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { sock.SetReadDeadline(time.Unix(1, 0)) })
	var reply [socks4ReplyLen]byte
	_, err = io.ReadFull(sock, reply[:])
	if !stop() && err == nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		return fmt.Errorf("%w: reading the reply: %w", ErrSOCKS4, err)
	}
	if err := ParseSOCKS4Reply(reply[:]); err != nil {
		return fmt.Errorf("%w: %w", ErrSOCKS4, err)
	}
	return nil
}
