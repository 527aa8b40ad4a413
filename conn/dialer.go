package conn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrDial wraps every failure of [Dialer.Dial]: connect, PROXY header
// write, transport setup or handshake.
var ErrDial = errors.New("conn: dial failed")

// Dialer opens connections to servers.
//
// A Dialer holds no state of its own and is safe for concurrent use. It
// keeps no idle connections: reusing them (HTTP keep-alive to servers) is
// left to a pool above it, which calls Dial on a miss.
type Dialer struct {
	// Source, when valid, is the local address to bind before connecting
	// (HAProxy's "source"); a zero port lets the kernel pick one.
	Source netip.AddrPort
	// Timeout bounds the TCP connect; 0 means no bound beyond ctx.
	Timeout time.Duration
	// HandshakeTimeout bounds the PROXY header write and the transport
	// handshake when ctx has no deadline; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// KeepAlive tunes TCP keepalive as [ListenConfig.KeepAlive] does;
	// keepalive is on unless DisableKeepAlive.
	KeepAlive net.KeepAliveConfig
	// DisableKeepAlive turns TCP keepalive off (HAProxy's default,
	// without option tcpka or srvtcpka), which also saves the four
	// system calls per connection that set it.
	DisableKeepAlive bool
	// SendProxy is the PROXY protocol version to send after connect: 0
	// for none, 1 or 2.
	SendProxy int
	// SelfHeader makes a v1 header sent without a ProxyHeader (Dial's ph
	// nil) tell the connection's own addresses, its local address as the
	// source and the server's (Dial's address, even through a SOCKS4
	// proxy) as the destination, as HAProxy's health checks do, in place
	// of "PROXY UNKNOWN". A v2 header stays LOCAL, as HAProxy's checks
	// send it; a connection without IP addresses (a UNIX socket) sends
	// "PROXY UNKNOWN".
	SelfHeader bool
	// NoLinger makes the connection close with a reset (SO_LINGER 0),
	// however it is closed, as HAProxy's "option nolinger" does on a
	// backend: no FIN, no TIME_WAIT, and bytes not yet sent are lost.
	NoLinger bool
	// DelayAck holds back the last ACK of the TCP handshake so that it
	// leaves with the first bytes sent (TCP_QUICKACK off before connect,
	// HAProxy's "option tcp-smart-connect"), saving a packet per
	// connection. Set it only when bytes go at once (a request ready, a
	// PROXY header): a server that speaks first would otherwise see its
	// connection complete only when the kernel's delayed-ACK timer fires.
	// Linux only; elsewhere it is ignored.
	DelayAck bool
	// UserTimeout bounds how long sent bytes may stay unacknowledged
	// before the kernel gives the connection up (TCP_USER_TIMEOUT,
	// HAProxy's server "tcp-ut"); 0 keeps the system's. Linux only.
	UserTimeout time.Duration
	// FastOpen sends the first bytes written (a PROXY header, a request)
	// with the SYN when the server gave this host a Fast Open cookie
	// before (TCP_FASTOPEN_CONNECT, HAProxy's server "tfo"); the kernel
	// uses it where net.ipv4.tcp_fastopen lets clients (bit 1, the
	// default). Such bytes may reach a server twice if the SYN is
	// retransmitted: use it for idempotent first requests. Linux only.
	FastOpen bool
	// Control, if not nil, is called with the socket after it is created
	// and before it connects, as [net.Dialer.Control] is: the place for a
	// socket option conn has no field for. An error fails the dial.
	Control func(network, address string, c syscall.RawConn) error
	// Transport builds the transport stack; nil means raw.
	Transport TransportFunc
	// SOCKS4, when not empty, is the address (host:port) of a SOCKS4
	// proxy to go through (HAProxy's server "socks4"): Dial connects to
	// it rather than to address, asks it to CONNECT to address, which
	// must then be an IPv4 address and port, and waits for its grant
	// before the PROXY header and the transport handshake, which go to
	// the server through it. The handshake is bounded as theirs are
	// (HandshakeTimeout); its failures wrap [ErrSOCKS4], a refusal a
	// [*SOCKS4Error]. The connection's addresses stay the socket's: its
	// remote address is the proxy's.
	SOCKS4 string
	// SOCKS4UserID is the user id the SOCKS4 request carries ("" for
	// none; HAProxy sends "HAProxy").
	SOCKS4UserID string
}

