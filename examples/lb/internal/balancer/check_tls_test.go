package balancer

import (
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// tlsListener serves TLS with the certificate of crt (a PEM file holding
// the certificate and its key), answering nothing, until the test ends.
func tlsListener(t *testing.T, crt string) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(crt, crt)
	require.NoError(t, err)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	require.NoError(t, err)
	return serveSilently(t, ln)
}

// serveSilently accepts on ln, runs the TLS handshake when ln is a TLS
// listener, and holds every connection open until the test ends.
func serveSilently(t *testing.T, ln net.Listener) string {
	t.Helper()
	return holdOn(t, ln).ln.Addr().String()
}

// A health check to an ssl server tells a TLS handshake failure (Layer6,
// L6RSP) and a TLS server that never answers the handshake (Layer6
// timeout, L6TOUT) from a refused connect (Layer4, L4CON), in the
// state-change line and in the server's check status; a server that
// passes is L6OK.
func TestHealthCheckTLSFailures(t *testing.T) {
	testnet.LeakCheck(t)
	trusted, stranger := newTestPKI(t), newTestPKI(t)
	good := tlsListener(t, trusted.crt)
	bad := tlsListener(t, stranger.crt)         // signed by a CA the check does not trust
	mute := serveSilently(t, testnet.Listen(t)) // accepts, never speaks TLS
	refused := testnet.RefusedAddr(t)

	text := globalLog + `    timeout check 300ms
frontend f
    bind 127.0.0.1:0
    default_backend b
backend b
    server good %[2]s ssl verify required ca-file %[1]s sni str(a.example) check inter 100ms fall 1 rise 1
    server bad %[3]s ssl verify required ca-file %[1]s sni str(a.example) check inter 100ms fall 1 rise 1
    server mute %[4]s ssl verify required ca-file %[1]s sni str(a.example) check inter 100ms fall 1 rise 1
    server refused %[5]s ssl verify required ca-file %[1]s sni str(a.example) check inter 100ms fall 1 rise 1
`
	args := []any{trusted.ca, good, bad, mute, refused}
	checkedByHAProxy(t, fmt.Sprintf(text, args...))
	b, logs := startLB(t, parseCfg(t, text, args...))
	be := b.Backend("b")

	for _, tc := range []struct{ server, reason, status string }{
		{"bad", `Layer6 invalid response, info: "SSL handshake failure"`, "L6RSP"},
		{"mute", `Layer6 timeout`, "L6TOUT"},
		{"refused", `Layer4 connection problem, info: "Connection refused"`, "L4CON"},
	} {
		line := logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server b/"+tc.server+" is DOWN") })
		require.Regexp(t, `^Server b/`+tc.server+` is DOWN, reason: `+regexp.QuoteMeta(tc.reason)+`, check duration: \d+ms\. `, line)
		require.False(t, be.Server(tc.server).Up())
		require.Equal(t, tc.status, be.Server(tc.server).CheckStatus())
	}
	require.Eventually(t, func() bool { return be.Server("good").CheckStatus() == "L6OK" }, 5*time.Second, 10*time.Millisecond)
	require.True(t, be.Server("good").Up())
	for _, l := range logs.lines() {
		require.False(t, strings.HasPrefix(l, "Server b/good is DOWN"), l)
	}
	require.NoError(t, b.Close())
}
