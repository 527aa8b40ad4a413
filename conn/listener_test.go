package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
)

func listen(t *testing.T, cfg ListenConfig) *Listener {
	t.Helper()
	l, err := cfg.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func dial(t *testing.T, addr net.Addr) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// eventually polls cond until it holds, failing after a generous bound; it
// waits for a state, it does not measure time.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

type acceptResult struct {
	c   *Conn
	err error
}

func acceptAsync(l *Listener) chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := l.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

func TestListenerMaxConnPausesAccepting(t *testing.T) {
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{MaxConn: 2})
	var clients [3]*net.TCPConn
	for i := range clients {
		clients[i] = dial(t, l.Addr())
	}
	a, err := l.Accept()
	require.NoError(t, err)
	b, err := l.Accept()
	require.NoError(t, err)
	require.Equal(t, int64(2), l.Stats().Active)

	third := acceptAsync(l)
	// The third client is connected at TCP level, waiting in the backlog,
	// and the accept loop waits for a slot instead of taking it.
	eventually(t, func() bool { return l.Stats().FullWaits == 1 }, "accept to wait for a slot")
	require.Equal(t, 1, backlog(t, l))
	select {
	case r := <-third:
		t.Fatalf("accepted over maxconn: %v", r.err)
	default:
	}

	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "Close is idempotent")
	r := <-third
	require.NoError(t, r.err)
	require.Equal(t, clients[2].LocalAddr().String(), r.c.RemoteAddr().String())
	require.Equal(t, int64(2), l.Stats().Active, "a second Close must not free a second slot")
	require.NoError(t, b.Close())
	require.NoError(t, r.c.Close())
	require.Equal(t, int64(0), l.Stats().Active)
	require.NoError(t, l.Close())
}

func TestListenerRateLimitDelays(t *testing.T) {
	testnet.LeakCheck(t)
	clock := freq.NewFakeClock(1000)
	l := listen(t, ListenConfig{RateLimit: 3, RateClock: clock})
	for range 4 {
		dial(t, l.Addr())
	}
	for range 3 {
		c, err := l.Accept()
		require.NoError(t, err)
		defer c.Close()
	}
	require.Zero(t, l.Stats().RateWaits)
	fourth := acceptAsync(l)
	eventually(t, func() bool { return l.Stats().RateWaits > 0 }, "accept to wait for the rate")
	require.Equal(t, 1, backlog(t, l), "the client waits in the backlog, not refused")
	select {
	case r := <-fourth:
		t.Fatalf("accepted over the rate: %v", r.err)
	default:
	}
	clock.Advance(2000) // the next period, with the previous one over
	r := <-fourth
	require.NoError(t, r.err)
	r.c.Close()
	require.NoError(t, l.Close())
}

func TestListenerRules(t *testing.T) {
	tests := []struct {
		name    string
		verdict Verdict
		ttl     int
		// resetOnly: the client must see a reset. Otherwise (TCP_REPAIR
		// silent drop) it may see nothing at all or, without
		// CAP_NET_ADMIN, the reset.
		resetOnly bool
	}{
		{"reject", Reject, 0, true},
		{"silent-drop rst-ttl", SilentDrop, 1, true},
		{"silent-drop repair", SilentDrop, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			var seen netip.AddrPort
			transportBuilt := true
			l := listen(t, ListenConfig{MaxConn: 1, SilentDropTTL: tt.ttl, Rules: []Rule{
				func(c *Conn) Verdict { return Continue },
				func(c *Conn) Verdict {
					seen, transportBuilt = c.Src(), c.Transport() != nil
					return tt.verdict
				},
				func(c *Conn) Verdict { panic("rules after a final verdict must not run") },
			}})
			c := dial(t, l.Addr())
			res := acceptAsync(l)
			eventually(t, func() bool {
				s := l.Stats()
				return s.Rejected+s.SilentDropped == 1
			}, "the rule to dispose of the connection")
			require.Equal(t, c.LocalAddr().String(), seen.String())
			require.False(t, transportBuilt, "rules run on the bare socket")
			// The count goes up as the rule decides; the slot goes back
			// a moment later, once the socket is disposed of.
			eventually(t, func() bool { return l.Stats().Active == 0 }, "the slot is released")

			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := c.Read(make([]byte, 1))
			require.Zero(t, n)
			require.Error(t, err)
			require.NotErrorIs(t, err, io.EOF, "a FIN must not reach the client")
			if tt.resetOnly {
				require.ErrorIs(t, err, syscall.ECONNRESET)
			} else if !errors.Is(err, syscall.ECONNRESET) {
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			}
			require.NoError(t, l.Close())
			r := <-res
			require.ErrorIs(t, r.err, ErrClosed)
			require.ErrorIs(t, r.err, net.ErrClosed)
		})
	}
}