// Dial connects to address and returns the connection with its handshakes
// done: the PROXY header, if SendProxy is set, and the transport's.
//
// ph carries what the header tells the server: the client's addresses and
// any TLVs (see [NewProxyHeader] and [Conn.Src]); its Version is ignored in
// favour of SendProxy. A nil ph sends a LOCAL header (v2) or "PROXY
// UNKNOWN" (v1), as HAProxy does for connections it makes itself; its
// health checks' v1 header tells their own addresses (SelfHeader).
func (d *Dialer) Dial(ctx context.Context, network, address string, ph *ProxyHeader) (*Conn, error) {
	var hdr []byte
	if d.SendProxy != 0 {
		if d.SendProxy != 1 && d.SendProxy != 2 {
			return nil, fmt.Errorf("%w: SendProxy %d is not 0, 1 or 2", ErrDial, d.SendProxy)
		}
		h := ProxyHeader{Command: CommandLocal}
		if ph != nil {
			h = *ph
		}
		h.Version = uint8(d.SendProxy)
		var err error
		if hdr, err = h.AppendTo(nil); err != nil {
			return nil, fmt.Errorf("%w: to %s: %w", ErrDial, address, err)
		}
	}
	nd := net.Dialer{Timeout: d.Timeout, KeepAlive: -1, Control: d.Control}
	if d.DelayAck {
		nd.Control = delayAckControl(nd.Control)
	}
	if d.UserTimeout > 0 || d.FastOpen {
		nd.Control = dialOptsControl(d.UserTimeout, d.FastOpen, nd.Control)
	}
	if !d.DisableKeepAlive {
		nd.KeepAliveConfig = keepAliveOn(d.KeepAlive)
	}
	if d.Source.IsValid() {
		nd.LocalAddr = net.TCPAddrFromAddrPort(d.Source)
		if network == "unix" {
			return nil, fmt.Errorf("%w: a source address needs a TCP network, not %q", ErrDial, network)
		}
	}
	target := address
	if d.SOCKS4 != "" {
		if network == "unix" {
			return nil, fmt.Errorf("%w: a SOCKS4 proxy needs a TCP network, not %q", ErrDial, network)
		}
		if err := socks4Target(address); err != nil {
			// Before any connect, as HAProxy's own socket for an IPv6
			// server fails to connect to an IPv4 proxy.
			return nil, fmt.Errorf("%w: via %s to %s: %w", ErrDial, d.SOCKS4, address, err)
		}
		target = d.SOCKS4
	}
	sock, err := nd.DialContext(ctx, network, target)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDial, err)
	}
	if d.SOCKS4 != "" {
		hctx, cancel := d.handshakeCtx(ctx)
		err := socks4Handshake(hctx, sock, address, d.SOCKS4UserID)
		cancel()
		if err != nil {
			if d.NoLinger {
				setLinger0(sock)
			}
			sock.Close()
			return nil, fmt.Errorf("%w: via %s to %s: %w", ErrDial, d.SOCKS4, address, err)
		}
	}
	c := &Conn{sock: sock}
	c.setFlag(FlagOutgoing)
	if d.NoLinger {
		// On the socket at once, not at Close: a tunnel closes the
		// socket itself.
		setLinger0(sock)
		c.setFlag(FlagNoLinger)
		c.lingerSet = true
	}
	tf := d.Transport
	if tf == nil {
		tf = RawTransport
	}
	if c.tr, err = tf(sock); err != nil {
		sock.Close()
		return nil, fmt.Errorf("%w: transport to %s: %w", ErrDial, address, err)
	}
	if d.Transport == nil && len(hdr) == 0 {
		// A raw transport has no handshake: with no header to send either,
		// the connection is ready, and no timer is set up for nothing.
		c.phase.Store(uint32(PhaseReady))
		return c, nil
	}
	ctx, cancel := d.handshakeCtx(ctx)
	defer cancel()
	if d.SelfHeader && d.SendProxy == 1 && ph == nil {
		if hdr, err = selfHeader(sock, address); err != nil {
			c.Close()
			return nil, fmt.Errorf("%w: to %s: %w", ErrDial, address, err)
		}
	}
	if len(hdr) > 0 {
		c.phase.Store(uint32(PhaseProxy))
		if err := writeAll(ctx, sock, hdr); err != nil {
			c.Close()
			return nil, fmt.Errorf("%w: sending PROXY header to %s: %w", ErrDial, address, err)
		}
		c.setFlag(FlagSentProxy)
	}
	c.phase.Store(uint32(PhaseTransport))
	if err := c.tr.Handshake(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %s handshake with %s: %w", ErrDial, c.tr.Name(), address, err)
	}
	c.phase.Store(uint32(PhaseReady))
	return c, nil
}

// selfHeader is the v1 header of a connection that tells its own
// addresses: the socket's local one, and address, the server's.
func selfHeader(sock net.Conn, address string) ([]byte, error) {
	h := ProxyHeader{Version: 1, Command: CommandLocal}
	src := addrPort(sock.LocalAddr())
	if dst, err := netip.ParseAddrPort(address); err == nil && src.IsValid() {
		h.SetAddrs(netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port()))
	}
	return h.AppendTo(nil)
}

// handshakeCtx bounds the handshakes after connect: by ctx's deadline
// when it has one, else by HandshakeTimeout.
func (d *Dialer) handshakeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	to := d.HandshakeTimeout
	if to <= 0 {
		to = DefaultHandshakeTimeout
	}
	return context.WithTimeout(ctx, to)
}

// writeAll writes b before ctx ends. A socket write returns only once
// everything is written or an error occurs, which is how HAProxy's
// partial-send offset is handled here.
func writeAll(ctx context.Context, c net.Conn, b []byte) error {
	if d, ok := ctx.Deadline(); ok {
		c.SetWriteDeadline(d)
		defer c.SetWriteDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.SetWriteDeadline(time.Unix(1, 0)) })
	_, err := c.Write(b)
	if !stop() && err == nil {
		err = context.Cause(ctx) // the deadline may be left in the past
	}
	return err
}

// keepAliveOn is cfg enabled, with Go's defaults for zero timings: 15 s
// idle, 15 s between probes, 9 probes.
func keepAliveOn(cfg net.KeepAliveConfig) net.KeepAliveConfig {
	cfg.Enable = true
	if cfg.Idle == 0 {
		cfg.Idle = 15 * time.Second
	}
	if cfg.Interval == 0 {
		cfg.Interval = 15 * time.Second
	}
	if cfg.Count == 0 {
		cfg.Count = 9
	}
	return cfg
}
