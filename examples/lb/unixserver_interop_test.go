package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// socketDir is a directory for a test's UNIX sockets, removed when the
// test ends: under the system's temporary directory itself, since a
// socket's path holds 107 bytes at most and t.TempDir's can be longer.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lbsock")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// unixListen listens on a UNIX stream socket at path until the test ends.
func unixListen(t *testing.T, path string) net.Listener {
	t.Helper()
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// unixPeer serves a UNIX stream socket, answering each connection with
// what it read first, and returns the socket's path.
func unixPeer(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	t.Cleanup(testnet.Accept(unixListen(t, path), func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		_, _ = fmt.Fprintf(c, "%s got %s\n", name, buf[:n])
	}))
	return path
}

// TestInteropUnixServersMatchHAProxy: servers on UNIX stream sockets,
// written unix@PATH or as an absolute path, are checked and carry the
// traffic; their lines, the statistics' addr column and "show servers
// state" read as haproxy's.
func TestInteropUnixServersMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	dir := socketDir(t)
	a, b := unixPeer(t, dir, "a.sock"), unixPeer(t, dir, "b.sock")
	run := func(start func(text, sock string) func() string) []string {
		p := freePorts(t, 2)
		sock := filepath.Join(t.TempDir(), "admin.sock")
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen probe
    bind 127.0.0.1:%d
    server a unix@%s
listen ux
    bind 127.0.0.1:%d
    log-format "ux %%b/%%s %%si:%%sp %%bi:%%bp"
    balance roundrobin
    server a unix@%s check inter 100ms
    server b %s check inter 100ms
`, sock, p[0], a, p[1], a, b), sock)
		var got []string
		for range 2 {
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[1]))
			_, err := io.WriteString(c, "hi")
			require.NoError(t, err)
			l, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			_ = c.Close()
			got = append(got, strings.TrimSpace(l))
		}
		sort.Strings(got)
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "ux ") {
					lines = append(lines, l)
				}
			}
			return len(lines) == 2
		}, 10*time.Second, 10*time.Millisecond, "two lines in:\n%s", out())
		sort.Strings(lines)
		got = append(got, lines...)
		// Once the checks have brought both to full health.
		var stats []string
		require.Eventually(t, func() bool {
			stats = stats[:0]
			for _, l := range strings.Split(cliCommand(t, sock, "show stat"), "\n") {
				if f := strings.Split(l, ","); len(f) > 73 && f[0] == "ux" && (f[1] == "a" || f[1] == "b") {
					stats = append(stats, f[1]+" addr="+f[73]+" status="+f[17])
				}
			}
			return len(stats) == 2 && strings.HasSuffix(stats[0], "=UP") && strings.HasSuffix(stats[1], "=UP")
		}, 10*time.Second, 50*time.Millisecond, "both checked up")
		got = append(got, stats...)
		for _, l := range strings.Split(cliCommand(t, sock, "show servers state ux"), "\n") {
			if f := strings.Fields(l); len(f) > 18 && !strings.HasPrefix(f[0], "#") {
				got = append(got, f[3]+" srv_addr="+f[4]+" srv_port="+f[18])
			}
		}
		return got
	}
	want := run(func(text, sock string) func() string { return startHAProxySocket(t, text, sock) })
	got := run(func(text, _ string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's answers, lines and statistics, then lb's")
	require.Equal(t, []string{"a.sock got hi", "b.sock got hi"}, got[:2])
}

// TestUnixServerHTTP: an HTTP backend on a UNIX socket, as application
// servers often listen, answers through lb.
func TestUnixServerHTTP(t *testing.T) {
	path := filepath.Join(socketDir(t), "app.sock")
	ln := unixListen(t, path)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "app "+r.URL.Path) })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	port := freePort(t)
	startInProcess(t, fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:%d
    server app %s check
`, port, path))
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range 3 {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/x%d", port, i))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, fmt.Sprintf("app /x%d", i), string(body))
	}
}

// TestUnixServerSplice: with splicing asked for, every byte between a
// TCP client and a UNIX socket server comes back. (It checks the bytes,
// not which path the channel took to move them.)
func TestUnixServerSplice(t *testing.T) {
	path := filepath.Join(socketDir(t), "echo.sock")
	t.Cleanup(testnet.Accept(unixListen(t, path), testnet.Echo))
	port := freePort(t)
	startInProcess(t, fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    option splice-request
    option splice-response
listen l
    bind 127.0.0.1:%d
    server s unix@%s
`, port, path))
	c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", port))
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	go func() {
		_, _ = c.Write(data)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, len(data), len(got))
	require.True(t, string(data) == string(got), "every byte back")
}