func TestListenerPauseResume(t *testing.T) {
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{})
	res := acceptAsync(l) // blocked in the kernel accept when Pause comes
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, l.Pause())
	require.True(t, l.Paused())
	client := dial(t, l.Addr())
	eventually(t, func() bool { return backlog(t, l) == 1 }, "the client to reach the backlog")
	time.Sleep(50 * time.Millisecond) // give a wrong implementation the chance to accept
	select {
	case r := <-res:
		t.Fatalf("accepted while paused: %v", r.err)
	default:
	}
	require.Zero(t, l.Stats().Accepted)
	require.NoError(t, l.Resume())
	r := <-res
	require.NoError(t, r.err)
	require.Equal(t, client.LocalAddr().String(), r.c.RemoteAddr().String())
	r.c.Close()
	require.NoError(t, l.Close())
}

// serve runs l.Serve in the background and returns a channel of the
// connections handed to the handler, which echoes what it reads until EOF.
func serve(t *testing.T, l *Listener) (chan *Conn, func()) {
	conns := make(chan *Conn, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Serve(context.Background(), func(ctx context.Context, c *Conn) {
			conns <- c
			io.Copy(c, c)
		})
	}()
	return conns, func() { l.Close(); <-done }
}

func TestListenerAcceptProxy(t *testing.T) {
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{AcceptProxy: true})
	conns, stop := serve(t, l)
	defer stop()

	h := NewProxyHeader(netip.MustParseAddrPort("203.0.113.7:4242"), netip.MustParseAddrPort("198.51.100.1:443"))
	require.NoError(t, h.AddTLV(TLVAuthority, []byte("www.example.com")))
	require.NoError(t, h.AddTLV(TLVUniqueID, []byte("req-1")))
	h.AddCRC32C()
	hdr, err := h.AppendTo(nil)
	require.NoError(t, err)

	client := dial(t, l.Addr())
	_, err = client.Write(append(hdr, "hello"...))
	require.NoError(t, err)
	c := <-conns
	require.Equal(t, "203.0.113.7:4242", c.Src().String())
	require.Equal(t, "198.51.100.1:443", c.Dst().String())
	require.Equal(t, "203.0.113.7:4242", c.RemoteAddr().String())
	require.Equal(t, "198.51.100.1:443", c.LocalAddr().String())
	require.Equal(t, client.LocalAddr().String(), c.SocketRemote().String())
	require.Equal(t, client.RemoteAddr().String(), c.SocketLocal().String())
	require.Equal(t, PhaseReady, c.Phase())
	require.NotZero(t, c.Flags()&FlagProxied)
	ph := c.ProxyHeader()
	require.NotNil(t, ph)
	require.Equal(t, "www.example.com", ph.Authority())
	require.Equal(t, []byte("req-1"), ph.UniqueID())
	require.True(t, ph.HasCRC32C())
	got := make([]byte, 5)
	_, err = io.ReadFull(client, got)
	require.NoError(t, err)
	require.Equal(t, "hello", string(got), "bytes after the header reach the application")
	client.CloseWrite()
}

