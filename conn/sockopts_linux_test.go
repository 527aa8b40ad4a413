package conn

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// sockOpt reads an integer option of a socket.
func sockOpt(t *testing.T, c any, level, opt int) int {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	require.True(t, ok)
	rc, err := sc.SyscallConn()
	require.NoError(t, err)
	var v int
	var verr error
	require.NoError(t, rc.Control(func(fd uintptr) { v, verr = unix.GetsockoptInt(int(fd), level, opt) }))
	require.NoError(t, verr)
	return v
}

// acceptOne dials ln and returns the accepted connection's socket.
func acceptOne(t *testing.T, ln *Listener) net.Conn {
	t.Helper()
	client, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	c, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c.Socket()
}

func TestListenerUserTimeoutAndMSS(t *testing.T) {
	ln, err := ListenConfig{UserTimeout: 7 * time.Second, MaxSeg: 1200}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	require.Equal(t, 7000, listenerOpt(t, ln, unix.TCP_USER_TIMEOUT))
	require.Equal(t, 1200, listenerOpt(t, ln, unix.TCP_MAXSEG))
	sock := acceptOne(t, ln)
	require.Equal(t, 7000, sockOpt(t, sock, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT), "accepted sockets inherit tcp-ut")
	require.LessOrEqual(t, sockOpt(t, sock, unix.IPPROTO_TCP, unix.TCP_MAXSEG), 1200, "and advertise the MSS")
}

func TestListenerNegativeMSS(t *testing.T) {
	plain, err := ListenConfig{}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer plain.Close()
	base := sockOpt(t, acceptOne(t, plain), unix.IPPROTO_TCP, unix.TCP_MAXSEG)

	// The kernel keeps the lowered size as a clamp, which getsockopt does
	// not show on an established socket: lowerMSS says what it set.
	set, err := lowerMSS(acceptOne(t, plain), 100)
	require.NoError(t, err)
	require.Equal(t, base-100, set, "the MSS lowered by 100")
	_, err = lowerMSS(acceptOne(t, plain), base)
	require.Error(t, err, "not to zero")

	ln, err := ListenConfig{MaxSeg: -100}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	acceptOne(t, ln) // the listener lowers it on its own
}

func TestListenerV6Only(t *testing.T) {
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	_ = probe.Close()
	for v, want := range map[V6Only]int{V6OnlyOn: 1, V6OnlyOff: 0} {
		ln, err := ListenConfig{V6Only: v}.Listen(context.Background(), "tcp", "[::]:0")
		require.NoError(t, err)
		require.Equal(t, want, sockOpt(t, ln.ln, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY), "setting %d", v)
		// An IPv4 client reaches a dual-stack listener only.
		c, err := net.DialTimeout("tcp4", net.JoinHostPort("127.0.0.1", portOf(ln)), time.Second)
		if want == 0 {
			require.NoError(t, err)
			_ = c.Close()
		} else {
			require.Error(t, err)
		}
		require.NoError(t, ln.Close())
	}
	// On an IPv4 listener the setting has nothing to do.
	ln, err := ListenConfig{V6Only: V6OnlyOn}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
}

func portOf(ln *Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

func TestListenerInterfaceAndTransparent(t *testing.T) {
	ln, err := ListenConfig{Interface: "lo"}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if errors.Is(err, unix.EPERM) {
		t.Skipf("binding to an interface needs CAP_NET_RAW: %v", err)
	}
	require.NoError(t, err)
	acceptOne(t, ln)
	require.NoError(t, ln.Close())

	_, err = ListenConfig{Interface: "no-such-if0"}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.ErrorContains(t, err, `binding to interface "no-such-if0"`)

	ln, err = ListenConfig{Transparent: true}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if errors.Is(err, unix.EPERM) {
		t.Skipf("IP_TRANSPARENT needs CAP_NET_ADMIN: %v", err)
	}
	require.NoError(t, err)
	require.Equal(t, 1, sockOpt(t, ln.ln, unix.IPPROTO_IP, unix.IP_TRANSPARENT))
	require.NoError(t, ln.Close())
}

func TestDialerUserTimeoutAndFastOpen(t *testing.T) {
	ln, err := ListenConfig{FastOpen: 16}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err == nil {
				_, _ = c.Write(buf)
			}
			_ = c.Close()
		}
	}()
	d := &Dialer{UserTimeout: 3 * time.Second, FastOpen: true, DisableKeepAlive: true}
	for range 2 { // the second one may carry its bytes in the SYN
		c, err := d.Dial(context.Background(), "tcp", ln.Addr().String(), nil)
		require.NoError(t, err)
		require.Equal(t, 3000, sockOpt(t, c.Socket(), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT))
		require.Equal(t, 1, sockOpt(t, c.Socket(), unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT))
		_, err = c.Write([]byte("hello"))
		require.NoError(t, err)
		buf := make([]byte, 5)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		require.Equal(t, "hello", string(buf))
		require.NoError(t, c.Close())
	}
}

