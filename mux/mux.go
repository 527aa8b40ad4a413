// Package mux turns one connection into streams.
//
// A mux sits between a connection's transport and the streams the
// balancer forwards: the pass-through mux [pt] yields exactly one stream,
// the whole connection, while the HTTP muxes yield one stream per request.
// Which mux a connection gets is decided by the registry from three facts,
// as HAProxy decides it: the protocol forced by configuration (`proto` on
// a bind or server line), the ALPN token the TLS handshake negotiated, and
// the proxy's mode (tcp or http) on the side (front or back) the connection
// sits.
//
// Muxes register an [Entry] with [Register], usually from an init
// function; [Best] picks the entry for a connection.
package mux

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// Mode is a set of proxy modes a mux serves.
type Mode uint8

// The proxy modes.
const (
	ModeTCP Mode = 1 << iota
	ModeHTTP
)

// String names the modes in the set, as the config does.
func (m Mode) String() string {
	var parts []string
	if m&ModeTCP != 0 {
		parts = append(parts, "tcp")
	}
	if m&ModeHTTP != 0 {
		parts = append(parts, "http")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// ParseMode reads a proxy mode as written after the `mode` keyword.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "tcp":
		return ModeTCP, nil
	case "http":
		return ModeHTTP, nil
	}
	return 0, fmt.Errorf("mux: unknown mode %q (expected tcp or http)", s)
}

// Side is a set of connection sides a mux serves.
type Side uint8

// The sides of the proxy a connection can sit on.
const (
	// SideFront is a connection accepted from a client.
	SideFront Side = 1 << iota
	// SideBack is a connection made to a server.
	SideBack
)

// String names the sides in the set.
func (s Side) String() string {
	switch s {
	case SideFront:
		return "front"
	case SideBack:
		return "back"
	case SideFront | SideBack:
		return "front|back"
	}
	return "none"
}

// Stream is one stream of a multiplexed connection.
type Stream interface {
	// ID is the stream's identifier within its connection.
	ID() uint32
	// Close ends the stream (abortively if it is still open).
	Close() error
}

// Tunnel is a stream that carries opaque bytes both ways: the single
// stream of the pass-through mux, or an HTTP tunnel after CONNECT or an
// Upgrade. It is a transport, so a channel forwards it like a socket and
// may splice when Raw reports the socket underneath.
type Tunnel interface {
	Stream
	xprt.Transport
}

// Mux is one connection's multiplexer.
type Mux interface {
	// Name is the name the mux registered under.
	Name() string
	// Accept waits for the next stream the peer opens (front side).
	Accept(ctx context.Context) (Stream, error)
	// Open starts a new stream towards the peer (back side).
	Open(ctx context.Context) (Stream, error)
	// AvailStreams is how many more streams the connection can carry now.
	AvailStreams() int
	// UsedStreams is how many streams are open.
	UsedStreams() int
	// Close ends every stream and closes the connection.
	Close() error
}

// Factory builds a mux over a connection's transport, for the given side.
type Factory func(t xprt.Transport, side Side) (Mux, error)

// Entry is a registered mux.
type Entry struct {
	// Name is the protocol name the `proto` keyword uses. The empty name
	// marks a default: the mux used when nothing more precise matches.
	Name string
	// ALPN is the ALPN token that selects this mux, empty for none.
	ALPN string
	// Modes are the proxy modes the mux serves.
	Modes Mode
	// Sides are the sides the mux serves.
	Sides Side
	// New builds the mux.
	New Factory
}

// ErrNoMux is returned by [Best] when no registered mux serves the
// connection; the connection must then be refused.
var ErrNoMux = errors.New("mux: no mux for connection")

var (
	regMu   sync.RWMutex
	entries []*Entry
)

// Register adds a mux to the registry. Order matters for ties: among
// defaults, the first registered whose modes equal the proxy mode wins.
func Register(e Entry) {
	if e.New == nil || e.Modes == 0 || e.Sides == 0 {
		panic("mux: Register needs a factory, modes and sides")
	}
	regMu.Lock()
	defer regMu.Unlock()
	entries = append(entries, &e)
}

// Best picks the mux for a connection the way HAProxy does: a forced
// protocol name wins; else an entry whose ALPN equals the negotiated token;
// else a default entry, preferring one whose modes are exactly the proxy's
// mode. Entries that do not serve side and mode are never considered, which
// is why a TCP frontend gets the pass-through mux whatever the ALPN.
func Best(proto, alpn string, side Side, mode Mode) (*Entry, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	var fallback *Entry
	for _, e := range entries {
		if e.Sides&side == 0 || e.Modes&mode == 0 {
			continue
		}
		if proto != "" {
			if e.Name == proto {
				return e, nil
			}
			continue
		}
		if alpn != "" && e.ALPN == alpn {
			return e, nil
		}
		if e.Name == "" && (fallback == nil || (fallback.Modes != mode && e.Modes == mode)) {
			fallback = e
		}
	}
	if fallback == nil {
		if proto != "" {
			return nil, fmt.Errorf("%w: proto %q not available on the %s side in mode %s", ErrNoMux, proto, side, mode)
		}
		return nil, fmt.Errorf("%w: alpn %q, %s side, mode %s", ErrNoMux, alpn, side, mode)
	}
	return fallback, nil
}

// New picks the best mux for a connection with [Best] and builds it.
func New(t xprt.Transport, proto string, side Side, mode Mode) (Mux, error) {
	e, err := Best(proto, t.Info().ALPN, side, mode)
	if err != nil {
		return nil, err
	}
	return e.New(t, side)
}

// Entries lists the registered muxes in registration order.
func Entries() []Entry {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]Entry, len(entries))
	for i, e := range entries {
		out[i] = *e
	}
	return out
}