// A rule may require the header for some sources only, as HAProxy's
// "tcp-request connection expect-proxy layer4 if ..." does.
func TestRuleExpectProxy(t *testing.T) {
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{Rules: []Rule{func(c *Conn) Verdict {
		if c.Src().Addr() == netip.MustParseAddr("127.0.0.2") {
			c.ExpectProxy()
		}
		return Accept
	}}})
	conns, stop := serve(t, l)
	defer stop()

	trusted, err := (&Dialer{Source: netip.MustParseAddrPort("127.0.0.2:0"), SendProxy: 1}).Dial(context.Background(), "tcp",
		l.Addr().String(), NewProxyHeader(netip.MustParseAddrPort("192.0.2.50:5000"), netip.MustParseAddrPort("192.0.2.51:80")))
	require.NoError(t, err)
	defer trusted.Close()
	c := <-conns
	require.Equal(t, "192.0.2.50:5000", c.Src().String())

	other, err := (&Dialer{}).Dial(context.Background(), "tcp", l.Addr().String(), nil)
	require.NoError(t, err)
	defer other.Close()
	c = <-conns
	require.Nil(t, c.ProxyHeader(), "no header expected from other sources")
	require.Equal(t, other.LocalAddr().String(), c.Src().String())
}

func TestListenerProxyHeaderRejected(t *testing.T) {
	tests := []struct {
		name string
		send string
		// timeout: the client sends a partial header and stalls.
		timeout bool
	}{
		{"garbage", "GET / HTTP/1.1\r\nHost: secret\r\n\r\n", false},
		{"bad v1", "PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\nsecret", false},
		{"slow", "PROXY TCP4 1.2.3.4 ", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			l := listen(t, ListenConfig{AcceptProxy: true, HandshakeTimeout: 100 * time.Millisecond})
			conns, stop := serve(t, l)
			defer stop()
			client := dial(t, l.Addr())
			_, err := client.Write([]byte(tt.send))
			require.NoError(t, err)
			// The server closes without passing anything on or answering.
			client.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := client.Read(make([]byte, 64))
			require.Zero(t, n)
			require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "got %v", err)
			eventually(t, func() bool { return l.Stats().HandshakeFailed == 1 }, "the handshake failure")
			require.Zero(t, l.Stats().Active)
			select {
			case c := <-conns:
				t.Fatalf("connection from %v reached the handler", c.Src())
			default:
			}
		})
	}
}

// A client that never finishes its header must not delay the others: the
// header is read in the connection's goroutine, not the accept loop.
func TestListenerSlowHeaderDoesNotBlockOthers(t *testing.T) {
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{AcceptProxy: true, HandshakeTimeout: time.Minute})
	conns, stop := serve(t, l)
	defer stop()
	slow := dial(t, l.Addr())
	_, err := slow.Write([]byte("PROXY TCP4 "))
	require.NoError(t, err)
	eventually(t, func() bool { return l.Stats().Accepted == 1 }, "the slow client to be accepted")
	fast := dial(t, l.Addr())
	_, err = fast.Write([]byte("PROXY TCP4 192.0.2.9 192.0.2.10 1000 80\r\n"))
	require.NoError(t, err)
	c := <-conns
	require.Equal(t, "192.0.2.9:1000", c.Src().String())
	fast.Close()
	// stop (deferred) closes the listener, which cancels the slow
	// handshake and closes its connection.
}

func TestDialer(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name   string
		d      Dialer
		ph     *ProxyHeader
		source string
		src    string
	}{
		{"source address", Dialer{Source: ap("127.0.0.2:0")}, nil, "127.0.0.2", ""},
		{"send-proxy v1", Dialer{SendProxy: 1}, NewProxyHeader(ap("192.0.2.1:1111"), ap("192.0.2.2:80")), "127.0.0.1", "192.0.2.1:1111"},
		{"send-proxy v2", Dialer{SendProxy: 2}, func() *ProxyHeader {
			h := NewProxyHeader(ap("[2001:db8::1]:2222"), ap("[2001:db8::2]:443"))
			h.AddTLV(TLVAuthority, []byte("example.org"))
			h.AddCRC32C()
			return h
		}(), "127.0.0.1", "[2001:db8::1]:2222"},
		{"send-proxy v2 local", Dialer{SendProxy: 2, Source: ap("127.0.0.3:0")}, nil, "127.0.0.3", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			l := listen(t, ListenConfig{AcceptProxy: tt.d.SendProxy != 0})
			conns, stop := serve(t, l)
			defer stop()
			out, err := tt.d.Dial(context.Background(), "tcp", l.Addr().String(), tt.ph)
			require.NoError(t, err)
			defer out.Close()
			require.NotZero(t, out.Flags()&FlagOutgoing)
			require.Equal(t, PhaseReady, out.Phase())
			in := <-conns
			require.Equal(t, tt.source, in.SocketRemote().(*net.TCPAddr).IP.String())
			if tt.src == "" {
				require.Equal(t, in.SocketRemote().String(), in.Src().String(), "no header, or LOCAL: the socket's address")
			} else {
				require.Equal(t, tt.src, in.Src().String())
				if tt.ph.Authority() != "" {
					require.Equal(t, tt.ph.Authority(), in.ProxyHeader().Authority())
				}
			}
			_, err = out.Write([]byte("ping"))
			require.NoError(t, err)
			got := make([]byte, 4)
			_, err = io.ReadFull(out, got)
			require.NoError(t, err)
			require.Equal(t, "ping", string(got))
		})
	}
}