// SetTOS and SetMark set the socket options haproxy's set-tos and
// set-mark set; SetSrc and SetDst change the addresses the connection
// reports, and SetTOS follows the family of the source it reports.
func TestSetTOSMarkAndAddrs(t *testing.T) {
	ln, err := ListenConfig{}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	c, err := ln.Accept()
	require.NoError(t, err)
	defer c.Close()

	require.NoError(t, c.SetTOS(0x20))
	require.Equal(t, 0x20, sockOpt(t, c.Socket(), unix.IPPROTO_IP, unix.IP_TOS))
	if err := c.SetMark(0x42); err == nil {
		require.Equal(t, 0x42, sockOpt(t, c.Socket(), unix.SOL_SOCKET, unix.SO_MARK))
	} else {
		require.ErrorIs(t, err, unix.EPERM, "only a missing privilege may refuse it")
	}

	sock := c.Socket().RemoteAddr().String()
	src := netip.MustParseAddrPort("10.1.2.3:1111")
	dst := netip.MustParseAddrPort("[2001:db8::1]:2222")
	c.SetSrc(src)
	require.Equal(t, src, c.Src())
	require.Equal(t, src.String(), c.RemoteAddr().String())
	require.Equal(t, sock, c.SocketRemote().String(), "the socket keeps its own")
	c.SetDst(dst)
	require.Equal(t, dst, c.Dst())
	require.Equal(t, dst.String(), c.LocalAddr().String())
	require.Equal(t, src, c.Src(), "setting one keeps the other")

	// An IPv6 source makes set-tos use the traffic class, which an IPv4
	// socket refuses, as in haproxy.
	c.SetSrc(netip.MustParseAddrPort("[::1]:5"))
	require.Error(t, c.SetTOS(0x40))
	require.Equal(t, 0x20, sockOpt(t, c.Socket(), unix.IPPROTO_IP, unix.IP_TOS))
	c.SetSrc(netip.MustParseAddrPort("[::ffff:10.0.0.1]:5"))
	require.NoError(t, c.SetTOS(0x40), "an IPv4-mapped source is IPv4")
	require.Equal(t, 0x40, sockOpt(t, c.Socket(), unix.IPPROTO_IP, unix.IP_TOS))
}

// listenSnapshot reads the options Retune sets off a listening socket.
func listenSnapshot(t *testing.T, ln *Listener) map[string]int {
	t.Helper()
	rc, err := ln.ln.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	snap := map[string]int{}
	require.NoError(t, rc.Control(func(fd uintptr) {
		for name, o := range map[string][2]int{
			"keepalive": {unix.SOL_SOCKET, unix.SO_KEEPALIVE}, "keepidle": {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
			"keepintvl": {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}, "keepcnt": {unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
			"deferaccept": {unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT}, "fastopen": {unix.IPPROTO_TCP, unix.TCP_FASTOPEN},
			"usertimeout": {unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT}, "maxseg": {unix.IPPROTO_TCP, unix.TCP_MAXSEG},
		} {
			v, err := unix.GetsockoptInt(int(fd), o[0], o[1])
			require.NoError(t, err, name)
			snap[name] = v
		}
		l, err := unix.GetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER)
		require.NoError(t, err)
		snap["linger"] = int(l.Onoff)
		// A listening socket's TCP_INFO carries its backlog in tcpi_sacked.
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		require.NoError(t, err)
		snap["backlog"] = int(info.Sacked)
	}))
	if snap["keepalive"] == 0 {
		// The timings of a keepalive that is off do not matter.
		delete(snap, "keepidle")
		delete(snap, "keepintvl")
		delete(snap, "keepcnt")
	}
	return snap
}

// A socket retuned from one configuration to another ends as one opened
// with the second, both ways, and keeps accepting.
func TestListenConfigRetune(t *testing.T) {
	on := ListenConfig{Backlog: 17, KeepAlive: net.KeepAliveConfig{Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3},
		NoLinger: true, DeferAccept: true, FastOpen: 9, UserTimeout: 4 * time.Second, MaxSeg: 1300}
	off := ListenConfig{DisableKeepAlive: true}
	plain := ListenConfig{}
	for _, c := range []struct {
		name     string
		from, to ListenConfig
	}{{"on to off", on, off}, {"off to on", off, on}, {"on to plain", on, plain}, {"plain to on", plain, on}} {
		t.Run(c.name, func(t *testing.T) {
			want, err := c.to.Listen(context.Background(), "tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer want.Close()
			ln, err := c.from.Listen(context.Background(), "tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			before := listenSnapshot(t, ln)
			require.NoError(t, c.to.Retune(ln.ln, "tcp"))
			got := listenSnapshot(t, ln)
			require.Equal(t, listenSnapshot(t, want), got)
			require.NotEqual(t, before, got, "the options changed")
			if c.to.DeferAccept {
				return // a silent client is not handed over at once
			}
			sock := acceptOne(t, ln)
			require.Equal(t, b2i(!c.to.DisableKeepAlive), sockOpt(t, sock, unix.SOL_SOCKET, unix.SO_KEEPALIVE), "accepted sockets inherit the new options")
		})
	}
	require.Error(t, ListenConfig{}.Retune(pipeListener{}, "tcp"), "not a socket")
}

// pipeListener is a net.Listener with no socket.
type pipeListener struct{ net.Listener }
