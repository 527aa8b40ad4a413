package balancer

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
	"github.com/stretchr/testify/require"
)

// heldSink accepts connections and keeps them open, its handlers ending
// at once, so that counting goroutines counts the balancer's. On a TLS
// listener it runs each handshake first.
type heldSink struct {
	ln    net.Listener
	stop  func()
	mu    sync.Mutex
	conns []net.Conn
}

func newHeldSink(t testing.TB) *heldSink {
	t.Helper()
	return holdOn(t, testnet.Listen(t))
}

// holdOn is newHeldSink on a listener of the caller's.
func holdOn(t testing.TB, ln net.Listener) *heldSink {
	s := &heldSink{ln: ln}
	s.stop = testnet.Accept(ln, func(c net.Conn) {
		if tc, ok := c.(*tls.Conn); ok {
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			_ = tc.Handshake()
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
	})
	t.Cleanup(s.close)
	return s
}

func (s *heldSink) held() []net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Conn(nil), s.conns...)
}

func (s *heldSink) close() {
	s.stop()
	for _, c := range s.held() {
		_ = c.Close()
	}
}

// Idle proxied TCP connections hold no goroutine: both directions of each
// tunnel park in the shared poller and the session's own goroutine has
// ended. They still carry bytes both ways once woken, and their traffic
// lines are written when they close.
func TestIdleTCPSessionsHoldNoGoroutine(t *testing.T) {
	const n = 64
	check := testnet.Snapshot(t)
	sink := newHeldSink(t)
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    server s %s
`, sink.ln.Addr().String()))
	addr := feAddr(t, b, "px")
	g0 := runtime.NumGoroutine()

	clients := make([]net.Conn, n)
	for i := range clients {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		clients[i] = c
	}
	require.Eventually(t, func() bool { return len(sink.held()) == n }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return xprt.Parked() == 2*n }, 10*time.Second, 5*time.Millisecond,
		"parked directions: %d", xprt.Parked())
	require.Equal(t, n, b.Sessions())
	// Before, each session kept a goroutine blocked until its tunnel ended.
	g := runtime.NumGoroutine()
	require.Less(t, g-g0, n/4, "goroutines %d with %d idle sessions, %d before them", g, n, g0)

	// Woken, every tunnel still carries bytes both ways.
	for _, c := range clients {
		_, err := c.Write([]byte("ping"))
		require.NoError(t, err)
	}
	servers := sink.held()
	for _, c := range servers {
		expectRead(t, c, "ping")
		_, err := c.Write([]byte("pong"))
		require.NoError(t, err)
	}
	for _, c := range clients {
		expectRead(t, c, "pong")
	}

	for _, c := range clients {
		_ = c.Close()
	}
	for _, c := range servers {
		_ = c.Close()
	}
	require.Eventually(t, func() bool { return b.Sessions() == 0 }, 10*time.Second, 5*time.Millisecond)
	lines := trafficLines(logs)
	require.Len(t, lines, n)
	for _, s := range lines {
		l := parseLog(t, s)
		require.Equal(t, 4, l.bytes, s)
		require.Contains(t, []string{"--", "CD", "SD"}, l.term, s)
	}
	require.NoError(t, b.Close())
	sink.close()
	check()
}

// expectRead reads len(want) bytes from c, within ten seconds, and checks
// they are want.
func expectRead(t *testing.T, c net.Conn, want string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, len(want))
	_, err := io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, want, string(buf))
}

// waitFull waits until the listener of fe at addr has waited for a free
// slot: the client it has pending stays in the backlog.
func waitFull(t *testing.T, b *Balancer, fe string, addr net.Addr) {
	t.Helper()
	var ln *conn.Listener
	for _, f := range b.fronts {
		for _, l := range f.listeners {
			if f.cfg.Name == fe && l.Addr().String() == addr.String() {
				ln = l
			}
		}
	}
	require.NotNil(t, ln, "no listener of %s on %s", fe, addr)
	require.Eventually(t, func() bool { return ln.Stats().FullWaits > 0 }, 10*time.Second, 5*time.Millisecond)
}

// readName reads the line the named test server sends first.
func readName(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(line)
}

// A frontend's maxconn is shared by its binds: with two held connections,
// one per bind, a third waits in the backlog of either bind (it is not
// refused) and goes through as soon as a connection on the other bind
// closes.
func TestFrontendMaxconnSharedByBinds(t *testing.T) {
	check := testnet.Snapshot(t)
	srv := newServer(t, "a", false)
	b, _ := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    bind 127.0.0.1:0
    maxconn 2
    server a %s
`, srv.addr()))
	addrs := b.Addrs("px")
	require.Len(t, addrs, 2)
	// A slot freed on the second bind lets the first accept.
	checkSharedMaxconn(t, b, srv, [2]string{addrs[0].String(), addrs[1].String()}, "px", addrs[0], 1)
	check()
}