func TestDialerErrors(t *testing.T) {
	testnet.LeakCheck(t)
	d := Dialer{SendProxy: 3}
	_, err := d.Dial(context.Background(), "tcp", "127.0.0.1:1", nil)
	require.ErrorIs(t, err, ErrDial)
	require.ErrorContains(t, err, "SendProxy 3")

	// A port nobody listens on: the connect is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	_, err = (&Dialer{}).Dial(context.Background(), "tcp", addr, nil)
	require.ErrorIs(t, err, ErrDial)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// Control sees the socket before it connects, with the network and
// address of the dial, and its error fails the dial before any connect.
func TestDialerControl(t *testing.T) {
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{})
	conns, stop := serve(t, l)
	defer stop()
	addr := l.Addr().String()
	var calls []string
	var sockets []uintptr
	d := Dialer{Control: func(network, address string, c syscall.RawConn) error {
		calls = append(calls, network+" "+address)
		return c.Control(func(fd uintptr) { sockets = append(sockets, fd) })
	}}
	out, err := d.Dial(context.Background(), "tcp", addr, nil)
	require.NoError(t, err)
	defer out.Close()
	<-conns
	require.Equal(t, []string{"tcp4 " + addr}, calls)
	require.Len(t, sockets, 1)
	require.NotZero(t, sockets[0])

	refuse := errors.New("not this socket")
	d.Control = func(string, string, syscall.RawConn) error { return refuse }
	_, err = d.Dial(context.Background(), "tcp", addr, nil)
	require.ErrorIs(t, err, ErrDial)
	require.ErrorIs(t, err, refuse)
	require.Equal(t, uint64(1), l.Stats().Accepted, "the refused dial never connected")
}

type fakeMux struct {
	c      *Conn
	closed int
	mu     sync.Mutex
}

func (m *fakeMux) Close() error {
	m.mu.Lock()
	m.closed++
	m.mu.Unlock()
	return m.c.Close() // a mux closing its connection must not deadlock
}

func TestConnCloseWithMux(t *testing.T) {
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{MaxConn: 1})
	dial(t, l.Addr())
	c, err := l.Accept()
	require.NoError(t, err)
	require.NoError(t, c.Handshake(context.Background()))
	m := &fakeMux{c: c}
	c.SetMux(m)
	require.Equal(t, Mux(m), c.Mux())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Close() }()
	}
	wg.Wait()
	require.Equal(t, 1, m.closed)
	require.Equal(t, PhaseClosed, c.Phase())
	require.Zero(t, l.Stats().Active)
	_, err = c.Write([]byte("x"))
	require.Error(t, err)
	require.NoError(t, l.Close())
}

// transportCloser is a mux whose Close closes the transport, and with it
// the socket, as the HTTP muxes do.
type transportCloser struct{ c *Conn }

func (m transportCloser) Close() error { return m.c.Transport().Close() }

// Abort resets the connection: the peer's read fails with ECONNRESET, not
// an end of stream, with or without a mux that closes the socket first.
func TestConnAbort(t *testing.T) {
	for _, withMux := range []bool{false, true} {
		t.Run(fmt.Sprintf("mux=%v", withMux), func(t *testing.T) {
			testnet.LeakCheck(t)
			l := listen(t, ListenConfig{})
			peer := dial(t, l.Addr())
			c, err := l.Accept()
			require.NoError(t, err)
			require.NoError(t, c.Handshake(context.Background()))
			if withMux {
				c.SetMux(transportCloser{c})
			}
			require.NoError(t, c.Abort())
			require.NotZero(t, c.Flags()&FlagNoLinger)
			require.NoError(t, peer.SetReadDeadline(time.Now().Add(10*time.Second)))
			_, err = peer.Read(make([]byte, 1))
			require.ErrorIs(t, err, syscall.ECONNRESET)
			require.NoError(t, l.Close())
		})
	}
}

