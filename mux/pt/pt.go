// Package pt is the pass-through mux: one connection, one stream, bytes
// passed unchanged. It serves TCP-mode proxies on both sides. Because its
// single stream is the connection's transport itself, a channel forwarding
// it sees the raw socket and may splice.
//
// Importing the package registers it with the mux registry twice, as
// HAProxy does: under the name "none" (forced with `proto none`) and as the
// TCP default.
package pt

import (
	"context"
	"errors"
	"sync"
	"syscall"

	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/xprt"
)

func init() {
	mux.Register(mux.Entry{Name: "none", Modes: mux.ModeTCP, Sides: mux.SideFront | mux.SideBack, New: newMux})
	mux.Register(mux.Entry{Name: "", Modes: mux.ModeTCP, Sides: mux.SideFront | mux.SideBack, New: newMux})
}

// ErrStreamTaken is returned when the connection's only stream has already
// been handed out.
var ErrStreamTaken = errors.New("pt: the connection's stream is already in use")

// ErrClosed is returned by a closed mux.
var ErrClosed = errors.New("pt: mux closed")

// Mux is the pass-through mux.
type Mux struct {
	t    xprt.Transport
	side mux.Side

	mu     sync.Mutex
	used   bool
	closed bool
}

func newMux(t xprt.Transport, side mux.Side) (mux.Mux, error) { return New(t, side), nil }

// New builds a pass-through mux over t.
func New(t xprt.Transport, side mux.Side) *Mux { return &Mux{t: t, side: side} }

// Name returns "pt".
func (m *Mux) Name() string { return "pt" }

// Accept returns the connection's only stream. It does not wait: in
// pass-through the stream exists as soon as the connection does.
func (m *Mux) Accept(context.Context) (mux.Stream, error) { return m.take() }

// Open returns the connection's only stream, for the back side.
func (m *Mux) Open(context.Context) (mux.Stream, error) { return m.take() }

func (m *Mux) take() (*Stream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if m.used {
		return nil, ErrStreamTaken
	}
	m.used = true
	return &Stream{Transport: m.t, m: m}, nil
}

// AvailStreams is 1 until the stream is taken, then 0.
func (m *Mux) AvailStreams() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used || m.closed {
		return 0
	}
	return 1
}

// UsedStreams is 1 while the stream is out, else 0.
func (m *Mux) UsedStreams() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used && !m.closed {
		return 1
	}
	return 0
}

// Close closes the connection.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	return m.t.Close()
}

// Stream is the pass-through mux's single stream: the connection's
// transport, so Raw still reports the socket for splicing.
type Stream struct {
	xprt.Transport
	m *Mux
}

// ID is always 0: there is one stream.
func (s *Stream) ID() uint32 { return 0 }

// Close closes the stream and with it the connection: in pass-through the
// stream's life is the connection's.
func (s *Stream) Close() error { return s.m.Close() }

// IdleSocket passes the transport's [xprt.Idler] answer through, so that
// an idle TLS stream can park on its socket: false when the transport
// cannot tell.
func (s *Stream) IdleSocket() (syscall.RawConn, bool) {
	if id, ok := s.Transport.(xprt.Idler); ok {
		return id.IdleSocket()
	}
	return nil, false
}

var (
	_ mux.Tunnel = (*Stream)(nil)
	_ xprt.Idler = (*Stream)(nil)
)
