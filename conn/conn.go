package conn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// TransportFunc builds the transport stack over a socket, such as
// [xprt.NewRaw] or a TLS transport. It must not do I/O: the PROXY header is
// read from the socket after it is called and before the transport's own
// handshake.
type TransportFunc func(net.Conn) (xprt.Transport, error)

// RawTransport is the default [TransportFunc]: the plain socket.
func RawTransport(c net.Conn) (xprt.Transport, error) { return xprt.NewRaw(c), nil }

// Mux is what a [Conn] needs of the multiplexer attached to it: a way to
// close it. Package mux implements it; it is declared here because mux
// imports conn, not the reverse.
type Mux interface {
	Close() error
}

// Flags describe a connection; they are set as it progresses and read
// without locks.
type Flags uint32

// Connection flags.
const (
	// FlagAcceptProxy means a PROXY header must open the connection.
	FlagAcceptProxy Flags = 1 << iota
	// FlagProxied means a PROXY header was received and its addresses
	// replace the socket's.
	FlagProxied
	// FlagOutgoing marks a connection dialed to a server.
	FlagOutgoing
	// FlagSentProxy means a PROXY header was sent after connect.
	FlagSentProxy
	// FlagNoLinger means close resets the connection (SO_LINGER 0)
	// instead of a graceful FIN.
	FlagNoLinger
	// FlagError means the handshake failed or an error closed the
	// connection.
	FlagError
)

// Phase is how far a connection has come.
type Phase uint32

// Connection phases, in order.
const (
	PhaseNew       Phase = iota // accepted or dialed; nothing read yet
	PhaseProxy                  // reading the PROXY header
	PhaseTransport              // running the transport handshake
	PhaseReady                  // handshakes done; the mux may take over
	PhaseClosed                 // closed
)

var phaseNames = [...]string{"new", "proxy", "transport", "ready", "closed"}

// String names the phase.
func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", uint32(p))
}

// ErrClosed is returned by operations on a closed [Conn] and by
// [Listener.Accept] after Close; it wraps net.ErrClosed so callers testing
// for that keep working.
var ErrClosed = fmt.Errorf("conn: closed: %w", net.ErrClosed)

// ErrHandshake wraps every handshake failure other than a bad PROXY header
// (which wraps [ErrProxyHeader]): a transport handshake error, a timeout.
var ErrHandshake = errors.New("conn: handshake failed")

// Conn is one connection, accepted or dialed: its socket, the addresses
// seen on it and those a PROXY header told, its transport stack and the
// mux that drives it.
//
// Conn is a net.Conn: reads and writes go through the transport. Its
// RemoteAddr and LocalAddr are the addresses the PROXY header told when
// there was one, so code that logs or filters by RemoteAddr sees the real
// client; [Conn.SocketRemote] and [Conn.SocketLocal] keep the socket's.
type Conn struct {
	sock net.Conn
	tr   xprt.Transport

	flags atomic.Uint32
	phase atomic.Uint32

	// proxy is the PROXY header received and the addresses it told, made
	// only when one is read: every connection keeps its Conn for its
	// whole life, so what only some need is not carried by all, and the
	// addresses as seen are the socket's, which keeps them already.
	proxy *proxied
	// set holds the addresses rules set (SetSrc, SetDst), nil until one
	// does; each change stores a new value, so readers on other
	// goroutines see one whole.
	set atomic.Pointer[setAddrs]
	// ln is the listener that accepted the connection, nil for a dialed
	// one: its configuration bounds the handshake, and Close gives its
	// slot back.
	ln            *Listener
	handshakeOnce sync.Once
	closing       atomic.Bool
	lingerSet     bool // SO_LINGER 0 was set when the socket was made
	handshakeErr  error
	mu            sync.Mutex // guards mux
	mux           Mux
}

// setAddrs are the addresses rules set on a connection, with their
// net.Addr forms; a zero AddrPort was not set.
type setAddrs struct {
	src, dst         netip.AddrPort
	srcAddr, dstAddr net.Addr
}

