package balancer

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// kaState is what a socket's options say of TCP keepalive.
type kaState struct {
	On               bool
	Idle, Intvl, Cnt int // seconds, seconds, probes
}

// keepAliveOf reads SO_KEEPALIVE and the three timings of c's socket.
func keepAliveOf(t *testing.T, c net.Conn) kaState {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	require.True(t, ok, "%T is not a socket", c)
	rc, err := sc.SyscallConn()
	require.NoError(t, err)
	var st kaState
	var errs [4]error
	require.NoError(t, rc.Control(func(fd uintptr) {
		var on int
		on, errs[0] = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		st.On = on != 0
		st.Idle, errs[1] = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
		st.Intvl, errs[2] = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
		st.Cnt, errs[3] = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
	}))
	for _, err := range errs {
		require.NoError(t, err)
	}
	return st
}

// systemKeepAlive is the system's keepalive timings, which a socket has
// when nothing set its own.
func systemKeepAlive(t *testing.T) kaState {
	t.Helper()
	read := func(name string) int {
		b, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
		require.NoError(t, err)
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		require.NoError(t, err)
		return n
	}
	return kaState{Idle: read("tcp_keepalive_time"), Intvl: read("tcp_keepalive_intvl"), Cnt: read("tcp_keepalive_probes")}
}

// onlySession returns the balancer's one live session.
func onlySession(t *testing.T, b *Balancer) *session {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Len(t, b.sessions, 1)
	for s := range b.sessions {
		return s
	}
	return nil
}

// sessionSockets returns lb's two sockets of its one live TCP session: the
// one it accepted from the client and the one it dialed to the server.
func sessionSockets(t *testing.T, b *Balancer) (client, server net.Conn) {
	t.Helper()
	s := onlySession(t, b)
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotNil(t, s.server, "the session has its server connection")
	return s.client.Socket(), s.server.Socket()
}

// The client socket lb accepts has keepalive only with clitcpka (or
// tcpka) on the frontend, the server socket it dials only with srvtcpka
// (or tcpka) on the backend; when on, each timing is the configured one or
// else the system's, never Go's 15 s.
func TestTCPKeepAliveSockets(t *testing.T) {
	sys := systemKeepAlive(t)
	off := kaState{false, sys.Idle, sys.Intvl, sys.Cnt}
	on := kaState{true, sys.Idle, sys.Intvl, sys.Cnt}
	for _, tc := range []struct {
		name                 string
		defaults, fe, be     string
		wantClient, wantServ kaState
	}{
		{name: "default", wantClient: off, wantServ: off},
		{name: "tcpka in defaults", defaults: "option tcpka", wantClient: on, wantServ: on},
		{name: "tcpka on each side", fe: "option tcpka", be: "option tcpka", wantClient: on, wantServ: on},
		{name: "tcpka on the frontend", fe: "option tcpka", wantClient: on, wantServ: off},
		{name: "clitcpka", fe: "option clitcpka", wantClient: on, wantServ: off},
		{name: "srvtcpka", be: "option srvtcpka", wantClient: off, wantServ: on},
		{name: "clitcpka in defaults", defaults: "option clitcpka", wantClient: on, wantServ: off},
		{name: "tcpka in defaults, no clitcpka", defaults: "option tcpka", fe: "no option clitcpka", wantClient: off, wantServ: on},
		{name: "tcpka in defaults, no srvtcpka", defaults: "option tcpka", be: "no option srvtcpka", wantClient: on, wantServ: off},
		{
			name:       "timings",
			fe:         "option clitcpka\n    clitcpka-idle 33\n    clitcpka-intvl 7\n    clitcpka-cnt 5",
			be:         "option srvtcpka\n    srvtcpka-idle 44s\n    srvtcpka-intvl 1500ms\n    srvtcpka-cnt 3",
			wantClient: kaState{true, 33, 7, 5},
			wantServ:   kaState{true, 44, 2, 3},
		},
		{
			name:       "some timings, from defaults",
			defaults:   "option tcpka\n    clitcpka-cnt 4\n    srvtcpka-idle 1m",
			wantClient: kaState{true, sys.Idle, sys.Intvl, 4},
			wantServ:   kaState{true, 60, sys.Intvl, sys.Cnt},
		},
		{
			name:       "timings without the option",
			fe:         "clitcpka-idle 33",
			be:         "srvtcpka-cnt 3",
			wantClient: off, wantServ: off,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, "s1", false)
			b, _ := startLB(t, parseCfg(t, `
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    %s
frontend f
    bind 127.0.0.1:0
    %s
    default_backend b
backend b
    %s
    server s1 %s
`, tc.defaults, tc.fe, tc.be, srv.addr()))
			c, name := holdConn(t, feAddr(t, b, "f"))
			require.Equal(t, "s1", name)
			client, server := sessionSockets(t, b)
			require.Equal(t, tc.wantClient, keepAliveOf(t, client), "client socket")
			require.Equal(t, tc.wantServ, keepAliveOf(t, server), "server socket")
			require.NoError(t, c.Close())
		})
	}
}