// With NoLinger, a connection ends with a reset however its socket is
// closed (here straight, as a tunnel closes it), accepted or dialed.
func TestNoLinger(t *testing.T) {
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{NoLinger: true})
	conns, stop := serve(t, l)
	defer stop()

	peer := dial(t, l.Addr())
	in := <-conns
	require.NotZero(t, in.Flags()&FlagNoLinger)
	require.NoError(t, in.Socket().Close())
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := peer.Read(make([]byte, 1))
	require.ErrorIs(t, err, syscall.ECONNRESET, "accepted with NoLinger")

	plain := testnet.Listen(t)
	for _, nolinger := range []bool{true, false} {
		out, err := (&Dialer{NoLinger: nolinger}).Dial(context.Background(), "tcp", plain.Addr().String(), nil)
		require.NoError(t, err)
		require.Equal(t, nolinger, out.Flags()&FlagNoLinger != 0)
		srv, err := plain.Accept()
		require.NoError(t, err)
		require.NoError(t, out.Socket().Close())
		require.NoError(t, srv.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err = srv.Read(make([]byte, 1))
		if nolinger {
			require.ErrorIs(t, err, syscall.ECONNRESET, "dialed with NoLinger")
		} else {
			require.ErrorIs(t, err, io.EOF, "dialed without NoLinger")
		}
		require.NoError(t, out.Close())
		require.NoError(t, srv.Close())
	}
}

func TestListenReusePort(t *testing.T) {
	testnet.LeakCheck(t)
	a := listen(t, ListenConfig{ReusePort: true})
	b, err := ListenConfig{ReusePort: true}.Listen(context.Background(), "tcp", a.Addr().String())
	require.NoError(t, err, "a second SO_REUSEPORT listener shares the port")
	require.NoError(t, b.Close())
	_, err = ListenConfig{}.Listen(context.Background(), "tcp", a.Addr().String())
	require.Error(t, err, "without SO_REUSEPORT the port is taken")
	require.NoError(t, a.Close())
}

var handshakeSink *Conn

// An accepted connection on a raw transport without a PROXY header has
// nothing to wait for in its handshake: it arms no timer and makes no
// context, which would be left as garbage next to the Conn. With a
// PROXY header to read, the handshake timeout still applies.
func TestRawHandshakeArmsNoTimer(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ln := &Listener{cfg: ListenConfig{HandshakeTimeout: time.Minute}}
	tr := xprt.NewRaw(a)
	mk := func() *Conn {
		c := &Conn{sock: a, tr: tr, ln: ln}
		handshakeSink = c
		return c
	}
	base := testing.AllocsPerRun(20, func() { mk() })
	with := testing.AllocsPerRun(20, func() {
		if err := mk().Handshake(context.Background()); err != nil {
			t.Errorf("handshake: %v", err)
		}
	})
	require.Equal(t, base, with)

	// A PROXY header is waited for within the timeout: the Conn's read
	// fails at its deadline rather than waiting for ever.
	ln.cfg.HandshakeTimeout = 50 * time.Millisecond
	c := &Conn{sock: a, tr: tr, ln: ln}
	c.setFlag(FlagAcceptProxy)
	err := c.Handshake(context.Background())
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

// Listeners sharing a rate counter share its limit: the accepts of both
// count, and a listener that was already waiting in accept when the other
// used the rate up holds its next client until the rate allows it.
func TestListenerSharedRate(t *testing.T) {
	testnet.LeakCheck(t)
	clock := freq.NewFakeClock(1000)
	rate := freq.NewCounter(clock)
	a := listen(t, ListenConfig{RateLimit: 2, Rate: rate})
	b := listen(t, ListenConfig{RateLimit: 2, Rate: rate})
	third := acceptAsync(b) // b waits in accept, under the rate
	for range 2 {
		dial(t, a.Addr())
	}
	for range 2 {
		c, err := a.Accept()
		require.NoError(t, err)
		defer c.Close()
	}
	dial(t, b.Addr())
	eventually(t, func() bool { return b.Stats().RateWaits > 0 }, "the second listener to wait for the shared rate")
	select {
	case r := <-third:
		t.Fatalf("accepted over the shared rate: %v", r.err)
	default:
	}
	clock.Advance(2000)
	r := <-third
	require.NoError(t, r.err)
	r.c.Close()
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
}

// ListenConfig.Rates adds limits shared between listeners to the
// listener's own: an accept waits for the tightest.
func TestListenerExtraRates(t *testing.T) {
	testnet.LeakCheck(t)
	clock := freq.NewFakeClock(1000)
	global := freq.NewCounter(clock)
	a := listen(t, ListenConfig{Rates: []SharedRate{{Counter: global, Limit: 1}}})
	b := listen(t, ListenConfig{RateLimit: 5, RateClock: clock, Rates: []SharedRate{{Counter: global, Limit: 1}}})
	dial(t, a.Addr())
	c, err := a.Accept()
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, uint32(1), global.Rate())
	second := acceptAsync(b)
	dial(t, b.Addr())
	eventually(t, func() bool { return b.Stats().RateWaits > 0 }, "the second listener to wait for the shared rate")
	select {
	case r := <-second:
		t.Fatalf("accepted over the shared rate: %v", r.err)
	default:
	}
	clock.Advance(2000)
	r := <-second
	require.NoError(t, r.err)
	r.c.Close()
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
}

