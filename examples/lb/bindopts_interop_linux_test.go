package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// listenOpts finds the listening socket on port, in whichever process
// holds it, takes a copy of it (pidfd_getfd) and reads the options the
// bind line keywords set.
func listenOpts(t *testing.T, port int) string {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, proc := range procs {
		pid, _ := strconv.Atoi(filepath.Base(proc))
		fds, _ := os.ReadDir(proc + "/fd")
		var pidfd = -1
		for _, e := range fds {
			link, err := os.Readlink(proc + "/fd/" + e.Name())
			if err != nil || !strings.HasPrefix(link, "socket:") {
				continue
			}
			if pidfd < 0 {
				if pidfd, err = unix.PidfdOpen(pid, 0); err != nil {
					break
				}
				defer unix.Close(pidfd)
			}
			target, _ := strconv.Atoi(e.Name())
			fd, err := unix.PidfdGetfd(pidfd, target, 0)
			if err != nil {
				continue
			}
			if s := socketOpts(fd, port); s != "" {
				_ = unix.Close(fd)
				return s
			}
			_ = unix.Close(fd)
		}
	}
	t.Fatalf("no process listens on port %d", port)
	return ""
}

// socketOpts describes fd's options if it is a TCP socket listening on
// port, "" otherwise.
func socketOpts(fd, port int) string {
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return ""
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return ""
	}
	v6 := false
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		if a.Port != port {
			return ""
		}
	case *unix.SockaddrInet6:
		if a.Port != port {
			return ""
		}
		v6 = true
	default:
		return ""
	}
	ut, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
	mss, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_MAXSEG)
	dev, _ := unix.GetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
	tr, _ := unix.GetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TRANSPARENT)
	s := fmt.Sprintf("tcp-ut=%d mss=%d dev=%q transparent=%d", ut, mss, dev, tr)
	if v6 {
		only, _ := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		tr6, _ := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT)
		s += fmt.Sprintf(" v6only=%d transparent6=%d", only, tr6)
	}
	return s
}

// TestInteropBindOptionsMatchHAProxy: the socket options of tcp-ut, mss,
// interface, transparent, v6only and v4v6, read off the listening sockets
// of haproxy and lb on the same file, are the same, and a port range
// listens on each of its ports.
func TestInteropBindOptionsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	if os.Geteuid() != 0 {
		t.Skip("interface and transparent need root (CAP_NET_RAW, CAP_NET_ADMIN)")
	}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		_ = ln.Close()
	}
	echo := echoServer(t)
	run := func(start func(text string) func() string) []string {
		p := freePorts(t, 3)
		base := rangeBase(t)
		text := fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen a
    bind 127.0.0.1:%d tcp-ut 7s mss 1200 interface lo transparent id 7
    bind [::1]:%d v6only mss -40
    bind :::%d v4v6
    bind 127.0.0.1:%d-%d
    server s %s
`, p[0], p[1], p[2], base, base+2, echo)
		start(text)
		var got []string
		for i, port := range []int{p[0], p[1], p[2], base, base + 1, base + 2} {
			got = append(got, fmt.Sprintf("%d: %s", i, listenOpts(t, port)))
		}
		c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", base+1))
		require.NoError(t, err, "a port within the range")
		roundTrip(t, c, "hi")
		_ = c.Close()
		c, err = net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", p[2]))
		require.NoError(t, err, "v4v6 takes IPv4 clients")
		_ = c.Close()
		return got
	}
	want := run(func(text string) func() string {
		return startHAProxyReady(t, text)
	})
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's sockets, then lb's")
	require.Contains(t, got[0], `tcp-ut=7000 mss=1200 dev="lo" transparent=1`)
	require.Contains(t, got[1], "v6only=1")
	require.Contains(t, got[2], "v6only=0")
}

// rangeBase returns a port whose next two are free as well.
func rangeBase(t *testing.T) int {
	t.Helper()
	for range 100 {
		base := freePorts(t, 1)[0]
		ok := true
		for i := 1; i <= 2 && ok; i++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if ok = err == nil; ok {
				_ = ln.Close()
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no three free ports in a row")
	return 0
}