// proxied is what a PROXY header brought: the header, and the addresses
// it told as net.Addr values (nil when it told none).
type proxied struct {
	hdr              ProxyHeader
	srcAddr, dstAddr net.Addr
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

// Flags returns the connection's flags.
func (c *Conn) Flags() Flags { return Flags(c.flags.Load()) }

func (c *Conn) setFlag(f Flags) { c.flags.Or(uint32(f)) }

// Phase returns how far the connection has come.
func (c *Conn) Phase() Phase { return Phase(c.phase.Load()) }

// ExpectProxy requires a PROXY header on this connection, as a connection
// rule's "expect-proxy layer4" does. It has effect only before
// [Conn.Handshake].
func (c *Conn) ExpectProxy() { c.setFlag(FlagAcceptProxy) }

// Src is the client's address: the one a PROXY header told, or the
// socket's peer. It is the zero AddrPort for UNIX sockets.
func (c *Conn) Src() netip.AddrPort {
	if a := c.set.Load(); a != nil && a.src.IsValid() {
		return a.src
	}
	if p := c.told(); p != nil {
		return p.hdr.Src
	}
	return addrPort(c.sock.RemoteAddr())
}

// Dst is the address the client connected to: the one a PROXY header
// told, or the socket's local address.
func (c *Conn) Dst() netip.AddrPort {
	if a := c.set.Load(); a != nil && a.dst.IsValid() {
		return a.dst
	}
	if p := c.told(); p != nil {
		return p.hdr.Dst
	}
	return addrPort(c.sock.LocalAddr())
}

// SetSrc makes ap the client's address from now on, for [Conn.Src] and
// [Conn.RemoteAddr], as HAProxy's set-src and set-src-port actions do;
// the PROXY header, if any, keeps what it told.
func (c *Conn) SetSrc(ap netip.AddrPort) { c.setAddr(ap, true) }

// SetDst makes ap the address the client reached from now on, for
// [Conn.Dst] and [Conn.LocalAddr], as HAProxy's set-dst and set-dst-port
// actions do.
func (c *Conn) SetDst(ap netip.AddrPort) { c.setAddr(ap, false) }

func (c *Conn) setAddr(ap netip.AddrPort, src bool) {
	var a setAddrs
	if old := c.set.Load(); old != nil {
		a = *old
	}
	na := net.TCPAddrFromAddrPort(ap)
	if src {
		a.src, a.srcAddr = ap, na
	} else {
		a.dst, a.dstAddr = ap, na
	}
	c.set.Store(&a)
}

// told returns what a PROXY header told when it told addresses, or nil.
func (c *Conn) told() *proxied {
	if c.Flags()&FlagProxied == 0 || !c.proxy.hdr.HasAddrs() {
		return nil
	}
	return c.proxy
}

// ProxyHeader returns the PROXY header received on the connection, with
// its TLVs, or nil when none was.
func (c *Conn) ProxyHeader() *ProxyHeader {
	if c.Flags()&FlagProxied == 0 {
		return nil
	}
	return &c.proxy.hdr
}

// Transport returns the transport stack, for the layers that read, write,
// shut down or splice.
func (c *Conn) Transport() xprt.Transport { return c.tr }

// Socket returns the socket under the transport, for socket options.
func (c *Conn) Socket() net.Conn { return c.sock }

// Raw returns the socket for splicing when the transport passes bytes
// unchanged; see [xprt.Transport.Raw].
func (c *Conn) Raw() (syscall.RawConn, bool) { return c.tr.Raw() }

// SetMux attaches the mux that drives the connection; [Conn.Close] closes
// it.
func (c *Conn) SetMux(m Mux) {
	c.mu.Lock()
	c.mux = m
	c.mu.Unlock()
}

// Mux returns the attached mux, or nil.
func (c *Conn) Mux() Mux {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mux
}

// Handshake runs the connection's handshake phase: the PROXY header when
// one is expected, then the transport's handshake. It is bounded by ctx
// and, when ctx has no deadline, by the listener's handshake timeout, so
// run it in the connection's own goroutine: a slow client then delays only
// itself. On failure the connection is closed. It is idempotent: a second
// call returns the first result.
func (c *Conn) Handshake(ctx context.Context) error {
	c.handshakeOnce.Do(func() { c.handshakeErr = c.handshake(ctx) })
	return c.handshakeErr
}

func (c *Conn) handshake(ctx context.Context) (err error) {
	if c.Phase() == PhaseClosed {
		return ErrClosed
	}
	// A raw transport with no PROXY header to read has nothing to wait
	// for: no timer, no context, which an accepted connection would
	// otherwise leave behind as garbage next to its own Conn.
	waits := c.Flags()&FlagAcceptProxy != 0 || c.tr == nil || c.tr.Name() != "raw"
	if _, ok := ctx.Deadline(); !ok && waits && c.ln != nil && c.ln.cfg.HandshakeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.ln.cfg.HandshakeTimeout)
		defer cancel()
	}
	defer func() {
		if err != nil {
			c.setFlag(FlagError)
			c.Close()
		}
	}()
	if c.Flags()&FlagAcceptProxy != 0 {
		c.phase.Store(uint32(PhaseProxy))
		if err := c.readProxy(ctx); err != nil {
			return err
		}
	}
	c.phase.Store(uint32(PhaseTransport))
	if c.tr == nil {
		return fmt.Errorf("%w: no transport", ErrHandshake)
	}
	if err := c.tr.Handshake(ctx); err != nil {
		return fmt.Errorf("%w: %s transport from %v: %w", ErrHandshake, c.tr.Name(), c.sock.RemoteAddr(), err)
	}
	c.phase.CompareAndSwap(uint32(PhaseTransport), uint32(PhaseReady))
	return nil
}

