package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/stretchr/testify/require"
)

// TestInteropUnixBindMatchesHAProxy: bind lines on UNIX sockets (unix@
// and a path under unix-bind's prefix) take TCP and HTTP clients; the
// sockets' modes, the log lines (the client "unix:" and its listener's
// id), the PROXY header a server is sent and the X-Forwarded-For it gets
// are haproxy's.
func TestInteropUnixBindMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	// What the servers saw: the PROXY header's command and family, and
	// the X-Forwarded-For header.
	pp := serveEach(t, func(c net.Conn) {
		var h conn.ProxyHeader
		if err := conn.ReadProxyHeader(c, &h, 0); err != nil {
			_, _ = fmt.Fprintf(c, "bad header: %v\n", err)
			return
		}
		buf := make([]byte, 2) // the client's "hi", read before the close
		_, _ = io.ReadFull(c, buf)
		_, _ = fmt.Fprintf(c, "v%d command=%d family=%d src=%v\n", h.Version, h.Command, h.Family, h.Src.IsValid())
	})
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "xff=%q", r.Header.Get("X-Forwarded-For"))
	}), "http://")
	stamp := regexp.MustCompile(`\[[^]]+\]`)
	times := regexp.MustCompile(` -?\d+/-?\d+/-?\d+(/-?\d+/-?\d+)? `)
	run := func(start func(text string, probe int) func() string) []string {
		dir := socketDir(t)
		probe := freePorts(t, 1)[0]
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
    unix-bind prefix %s/ mode 660
defaults
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen probe
    mode tcp
    bind 127.0.0.1:%d
    server s %s
listen tcpux
    mode tcp
    option tcplog
    bind unix@t.sock
    bind unix@t2.sock mode 600
    server s %s send-proxy-v2
listen httpux
    mode http
    option httplog
    option forwardfor
    bind unix@h.sock
    log-format "hx %%ci:%%cp %%fi:%%fp %%{+X}cp %%ST"
    server w %s
`, dir, probe, pp, pp, web), probe)
		var got []string
		for _, name := range []string{"t.sock", "t2.sock", "h.sock"} {
			// haproxy binds its UNIX sockets after its TCP ones, which
			// the readiness probe reached.
			var fi os.FileInfo
			require.Eventually(t, func() bool {
				var err error
				fi, err = os.Stat(filepath.Join(dir, name))
				return err == nil
			}, 10*time.Second, 10*time.Millisecond, "%s is there", name)
			got = append(got, fmt.Sprintf("%s %v", name, fi.Mode()))
		}
		for _, name := range []string{"t.sock", "t2.sock"} {
			c, err := net.DialTimeout("unix", filepath.Join(dir, name), 5*time.Second)
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(c, "hi")
			l, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			_ = c.Close()
			got = append(got, name+": "+strings.TrimSpace(l))
		}
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(dir, "h.sock"))
			},
		}}
		resp, err := client.Get("http://x/")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		got = append(got, "http: "+string(body))
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "unix:") || strings.HasPrefix(l, "hx ") {
					lines = append(lines, times.ReplaceAllString(stamp.ReplaceAllString(l, "[T]"), " T "))
				}
			}
			return len(lines) == 3
		}, 10*time.Second, 10*time.Millisecond, "three lines in:\n%s", out())
		sort.Strings(lines) // the sessions end in either order
		return append(got, lines...)
	}
	want := run(func(text string, probe int) func() string {
		return startHAProxy(t, text, func() bool {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", probe))
			if err == nil {
				_ = c.Close()
			}
			return err == nil
		})
	})
	got := run(func(text string, _ int) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's sockets, answers and lines, then lb's")
}

// TestUnixClientsWithAddressRules: rules and tables keyed on the client's
// address find none for a UNIX client and let it through, and balance
// source spreads such clients round robin.
func TestUnixClientsWithAddressRules(t *testing.T) {
	dir := socketDir(t)
	name := func(n string) string {
		return checkPeer(t, func(c *net.TCPConn) { _, _ = io.WriteString(c, n+"\n") })
	}
	a, b := name("a"), name("b")
	path := filepath.Join(dir, "r.sock")
	startInProcess(t, fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen r
    bind unix@%s
    stick-table type ip size 10 store conn_cur
    tcp-request connection track-sc0 src
    tcp-request connection reject if { src 10.0.0.0/8 }
    balance source
    stick on src
    server a %s
    server b %s
`, path, a, b))
	var seen []string
	for range 4 {
		c, err := net.DialTimeout("unix", path, 5*time.Second)
		require.NoError(t, err)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		l, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		_ = c.Close()
		seen = append(seen, strings.TrimSpace(l))
	}
	require.Equal(t, []string{"a", "b", "a", "b"}, seen)
}
