package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// TestInteropMapPortsMatchesHAProxy: servers written without a port, or
// with "+N" or "-N", connect to the port the client reached (plus or
// minus N), on every port of a multi-port bind line, as under haproxy;
// the log lines, the statistics' addr column and "show servers state"'s
// port read the same.
func TestInteropMapPortsMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	// Each peer, on 127.0.0.2, answers its own port.
	peer := func(port int) {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
		require.NoError(t, err)
		t.Cleanup(func() { _ = ln.Close() })
		stop := testnet.Accept(ln, func(c net.Conn) {
			defer c.Close()
			_, _ = fmt.Fprintf(c, "%d\n", port)
		})
		t.Cleanup(stop)
	}
	run := func(start func(text, sock string) func() string) []string {
		p := freePorts(t, 4)
		for _, port := range []int{p[0], p[1], p[2] + 1000, p[3] - 1000} {
			peer(port)
		}
		sock := filepath.Join(t.TempDir(), "admin.sock")
		text := fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
defaults
    mode tcp
    log global
    log-format "pm %%f %%s %%si:%%sp %%fp"
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen m0
    bind 127.0.0.1:%d,127.0.0.1:%d
    server s 127.0.0.2
listen m1
    bind 127.0.0.1:%d
    server s 127.0.0.2:+1000
listen m2
    bind 127.0.0.1:%d
    server s 127.0.0.2:-1000 check port %d inter 1h
`, sock, p[0], p[1], p[2], p[3], p[3]-1000)
		out := start(text, sock)
		names := map[string]string{}
		for i, port := range p {
			names[strconv.Itoa(port)] = fmt.Sprintf("P%d", i)
			names[strconv.Itoa(port+1000)] = fmt.Sprintf("P%d+1000", i)
			names[strconv.Itoa(port-1000)] = fmt.Sprintf("P%d-1000", i)
		}
		mask := func(s string) string {
			f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ':' })
			for _, w := range f {
				if n, ok := names[w]; ok {
					s = strings.Replace(s, w, n, 1)
				}
			}
			return s
		}
		var got []string
		for _, port := range p {
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", port))
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			require.NoError(t, c.Close())
			got = append(got, mask(strings.TrimSpace(line)))
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "pm ") {
					lines = append(lines, mask(l))
				}
			}
			return len(lines) == 4
		}, 10*time.Second, 10*time.Millisecond, "four lines in:\n%s", out())
		sort.Strings(lines) // the sessions end in either order
		got = append(got, lines...)
		for _, l := range strings.Split(cliCommand(t, sock, "show stat"), "\n") {
			if f := strings.Split(l, ","); len(f) > 73 && f[1] == "s" {
				got = append(got, f[0]+" addr "+f[73])
			}
		}
		for _, be := range []string{"m0", "m1", "m2"} {
			for _, l := range strings.Split(cliCommand(t, sock, "show servers state "+be), "\n") {
				if f := strings.Fields(l); len(f) > 18 && !strings.HasPrefix(f[0], "#") {
					got = append(got, be+" srv_port "+f[18]+" check_port "+mask(f[21]))
				}
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
	require.Equal(t, []string{"P0", "P1", "P2+1000", "P3-1000"}, got[:4])
}

// TestMapPortsHTTPKeepsConnectionsApart: in mode http, a server that
// maps ports never serves a request on a connection made for another
// port, though its clients keep their connections and go idle between
// requests (when kept server connections go back to their server).
func TestMapPortsHTTPKeepsConnectionsApart(t *testing.T) {
	p := freePorts(t, 2)
	for _, port := range p {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
		require.NoError(t, err)
		t.Cleanup(func() { _ = ln.Close() })
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = fmt.Fprint(w, port)
		})}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
	}
	startInProcess(t, fmt.Sprintf(`defaults
    mode http
    http-reuse always
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:%d,127.0.0.1:%d
    server s 127.0.0.2
`, p[0], p[1]))
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range 6 {
		port := p[i%2]
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, strconv.Itoa(port), string(body), "request %d", i)
		time.Sleep(150 * time.Millisecond) // the client goes idle
	}
}