// TestConnSilentDrop closes an accepted connection with SilentDrop: the
// client never sees a FIN; with repair mode (ttl 0, where the process
// may use it) it sees nothing at all, else a reset.
func TestConnSilentDrop(t *testing.T) {
	for _, ttl := range []int{0, 1} {
		t.Run(fmt.Sprint("ttl ", ttl), func(t *testing.T) {
			testnet.LeakCheck(t)
			l := listen(t, ListenConfig{})
			c := dial(t, l.Addr())
			sc, err := l.Accept()
			require.NoError(t, err)
			_, err = c.Write([]byte("unread request"))
			require.NoError(t, err)
			silent := sc.SilentDrop(ttl)
			if ttl > 0 {
				require.False(t, silent, "a TTL asks for the reset")
			}
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := c.Read(make([]byte, 1))
			require.Zero(t, n)
			require.NotErrorIs(t, err, io.EOF, "a FIN must not reach the client")
			if silent {
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			} else {
				require.ErrorIs(t, err, syscall.ECONNRESET)
			}
			require.Equal(t, PhaseClosed, sc.Phase())
		})
	}
}

// A Dup'ed listener accepts on the same socket, which stays open once
// the original is closed; a UNIX socket's file stays too.
func TestListenerDup(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "s.sock")
			}
			l, err := ListenConfig{}.Listen(context.Background(), network, addr)
			require.NoError(t, err)
			dup, err := l.Dup()
			require.NoError(t, err)
			l2 := ListenConfig{}.NewListener(dup)
			defer l2.Close()
			require.Equal(t, l.Addr().String(), l2.Addr().String())
			require.NoError(t, l.Close())
			c, err := net.Dial(network, l2.Addr().String())
			require.NoError(t, err, "the socket outlives the original listener")
			defer c.Close()
			a, err := l2.Accept()
			require.NoError(t, err)
			_ = a.Close()
		})
	}
}

// Duplicating a listener never leaves its socket in blocking mode, not
// even for a moment: an Accept of the original's taking a connection
// then would call accept(2) again and block in the kernel, where Close
// no longer reaches it.
func TestListenerDupKeepsAcceptInterruptible(t *testing.T) {
	l, err := ListenConfig{}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	stop := make(chan struct{})
	dialed := make(chan struct{})
	go func() {
		defer close(dialed)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
				_ = c.Close()
			}
		}
	}()
	for range 300 {
		dup, err := l.Dup()
		require.NoError(t, err)
		require.NoError(t, dup.Close())
	}
	close(stop)
	<-dialed
	require.NoError(t, l.Close())
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close: it blocks in the kernel")
	}
}
