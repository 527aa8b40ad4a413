package tls

import (
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/xprt"
)

func init() {
	xprt.Register("tls", newTransport)
}

// ErrConfig is returned by the "tls" transport factory for a config it
// cannot use on the requested side.
var ErrConfig = errors.New("tls: unusable transport config")

// newTransport is the xprt factory. config is an *Inbound (accepting
// side), an *Outbound (connecting side) or a *crypto/tls.Config (either).
func newTransport(c net.Conn, config any, client bool) (xprt.Transport, error) {
	switch cfg := config.(type) {
	case *Inbound:
		if client {
			return nil, fmt.Errorf("%w: an *Inbound serves accepted connections, not dialed ones", ErrConfig)
		}
		return cfg.Server(c), nil
	case *Outbound:
		if !client {
			return nil, fmt.Errorf("%w: an *Outbound serves dialed connections, not accepted ones", ErrConfig)
		}
		return cfg.Client(c), nil
	case *stdtls.Config:
		if cfg == nil {
			break
		}
		if client {
			return &Conn{tc: stdtls.Client(c, cfg), client: true}, nil
		}
		return &Conn{tc: stdtls.Server(c, cfg)}, nil
	}
	return nil, fmt.Errorf("%w: %T (want *Inbound, *Outbound or *crypto/tls.Config)", ErrConfig, config)
}

// Conn is the TLS transport over one connection. It satisfies
// [xprt.Transport].
type Conn struct {
	tc     *stdtls.Conn
	client bool
	// verified is set for client conns whose handshake ran the
	// server-certificate check (verify required), which crypto/tls does
	// not record when the check is done in VerifyConnection.
	verified bool
	// drained is set by a Read that ended by its deadline with no bytes,
	// and cleared by the next Read (see IdleSocket).
	drained bool
	// rc is the socket under tc, found on the first IdleSocket call.
	rc     syscall.RawConn
	rcDone bool
	// local is the certificate a server conn presented, which the
	// inbound config's certificate pick records (see handshakeOwner).
	local *x509.Certificate
	// picked is the certificate store entry chosen for the handshake.
	picked *entry
	// rec records the socket's first bytes until the ClientHello is in,
	// hello being that message (BindConfig.CaptureHello); nil without.
	rec          *helloRecorder
	hello        []byte
	keepHelloMsg bool
	// keys is the key material kept for Info (BindConfig.CaptureKeys,
	// ServerConfig.CaptureKeys), filled during the handshake and
	// completed by finishKeys; nil without. resumed is the secret of
	// the session offered for resumption.
	keys     *xprt.TLSKeys
	resumed  []byte
	keysDone bool
}

// ownerKey keys the server Conn running a handshake in the handshake's
// context, so the inbound config's callbacks, shared by all conns, can
// tell the conn which certificate it presents.
type ownerKey struct{}

// handshakeOwner returns the server Conn whose handshake hello belongs
// to, nil when unknown.
func handshakeOwner(hello *stdtls.ClientHelloInfo) *Conn {
	c, _ := hello.Context().Value(ownerKey{}).(*Conn)
	return c
}

// Name returns "tls".
func (c *Conn) Name() string { return "tls" }

// Handshake runs the TLS handshake, bounded by ctx. A later call returns
// the first result.
func (c *Conn) Handshake(ctx context.Context) error {
	if !c.client {
		ctx = context.WithValue(ctx, ownerKey{}, c)
	}
	if err := c.tc.HandshakeContext(ctx); err != nil {
		side := "from"
		if c.client {
			side = "to"
		}
		return fmt.Errorf("tls: handshake %s %s: %w", side, c.tc.RemoteAddr(), err)
	}
	c.finishKeys()
	return nil
}

// Read reads application data, running the handshake first if needed.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.tc.Read(b)
	c.drained = n == 0 && err != nil && errors.Is(err, os.ErrDeadlineExceeded)
	return n, err
}

// IdleSocket implements [xprt.Idler]. crypto/tls reads from its socket
// only when it holds no decoded bytes and no complete record (it decodes
// one record at a time, and takes a record that is whole before it reads
// again), and a deadline error does not break the connection. So after a
// Read that ended by its deadline with nothing read, the next bytes must
// come through the socket, and its readiness is the signal to read again.
// It reports false when the connection does not sit on a pollable socket
// (a wrapper that may hold bytes of its own).
func (c *Conn) IdleSocket() (syscall.RawConn, bool) {
	if !c.drained {
		return nil, false
	}
	if !c.rcDone {
		c.rcDone = true
		if sc, ok := c.tc.NetConn().(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				c.rc = rc
			}
		}
	}
	return c.rc, c.rc != nil
}

// Write writes application data, running the handshake first if needed.
func (c *Conn) Write(b []byte) (int, error) { return c.tc.Write(b) }

// Close sends close_notify (best effort) and closes the socket.
func (c *Conn) Close() error { return c.tc.Close() }

// CloseWrite sends close_notify and shuts the socket's write side, so the
// peer sees a clean end of data while this side can still read.
func (c *Conn) CloseWrite() error {
	if err := c.tc.CloseWrite(); err != nil {
		return err
	}
	if cw, ok := c.tc.NetConn().(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// LocalAddr returns the socket's local address.
func (c *Conn) LocalAddr() net.Addr { return c.tc.LocalAddr() }

// RemoteAddr returns the socket's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.tc.RemoteAddr() }

// SetDeadline sets the read and write deadlines, handshake included.
func (c *Conn) SetDeadline(t time.Time) error { return c.tc.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.tc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.tc.SetWriteDeadline(t) }

// Raw returns false: TLS transforms the bytes, so the data path cannot
// splice or watch the socket for application data.
func (c *Conn) Raw() (syscall.RawConn, bool) { return nil, false }

// TLS returns the crypto/tls connection, for what Info does not carry.
func (c *Conn) TLS() *stdtls.Conn { return c.tc }

// finishedKeys is the key material once finishKeys has run (Handshake
// completes it), nil before or without capture.
func (c *Conn) finishedKeys() *xprt.TLSKeys {
	if !c.keysDone {
		return nil
	}
	return c.keys
}

// Info reports what the handshake negotiated; the zero Info before it
// completes.
func (c *Conn) Info() xprt.Info {
	cs := c.tc.ConnectionState()
	if !cs.HandshakeComplete {
		return xprt.Info{}
	}
	return xprt.Info{
		TLS:              true,
		Version:          cs.Version,
		CipherSuite:      cs.CipherSuite,
		ALPN:             cs.NegotiatedProtocol,
		ServerName:       cs.ServerName,
		Resumed:          cs.DidResume,
		PeerCertificates: cs.PeerCertificates,
		Verified:         len(cs.VerifiedChains) > 0 || (c.verified && len(cs.PeerCertificates) > 0),
		LocalCertificate: c.local,
		ClientHello:      c.hello,
		TLSUnique:        cs.TLSUnique,
		Keys:             c.finishedKeys(),
	}
}
