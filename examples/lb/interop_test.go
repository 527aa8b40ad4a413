package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// haproxyBin returns the haproxy binary, skipping the test when it is
// absent unless CI=true.
func haproxyBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("haproxy is required when CI=true: %v", err)
		}
		t.Skip("haproxy not installed: skipping the interop test")
	}
	return bin
}

// runHAProxy runs haproxy in the foreground on cfgText until the test ends,
// and waits until addr accepts connections.
func runHAProxy(t *testing.T, cfgText, addr string) {
	t.Helper()
	startHAProxy(t, cfgText, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
}

// startHAProxy runs haproxy in the foreground on cfgText until the test
// ends, waits until ready reports true, and returns what haproxy has
// printed so far, when called.
func startHAProxy(t *testing.T, cfgText string, ready func() bool) (output func() string) {
	t.Helper()
	cfgText = oneThread(cfgText)
	cmd := exec.Command(haproxyBin(t), "-db", "-f", writeFile(t, "haproxy.cfg", cfgText))
	var out bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &out}, lockedWriter{&mu, &out}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	// haproxy ending before it is ready (a port taken, a config it
	// refuses) fails the test at once, with what it printed.
	fail := func(why string) {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("haproxy %s: %s", why, out.String())
	}
	// haproxy makes its sockets listen one after another: one answering
	// says little of the next, which a loaded machine can leave unready
	// a while longer. Every TCP bind line must be listening too.
	binds := tcpBindPorts(cfgText)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		select {
		case <-done:
			fail("ended before it was ready")
		default:
		}
		if ready() && allListening(binds) {
			break
		}
		if time.Now().After(deadline) {
			fail("was not ready in 10 s")
		}
	}
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
}

// oneThread runs haproxy on one thread unless cfgText sets nbthread:
// haproxy drops a log line rather than wait when two of its threads write
// one at the same time (fd_write_frag_line gives up after 200 tries of
// its log lock), which a busy machine makes likely, and the tests count
// haproxy's lines.
func oneThread(cfgText string) string {
	if strings.Contains(cfgText, "nbthread") {
		return cfgText
	}
	const line = "    nbthread 1\n"
	if strings.HasPrefix(cfgText, "global\n") {
		return "global\n" + line + cfgText[len("global\n"):]
	}
	if i := strings.Index(cfgText, "\nglobal\n"); i >= 0 {
		i += len("\nglobal\n")
		return cfgText[:i] + line + cfgText[i:]
	}
	return "global\n" + line + cfgText
}

func startInProcess(t *testing.T, text string) (*balancer.Balancer, *bytes.Buffer, *sync.Mutex) {
	t.Helper()
	cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
	require.NoError(t, err)
	var logs bytes.Buffer
	var mu sync.Mutex
	b, err := balancer.Start(context.Background(), cfg, balancer.Options{Stdout: lockedWriter{&mu, &logs}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b, &logs, &mu
}

// dialFrom connects to addr from a chosen loopback address, so that the
// far side can tell the true client from the proxies in between.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// TestInteropHAProxySendsProxy: client -> haproxy (send-proxy[-v2]) -> lb
// (accept-proxy) -> echo. lb's log line must show the client's address.
func TestInteropHAProxySendsProxy(t *testing.T) {
	haproxyBin(t)
	for _, kw := range []string{"send-proxy", "send-proxy-v2"} {
		t.Run(kw, func(t *testing.T) {
			b, logs, mu := startInProcess(t, fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen lb
    bind 127.0.0.1:0 accept-proxy
    server echo %s
`, echoServer(t)))
			lbAddr := b.Addrs("lb")[0].String()
			hp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			runHAProxy(t, fmt.Sprintf(`defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen front
    bind %s
    server lb %s %s
`, hp, lbAddr, kw), hp)
			c := dialFrom(t, "127.0.0.9", hp)
			roundTrip(t, c, "through two proxies\n")
			port := c.LocalAddr().(*net.TCPAddr).Port
			require.NoError(t, c.Close())
			want := regexp.MustCompile(`(?m)^127\.0\.0\.9:` + strconv.Itoa(port) + ` \[[^]]+\] lb lb/echo \S+ 20 -- `)
			if !assert.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return want.Match(logs.Bytes())
			}, 5*time.Second, 10*time.Millisecond) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("lb's log does not show the client:\n%s", logs.String())
			}
		})
	}
}

// TestInteropLBSendsProxy: client -> lb (send-proxy[-v2]) -> haproxy
// (accept-proxy, http frontend answering %[src]:%[src_port]).
func TestInteropLBSendsProxy(t *testing.T) {
	haproxyBin(t)
	for _, kw := range []string{"send-proxy", "send-proxy-v2"} {
		t.Run(kw, func(t *testing.T) {
			hp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			runHAProxy(t, fmt.Sprintf(`defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend who
    bind %s accept-proxy
    http-request return status 200 content-type text/plain lf-string "%%[src]:%%[src_port]"
`, hp), hp)
			b, _, _ := startInProcess(t, fmt.Sprintf(`defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen lb
    bind 127.0.0.1:0
    server hp %s %s
`, hp, kw))
			c := dialFrom(t, "127.0.0.9", b.Addrs("lb")[0].String())
			_, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
			require.NoError(t, err)
			resp, err := io.ReadAll(bufio.NewReader(c))
			require.NoError(t, err)
			parts := strings.SplitN(string(resp), "\r\n\r\n", 2)
			require.Len(t, parts, 2, "response: %q", resp)
			require.Contains(t, parts[0], "200")
			require.Equal(t, c.LocalAddr().String(), parts[1])
		})
	}
}

// bindLine finds the IPv4 TCP addresses of bind lines.
var bindLine = regexp.MustCompile(`(?m)^\s*bind\s+(?:ipv4@)?(127\.0\.0\.\d+|0\.0\.0\.0|\*)?:(\d+)\b`)

// disabledLine finds a section's "disabled" keyword.
var disabledLine = regexp.MustCompile(`(?m)^\s+disabled\s*$`)

// tcpBindPorts returns the ports of a configuration's IPv4 TCP bind
// lines, but for those of disabled sections, which never listen.
func tcpBindPorts(cfgText string) []int {
	var ports []int
	// Sections start at the lines that are not indented.
	for _, sec := range regexp.MustCompile(`(?m)^\S`).Split(cfgText, -1) {
		if disabledLine.MatchString(sec) {
			continue
		}
		for _, m := range bindLine.FindAllStringSubmatch(sec, -1) {
			if n, err := strconv.Atoi(m[2]); err == nil {
				ports = append(ports, n)
			}
		}
	}
	return ports
}

// allListening reports whether a socket listens on each port, as
// /proc/net/tcp and tcp6 show them; true where there is no /proc.
func allListening(ports []int) bool {
	if len(ports) == 0 {
		return true
	}
	var table []byte
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil && f == "/proc/net/tcp" {
			return true // no /proc: the caller's probe has to do
		}
		table = append(table, b...)
	}
	listening := map[int]bool{}
	for _, line := range strings.Split(string(table), "\n") {
		f := strings.Fields(line)
		// sl local_address rem_address st ...; st 0A is LISTEN.
		if len(f) < 4 || f[3] != "0A" {
			continue
		}
		if i := strings.LastIndexByte(f[1], ':'); i >= 0 {
			if n, err := strconv.ParseUint(f[1][i+1:], 16, 16); err == nil {
				listening[int(n)] = true
			}
		}
	}
	for _, p := range ports {
		if !listening[p] {
			return false
		}
	}
	return true
}
