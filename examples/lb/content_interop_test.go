package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"

	"github.com/stretchr/testify/require"
)

// greeters starts one server per name that greets each connection with
// its name, then reads until the client is done.
func greeters(t *testing.T, names ...string) map[string]string {
	t.Helper()
	addrs := map[string]string{}
	for _, name := range names {
		addrs[name] = checkPeer(t, func(c *net.TCPConn) {
			_, _ = io.WriteString(c, name+"\n")
			_, _ = io.Copy(io.Discard, c)
		})
	}
	return addrs
}

// contentCase is one client: what it sends, in pieces with a pause
// between them, and whether it ends its side after them.
type contentCase struct {
	name   string
	pieces [][]byte
	pause  time.Duration
	fin    bool
}

// sniCfg routes TLS clients by server name, rejects one name, and sends
// everything else to d.
func sniCfg(port int, srv map[string]string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    tcp-request inspect-delay 400ms
    tcp-request content reject if { req_ssl_sni -i bad.example.com }
    tcp-request content accept if { req_ssl_hello_type 1 }
    tcp-request content accept if { req.len ge 4 }
    use_backend a if { req_ssl_sni -i a.example.com }
    use_backend b if { req.ssl_sni -m end .b.example.com }
    default_backend d
backend a
    server a %s
backend b
    server b %s
backend d
    server d %s
`, port, srv["a"], srv["b"], srv["d"])
}

// route runs each case against addr and returns the backend that greeted
// it, or "" when the connection was closed first.
func route(t *testing.T, addr string, cases []contentCase) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, tc := range cases {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		for i, p := range tc.pieces {
			if i > 0 {
				time.Sleep(tc.pause)
			}
			_, err := c.Write(p)
			require.NoError(t, err, tc.name)
		}
		if tc.fin {
			_ = c.(*net.TCPConn).CloseWrite()
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		_ = c.Close()
		got[tc.name] = strings.TrimSpace(line)
	}
	return got
}

// TestInteropContentRulesMatchHAProxy sends the same clients through
// haproxy and lb on one configuration that routes by TLS server name, and
// requires the same backend for each, or the same refusal.
func TestInteropContentRulesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := greeters(t, "a", "b", "d")
	helloA := testnet.ClientHello(t, "a.example.com")
	cases := []contentCase{
		{name: "sni a", pieces: [][]byte{helloA}},
		{name: "sni under b", pieces: [][]byte{testnet.ClientHello(t, "x.b.example.com")}},
		{name: "other sni", pieces: [][]byte{testnet.ClientHello(t, "c.example.com")}},
		{name: "no sni", pieces: [][]byte{testnet.ClientHello(t, "")}},
		{name: "rejected sni", pieces: [][]byte{testnet.ClientHello(t, "bad.example.com")}},
		{name: "hello in two pieces", pieces: [][]byte{helloA[:20], helloA[20:]}, pause: 100 * time.Millisecond},
		{name: "hello cut by the client's end", pieces: [][]byte{helloA[:20]}, fin: true},
		{name: "plain text", pieces: [][]byte{[]byte("hello there\n")}},
		{name: "too short to decide", pieces: [][]byte{[]byte("hi")}},
		{name: "silent client", pieces: nil},
	}
	want := map[string]string{
		"sni a": "a", "sni under b": "b", "other sni": "d", "no sni": "d", "rejected sni": "",
		"hello in two pieces": "a", "hello cut by the client's end": "d", "plain text": "d",
		"too short to decide": "d", "silent client": "d",
	}

	port := freePorts(t, 1)[0]
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	runHAProxy(t, sniCfg(port, srv), addr)
	ha := route(t, addr, cases)
	require.Equal(t, want, ha, "haproxy")

	port = freePorts(t, 1)[0]
	b, logs, mu := startInProcess(t, sniCfg(port, srv))
	lb := route(t, b.Addrs("f")[0].String(), cases)
	require.Equal(t, ha, lb)

	// The refused connection's line names the frontend, no server, and
	// the rule: PR, as haproxy's does.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(logs.String(), " f f/<NOSRV> ") && strings.Contains(logs.String(), " PR ")
	}, 5*time.Second, 10*time.Millisecond)
}
