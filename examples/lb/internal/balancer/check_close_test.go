package balancer

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// checkEnds serves one check connection on ln: with http, it reads the
// request and answers 200; with proxy, it reads the PROXY header line.
// Then it waits for the balancer to end the connection and reports how
// the read saw it end.
func checkEnds(t *testing.T, ln net.Listener, http, proxy bool) error {
	t.Helper()
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(10*time.Second)))
	c, err := ln.Accept()
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	r := bufio.NewReader(c)
	if proxy {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		// As haproxy's checks: a v1 header with the check's own
		// addresses, the server's last.
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		require.True(t, strings.HasPrefix(line, "PROXY TCP4 127.0.0.1 127.0.0.1 ") && strings.HasSuffix(line, " "+port+"\r\n"), line)
	}
	if http {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(line, "OPTIONS / HTTP/1.0"), line)
		for line != "\r\n" {
			line, err = r.ReadString('\n')
			require.NoError(t, err)
		}
		_, err = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
		require.NoError(t, err)
	}
	_, err = r.ReadByte()
	require.Error(t, err)
	return err
}

// Once a check has its answer, the balancer resets the connection
// (SO_LINGER 0) instead of closing it, as HAProxy does, so that frequent
// checks leave no sockets in TIME_WAIT on the balancer's side. A server
// that gets something from the check (a PROXY header, a request) sees the
// reset, not an end of stream; an HTTP check holds the connection open
// until the answer comes.
func TestHealthCheckConnectionReset(t *testing.T) {
	testnet.LeakCheck(t)
	for _, tc := range []struct {
		name, opt, srv string
		http, proxy    bool
	}{
		{name: "send-proxy", srv: "send-proxy", proxy: true},
		{name: "http", opt: "option httpchk", http: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := testnet.Listen(t)
			text := globalLog + `frontend f
    bind 127.0.0.1:0
    default_backend b
backend b
    ` + tc.opt + `
    server s %s check inter 60s ` + tc.srv + `
`
			checkedByHAProxy(t, strings.Replace(text, "%s", ln.Addr().String(), 1))
			b, _ := startLB(t, parseCfg(t, text, ln.Addr().String()))
			err := checkEnds(t, ln, tc.http, tc.proxy)
			require.True(t, errors.Is(err, syscall.ECONNRESET), "the server's read ended with %v, not a reset", err)
			require.Eventually(t, func() bool { return b.Backend("b").Server("s").CheckStatus() != "" }, 10*time.Second, 5*time.Millisecond)
			require.True(t, b.Backend("b").Server("s").Up())
			require.NoError(t, b.Close())
		})
	}
}