func (c *Conn) readProxy(ctx context.Context) error {
	if d, ok := ctx.Deadline(); ok {
		if err := c.sock.SetReadDeadline(d); err != nil {
			return fmt.Errorf("%w: setting deadline: %w", ErrProxyHeader, err)
		}
		defer c.sock.SetReadDeadline(time.Time{})
	}
	// Cancellation other than the deadline wakes the blocked read by
	// moving the deadline to the past.
	stop := context.AfterFunc(ctx, func() { c.sock.SetReadDeadline(time.Unix(1, 0)) })
	maxLen := 0
	if c.ln != nil {
		maxLen = c.ln.cfg.MaxProxyHeaderLen
	}
	p := new(proxied)
	h := &p.hdr
	err := ReadProxyHeader(c.sock, h, maxLen)
	if !stop() && err == nil {
		// Cancelled just as the header completed: the deadline may be
		// left in the past, so the connection cannot go on.
		err = fmt.Errorf("%w: %w", ErrProxyHeader, context.Cause(ctx))
	}
	if err != nil {
		return fmt.Errorf("%w (from %v)", err, c.sock.RemoteAddr())
	}
	if h.HasAddrs() {
		p.srcAddr, p.dstAddr = h.SrcAddr(), h.DstAddr()
	}
	c.proxy = p
	c.setFlag(FlagProxied)
	return nil
}

// Read reads through the transport.
func (c *Conn) Read(b []byte) (int, error) { return c.tr.Read(b) }

// Write writes through the transport.
func (c *Conn) Write(b []byte) (int, error) { return c.tr.Write(b) }

// CloseWrite shuts the write side down through the transport.
func (c *Conn) CloseWrite() error { return c.tr.CloseWrite() }

// LocalAddr is the address the client connected to, as told by a PROXY
// header when there was one.
func (c *Conn) LocalAddr() net.Addr {
	if a := c.set.Load(); a != nil && a.dstAddr != nil {
		return a.dstAddr
	}
	if p := c.told(); p != nil {
		return p.dstAddr
	}
	return c.sock.LocalAddr()
}

// RemoteAddr is the client's address, as told by a PROXY header when there
// was one.
func (c *Conn) RemoteAddr() net.Addr {
	if a := c.set.Load(); a != nil && a.srcAddr != nil {
		return a.srcAddr
	}
	if p := c.told(); p != nil {
		return p.srcAddr
	}
	return c.sock.RemoteAddr()
}

// SocketLocal is the socket's local address, whatever a PROXY header said.
func (c *Conn) SocketLocal() net.Addr { return c.sock.LocalAddr() }

// SocketRemote is the socket's peer address, whatever a PROXY header said.
func (c *Conn) SocketRemote() net.Addr { return c.sock.RemoteAddr() }

// SetDeadline sets both deadlines on the transport.
func (c *Conn) SetDeadline(t time.Time) error { return c.tr.SetDeadline(t) }

// SetReadDeadline sets the read deadline on the transport.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.tr.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline on the transport.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.tr.SetWriteDeadline(t) }

