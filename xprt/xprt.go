// Package xprt holds the transport layers of a connection: the code that
// moves bytes between a socket and the layers above it, after an optional
// handshake.
//
// A transport is what HAProxy calls an xprt: raw (the plain socket, which
// can splice) or tls. Every transport satisfies [Transport], so the layers
// above (mux, channel) never know which one they hold; they only ask
// [Transport.Raw] whether the bytes pass unchanged, which is when the
// channel may move them with splice(2) instead of through a user-space
// buffer.
//
// New transports register a [Factory] under a name with [Register], so a
// new transport is one file.
//
// [IdleWait] lets an idle connection's goroutine go: the socket waits in
// one epoll poller shared by the process, and a new goroutine runs when
// bytes come. Package channel parks idle tunnel directions there, mux/h2
// its idle frame readers, and the balancer its keep-alive clients.
package xprt

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"syscall"
)

// Transport is one connection's transport layer.
//
// Read, Write and the deadline methods behave as on [net.Conn]. CloseWrite
// shuts the write side only (a FIN on TCP), leaving reads open, which is how
// half-closed streams propagate.
type Transport interface {
	net.Conn

	// Name is the registered name of the transport, such as "raw" or "tls".
	Name() string

	// Handshake runs the transport's handshake, if it has one, bounded by
	// ctx. It is idempotent: a second call returns the first result.
	Handshake(ctx context.Context) error

	// CloseWrite shuts the write side down.
	CloseWrite() error

	// Raw returns the socket underneath when the bytes read and written
	// through this transport are exactly the bytes on the socket, so that a
	// caller may splice or wait for readiness on it. It returns false when
	// the transport transforms the bytes (TLS) or when no socket is there.
	Raw() (syscall.RawConn, bool)

	// Info reports what the handshake negotiated. Before the handshake, or
	// for transports without one, it returns the zero Info.
	Info() Info
}

// Idler is implemented by a transport that transforms its bytes (TLS)
// yet can tell when it holds none of them. Right after a Read that ended
// by its deadline with nothing read, such a transport holds no decoded
// bytes and no complete record: whatever it returns next must first reach
// the socket. A reader may then wait for the socket to turn readable, in a
// poller of its own and holding no goroutine, before it calls Read again.
type Idler interface {
	// IdleSocket returns the socket underneath and true when the last Read
	// ended by its deadline with no bytes, so that the socket's readiness
	// says when Read may have something. It returns false otherwise, and
	// when no pollable socket is underneath.
	IdleSocket() (syscall.RawConn, bool)
}

// Info is what a transport handshake negotiated, for logs, fetches and
// the PROXY protocol's SSL TLV.
type Info struct {
	// TLS is true when the transport is TLS and its handshake completed.
	TLS bool
	// Version is the TLS version (tls.VersionTLS13 and so on).
	Version uint16
	// CipherSuite is the negotiated cipher suite.
	CipherSuite uint16
	// ALPN is the negotiated application protocol, empty when none.
	ALPN string
	// ServerName is the SNI the client sent.
	ServerName string
	// Resumed is true when the session was resumed.
	Resumed bool
	// PeerCertificates is the chain the peer presented, leaf first.
	PeerCertificates []*x509.Certificate
	// Verified is true when the peer's certificate was verified.
	Verified bool
	// LocalCertificate is the certificate this end presented (a TLS
	// server's own, picked by SNI), nil when none or not known.
	LocalCertificate *x509.Certificate
	// ClientHello is the client's ClientHello handshake message as it
	// came (type, length and body), when a TLS server was told to keep
	// it; nil otherwise.
	ClientHello []byte
	// TLSUnique is the tls-unique channel binding (RFC 5929), the first
	// Finished message of the handshake; nil for TLS 1.3, which has none.
	TLSUnique []byte
	// Keys is the connection's key material, when a TLS transport was
	// told to keep it; nil otherwise.
	Keys *TLSKeys
}

// TLSKeys is the key material of one TLS connection, what an NSS key
// log (SSLKEYLOGFILE) line carries, each field nil when unknown.
type TLSKeys struct {
	// ClientRandom and ServerRandom are the 32-byte randoms of the
	// ClientHello and of the ServerHello (not of a HelloRetryRequest).
	ClientRandom, ServerRandom []byte
	// SessionID is the session id of the ServerHello under TLS 1.2
	// and below (empty when the server sent none); nil under TLS 1.3,
	// where the field only echoes the client's.
	SessionID []byte
	// MasterSecret is the TLS 1.2 master secret, the one of the
	// resumed session on a resumption.
	MasterSecret []byte
	// The TLS 1.3 traffic secrets of the handshake and of the first
	// application keys.
	ClientHandshakeTrafficSecret, ServerHandshakeTrafficSecret []byte
	ClientTrafficSecret0, ServerTrafficSecret0                 []byte
}

// Factory builds a transport over an established socket. Config is the
// transport's own configuration (nil for raw, a *tls.Config for tls), and
// client says which side of the handshake this end plays.
type Factory func(c net.Conn, config any, client bool) (Transport, error)

// ErrUnknown is returned by [New] for a name no transport registered.
var ErrUnknown = errors.New("xprt: unknown transport")

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a transport available under name. It panics if name is
// taken, as registration happens in init functions where a clash is a
// programming error.
func Register(name string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("xprt: Register called twice for " + name)
	}
	registry[name] = f
}

// New builds the transport registered under name over c.
func New(name string, c net.Conn, config any, client bool) (Transport, error) {
	regMu.RLock()
	f, ok := registry[name]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknown, name)
	}
	return f(c, config, client)
}

// Names lists the registered transports, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
