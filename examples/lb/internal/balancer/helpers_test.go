package balancer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// safeBuffer collects log lines from several goroutines.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.Split(strings.TrimRight(s.b.String(), "\n"), "\n")
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	return out
}

// waitLines waits until the log holds a line matching pred and returns it.
func (s *safeBuffer) waitLine(t *testing.T, pred func(string) bool) string {
	t.Helper()
	var found string
	require.Eventually(t, func() bool {
		for _, l := range s.lines() {
			if pred(l) {
				found = l
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "no matching log line in:\n%s", strings.Join(s.lines(), "\n"))
	return found
}

// backendServer is a test server. With name set it writes the name and
// closes the write side after reading the client's end; otherwise it echoes.
type backendServer struct {
	ln       net.Listener
	name     string
	accepted atomic.Int64
	proxy    bool // expects a PROXY header, recorded in headers
	stop     func()
	mu       sync.Mutex
	headers  []conn.ProxyHeader
	conns    map[net.Conn]struct{}
	closed   bool
}

func newServer(t *testing.T, name string, proxy bool) *backendServer {
	t.Helper()
	return serveOn(t, testnet.Listen(t), name, proxy)
}

func serveOn(t *testing.T, ln net.Listener, name string, proxy bool) *backendServer {
	s := &backendServer{ln: ln, name: name, proxy: proxy, conns: map[net.Conn]struct{}{}}
	s.stop = testnet.Accept(ln, s.handle)
	t.Cleanup(s.close)
	return s
}

func (s *backendServer) addr() string { return s.ln.Addr().String() }

// close stops accepting, closes the connections being served and waits
// for their handlers.
func (s *backendServer) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.stop()
}

func (s *backendServer) handle(c net.Conn) {
	s.accepted.Add(1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	if s.proxy {
		var h conn.ProxyHeader
		if err := conn.ReadProxyHeader(c, &h, 0); err != nil {
			return
		}
		s.mu.Lock()
		s.headers = append(s.headers, h)
		s.mu.Unlock()
		if !h.HasAddrs() {
			return // a health check: LOCAL or UNKNOWN
		}
	}
	if s.name == "" {
		testnet.Echo(c)
		return
	}
	_, _ = io.WriteString(c, s.name+"\n")
	_, _ = io.Copy(io.Discard, c)
}

func parseCfg(t *testing.T, format string, a ...any) *config.Config {
	t.Helper()
	cfg, err := config.Parse(config.Source{Name: "test.cfg", Data: fmt.Appendf(nil, format, a...)})
	require.NoError(t, err)
	return cfg
}

// startLB starts a balancer and returns it with its traffic log.
func startLB(t *testing.T, cfg *config.Config) (*Balancer, *safeBuffer) {
	t.Helper()
	logs := &safeBuffer{}
	b, err := Start(context.Background(), cfg, Options{Stdout: logs, Stderr: logs})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b, logs
}

func feAddr(t *testing.T, b *Balancer, fe string) string {
	t.Helper()
	addrs := b.Addrs(fe)
	require.NotEmpty(t, addrs)
	return addrs[0].String()
}

// ask connects to addr, half-closes, and returns the first line answered.
func ask(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// holdConn opens a connection and waits for the server's name, keeping the
// connection open.
func holdConn(t *testing.T, addr string) (net.Conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Time{})
	return c, strings.TrimSpace(line)
}

// refusingAddr is a loopback address where nothing listens: connects to
// it are refused.
func refusingAddr(t *testing.T) string { return testnet.RefusedAddr(t) }
