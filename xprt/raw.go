package xprt

import (
	"context"
	"errors"
	"net"
	"syscall"
)

func init() {
	Register("raw", func(c net.Conn, _ any, _ bool) (Transport, error) {
		return NewRaw(c), nil
	})
}

// rawConn is the plain-socket transport.
type rawConn struct {
	net.Conn
	rc syscall.RawConn
}

// NewRaw wraps a socket as the raw transport. When c exposes its file
// descriptor (as *net.TCPConn and *net.UnixConn do), [Transport.Raw]
// returns it so the data path may splice.
func NewRaw(c net.Conn) Transport {
	r := &rawConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			r.rc = rc
		}
	}
	return r
}

func (r *rawConn) Name() string                    { return "raw" }
func (r *rawConn) Handshake(context.Context) error { return nil }
func (r *rawConn) Info() Info                      { return Info{} }

func (r *rawConn) Raw() (syscall.RawConn, bool) { return r.rc, r.rc != nil }

// CloseWrite shuts the write side when the socket supports it, and
// otherwise closes the whole connection, the only way left to signal EOF.
func (r *rawConn) CloseWrite() error {
	if cw, ok := r.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return r.Conn.Close()
}

// Unwrap returns the socket, for callers that need socket options.
func (r *rawConn) Unwrap() net.Conn { return r.Conn }

// ErrNotRaw is returned by helpers that need a raw socket and got a
// transport that transforms its bytes.
var ErrNotRaw = errors.New("xprt: transport is not raw")
