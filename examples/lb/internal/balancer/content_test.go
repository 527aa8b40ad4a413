package balancer

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"

	"github.com/stretchr/testify/require"
)

// TestContentRulesRouteBySNI routes TLS clients by server name with
// "tcp-request content" and use_backend, and checks that the bytes the
// rules looked at reach the server whole, spliced as configured.
func TestContentRulesRouteBySNI(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]byte{}
	greeter := func(name string) string {
		return newScriptPeer(t, func(c *net.TCPConn) {
			_, _ = io.WriteString(c, name+"\n")
			b, _ := io.ReadAll(c)
			mu.Lock()
			got[name] = append(got[name], b...)
			mu.Unlock()
		}).addr
	}
	a, d := greeter("a"), greeter("d")
	b, logs := startLB(t, parseCfg(t, globalLog+`
frontend f
    bind 127.0.0.1:0
    option splice-request
    tcp-request inspect-delay 2s
    tcp-request content reject if { req_ssl_sni -i bad.example.com }
    tcp-request content accept if { req_ssl_hello_type 1 }
    use_backend a if { req_ssl_sni -i a.example.com }
    default_backend d
backend a
    server a %s
backend d
    server d %s
`, a, d))
	addr := feAddr(t, b, "f")
	send := func(pieces ...[]byte) string {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		for i, p := range pieces {
			if i > 0 {
				time.Sleep(50 * time.Millisecond)
			}
			_, err := c.Write(p)
			require.NoError(t, err)
		}
		_ = c.(*net.TCPConn).CloseWrite()
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line)
	}

	hello := testnet.ClientHello(t, "a.example.com")
	payload := append(append([]byte(nil), hello...), bytes.Repeat([]byte("x"), 100000)...)
	require.Equal(t, "a", send(hello[:10], hello[10:50], payload[50:]), "a hello in three pieces waits for the whole")
	require.Equal(t, "d", send(testnet.ClientHello(t, "other.example.com")))
	require.Equal(t, "d", send([]byte("not TLS at all\n")))
	require.Equal(t, "", send(testnet.ClientHello(t, "bad.example.com")), "rejected: closed without a server")
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return bytes.Equal(got["a"], payload)
	}, 5*time.Second, 10*time.Millisecond, "every byte the rules looked at reaches the server")
	line := logs.waitLine(t, func(l string) bool { return strings.Contains(l, " PR ") })
	require.Contains(t, line, " f f/<NOSRV> ")
}

// TestContentRulesWithoutDelay decide at once on what has arrived: with
// no inspect-delay nothing is waited for, as in HAProxy.
func TestContentRulesWithoutDelay(t *testing.T) {
	a := newScriptPeer(t, func(c *net.TCPConn) { _, _ = io.WriteString(c, "a\n"); _, _ = io.Copy(io.Discard, c) }).addr
	d := newScriptPeer(t, func(c *net.TCPConn) { _, _ = io.WriteString(c, "d\n"); _, _ = io.Copy(io.Discard, c) }).addr
	b, _ := startLB(t, parseCfg(t, globalLog+`
frontend f
    bind 127.0.0.1:0
    tcp-request content accept if { req_ssl_hello_type 1 }
    use_backend a if { req_ssl_sni -i a.example.com }
    default_backend d
backend a
    server a %s
backend d
    server d %s
`, a, d))
	c, err := net.Dial("tcp", feAddr(t, b, "f"))
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	// Nothing sent yet: the rules find no hello and the default backend
	// is chosen without waiting.
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "d\n", line)
}