// Close closes the mux, the transport and the socket, and gives the
// listener's connection slot back, exactly once. It is idempotent and
// safe to call from the mux's own Close: later calls return nil at once
// (they cannot wait for the first, which may be the one calling them).
func (c *Conn) Close() error {
	if !c.closing.CompareAndSwap(false, true) {
		return nil
	}
	c.phase.Store(uint32(PhaseClosed))
	// Before the mux, whose Close may close the socket itself.
	if c.Flags()&FlagNoLinger != 0 && !c.lingerSet {
		setLinger0(c.sock)
	}
	c.mu.Lock()
	m := c.mux
	c.mux = nil
	c.mu.Unlock()
	if m != nil {
		m.Close()
	}
	var err error
	if c.tr != nil {
		// A mux may have closed the transport already.
		if err = c.tr.Close(); errors.Is(err, net.ErrClosed) {
			err = nil
		}
	}
	c.sock.Close() // a transport may not own the socket; closing twice is harmless
	if c.ln != nil {
		c.ln.release()
	}
	return err
}

// DiscardInput reads and drops what the peer has sent and the socket
// holds, up to max bytes, without waiting: closing a socket with unread
// bytes sends a reset, so a proxy that will not forward a client's bytes
// (no server could be had, say) drops them first to end with a FIN, as
// HAProxy, which has them in its buffer by then, does. It reports how
// many bytes it dropped; a transport other than raw is left alone.
func (c *Conn) DiscardInput(max int) int {
	rc, ok := c.tr.Raw()
	if !ok {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) { n = discardFD(int(fd), max) })
	return n
}

// PeerClosed tells, without waiting and without taking anything, whether
// the peer has closed its side of the connection (a FIN or a reset
// came), and whether bytes it sent are still unread on the socket. A
// proxy uses it to drop a request whose client went away while it waited
// (HAProxy's abortonclose). Linux reads the connection's TCP state, so a
// FIN behind unread bytes counts; other Unix systems can only tell a
// close with nothing unread. Where the socket cannot be asked, both are
// false.
func (c *Conn) PeerClosed() (closed, unread bool) {
	sc, ok := c.sock.(syscall.Conn)
	if !ok {
		return false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false
	}
	_ = rc.Control(func(fd uintptr) { closed, unread = peerClosedFD(int(fd)) })
	return closed, unread
}

// SilentDrop closes the connection so that the peer learns nothing, as
// HAProxy's silent-drop does: no FIN, and where the system allows it
// (TCP_REPAIR, which needs CAP_NET_ADMIN; ttl 0 tries it) no reset
// either; otherwise a reset sent with an IP TTL of ttl (1 when 0), which
// dies before it reaches a peer that many hops away. It reports whether
// the close was silent through repair mode.
func (c *Conn) SilentDrop(ttl int) bool {
	silent := silentDrop(c.sock, ttl)
	_ = c.Close()
	return silent
}

// SetMark sets the netfilter mark (SO_MARK) of the packets the connection
// sends from now on, as HAProxy's set-mark action does. It needs Linux and
// CAP_NET_ADMIN; elsewhere, or without the privilege, it returns the error.
func (c *Conn) SetMark(mark uint32) error { return setMark(c.sock, mark) }

// SetTOS sets the type-of-service byte (IPv4) or traffic class (IPv6) of
// the packets the connection sends from now on, as HAProxy's set-tos
// action does. The system keeps the low 8 bits, and may keep the ECN bits
// its own. As in HAProxy, the family is that of [Conn.Src], the address
// a PROXY header or [Conn.SetSrc] gave included: an IPv6 one (not
// IPv4-mapped) sets the traffic class, which an IPv4 socket refuses.
func (c *Conn) SetTOS(tos int) error {
	a := c.Src().Addr()
	if !a.IsValid() {
		return errors.New("conn: set-tos: not an IP connection")
	}
	return setTOS(c.sock, tos, a.Is6() && !a.Is4In6())
}

// Abort closes the connection with a reset (SO_LINGER 0) rather than a
// FIN, so the peer learns at once that nothing more will come and no
// TIME_WAIT is left behind.
func (c *Conn) Abort() error {
	c.setFlag(FlagNoLinger)
	return c.Close()
}