// A health check's connection has the keepalive settings of the server's
// traffic connections (srvtcpka), as in HAProxy, whose checks set the same
// socket options.
func TestTCPKeepAliveOnChecks(t *testing.T) {
	srv := newServer(t, "s1", false)
	b, _ := startLB(t, parseCfg(t, `
backend b
    option srvtcpka
    srvtcpka-idle 44
    server s1 %s
`, srv.addr()))
	s := b.Backend("b").servers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := b.dialCheck(ctx, s)
	require.NoError(t, err)
	defer c.Close()
	sys := systemKeepAlive(t)
	want := kaState{true, 44, sys.Intvl, sys.Cnt}
	require.Equal(t, want, keepAliveOf(t, c.(*conn.Conn).Socket()), "check connection")

	addr := srv.ln.Addr().(*net.TCPAddr).AddrPort()
	traffic, err := b.dialServer(ctx, s, addr, addr, ppFacts{})
	require.NoError(t, err)
	defer traffic.Close()
	require.Equal(t, want, keepAliveOf(t, traffic.Socket()), "traffic connection")
}

// Without srvtcpka, a check's connection has no keepalive either.
func TestTCPKeepAliveOffOnChecks(t *testing.T) {
	srv := newServer(t, "s1", false)
	b, _ := startLB(t, parseCfg(t, `
backend b
    server s1 %s
`, srv.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := b.dialCheck(ctx, b.Backend("b").servers[0])
	require.NoError(t, err)
	defer c.Close()
	require.False(t, keepAliveOf(t, c.(*conn.Conn).Socket()).On)
}

// HTTP mode follows the same rule: the client socket of a frontend, the
// server connection a backend keeps between requests.
func TestTCPKeepAliveHTTP(t *testing.T) {
	sys := systemKeepAlive(t)
	for _, tc := range []struct {
		name                 string
		fe, be               string
		wantClient, wantServ kaState
	}{
		{name: "default", wantClient: kaState{false, sys.Idle, sys.Intvl, sys.Cnt}, wantServ: kaState{false, sys.Idle, sys.Intvl, sys.Cnt}},
		{
			name:       "clitcpka and srvtcpka",
			fe:         "option clitcpka\n    clitcpka-idle 33",
			be:         "option srvtcpka\n    srvtcpka-cnt 4",
			wantClient: kaState{true, 33, sys.Intvl, sys.Cnt},
			wantServ:   kaState{true, sys.Idle, sys.Intvl, 4},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHTTPBackend(t, "s")
			b, _ := startLB(t, parseCfg(t, httpDefaults+`
frontend f
    bind 127.0.0.1:0
    %s
    default_backend b
backend b
    %s
    server s %s
`, tc.fe, tc.be, srv.addr()))
			c, err := net.Dial("tcp", feAddr(t, b, "f"))
			require.NoError(t, err)
			k := newKeepAliveClient(t, c)
			k.get("/")

			require.Equal(t, tc.wantClient, keepAliveOf(t, onlySession(t, b).client.Socket()), "client socket")

			// Once the client is gone, its server connection waits on the
			// server's idle list.
			require.NoError(t, c.Close())
			require.Eventually(t, func() bool { return b.Sessions() == 0 }, 10*time.Second, time.Millisecond)
			sc := &b.Backend("b").servers[0].conns
			sc.mu.Lock()
			defer sc.mu.Unlock()
			require.Len(t, sc.idle, 1)
			require.Equal(t, tc.wantServ, keepAliveOf(t, sc.idle[0].c.Socket()), "server socket")
		})
	}
}