// The global maxconn is shared by every frontend in the same way.
func TestGlobalMaxconnSharedByFrontends(t *testing.T) {
	check := testnet.Snapshot(t)
	srv := newServer(t, "a", false)
	b, _ := startLB(t, parseCfg(t, globalLog+`
global
    maxconn 2
listen one
    bind 127.0.0.1:0
    server a %s
listen two
    bind 127.0.0.1:0
    server a %s
`, srv.addr(), srv.addr()))
	// A slot freed by the first frontend lets the second accept.
	checkSharedMaxconn(t, b, srv, [2]string{feAddr(t, b, "one"), feAddr(t, b, "two")}, "two", b.Addrs("two")[0], 0)
	check()
}

// checkSharedMaxconn holds a connection to each address of hold, which
// share a limit of two connections, checks that a third one, to the
// listener of fe at wait, waits in its backlog (it is not refused), and
// that it goes through to srv once the connection to hold[free] closes.
// It then closes everything and waits for b's sessions to end.
func checkSharedMaxconn(t *testing.T, b *Balancer, srv *backendServer, hold [2]string, fe string, wait net.Addr, free int) {
	t.Helper()
	var held [2]net.Conn
	for i, addr := range hold {
		c, name := holdConn(t, addr)
		require.Equal(t, srv.name, name)
		held[i] = c
	}
	c3, err := net.Dial("tcp", wait.String())
	require.NoError(t, err, "the third connection waits, it is not refused")
	defer c3.Close()
	waitFull(t, b, fe, wait)
	_, err = c3.Write([]byte("hello"))
	require.NoError(t, err)
	require.Equal(t, 2, b.Sessions())
	require.EqualValues(t, 2, srv.accepted.Load())

	require.NoError(t, held[free].Close())
	require.Equal(t, srv.name, readName(t, c3))
	require.EqualValues(t, 3, srv.accepted.Load())
	require.NoError(t, held[1-free].Close())
	require.NoError(t, c3.Close())
	require.Eventually(t, func() bool { return b.Sessions() == 0 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, b.Close())
	srv.close()
}

// A TCP frontend or server forced onto an HTTP mux is refused, as HAProxy
// refuses the configuration: there is no byte stream to tunnel.
func TestTCPModeRefusesHTTPProto(t *testing.T) {
	_, err := Start(t.Context(), parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0 proto h2
    server a 127.0.0.1:1
`), Options{})
	require.ErrorContains(t, err, "proto h2 is not usable in mode tcp")
	require.ErrorContains(t, err, "test.cfg:")

	srv := newServer(t, "a", false)
	b, logs := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    server a %s proto h2
`, srv.addr()))
	require.Equal(t, "", ask(t, feAddr(t, b, "px")))
	l := parseLog(t, logs.waitLine(t, func(s string) bool { return tcplogRe.MatchString(s) }))
	require.Equal(t, "SC", l.term)
	require.Zero(t, srv.accepted.Load(), "nothing dialed")
}

func TestDefaultPipeSize(t *testing.T) {
	soft := int64(16384 * 4096) // Linux's default fs.pipe-user-pages-soft
	for _, c := range []struct {
		maxPipes int
		l        pipeLimits
		want     int
	}{
		{32, pipeLimits{maxSize: 1 << 20, softBytes: soft}, 1 << 20},
		{100, pipeLimits{maxSize: 1 << 20, softBytes: soft}, 256 << 10},
		{200, pipeLimits{maxSize: 1 << 20, softBytes: soft}, 128 << 10},
		{2475, pipeLimits{maxSize: 1 << 20, softBytes: soft}, 0},
		{32, pipeLimits{maxSize: 256 << 10, softBytes: soft}, 256 << 10},
		{32, pipeLimits{maxSize: 64 << 10, softBytes: soft}, 0},
		{32, pipeLimits{maxSize: 1 << 20, softBytes: 0}, 1 << 20},
		{32, pipeLimits{maxSize: -1, softBytes: -1}, 0},
		{0, pipeLimits{maxSize: 1 << 20, softBytes: soft}, 0},
	} {
		require.Equal(t, c.want, defaultPipeSize(c.maxPipes, c.l), "%+v", c)
	}
}
