package balancer

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"

	"github.com/stretchr/testify/require"
)

// scriptPeer is a server the checks talk to (testnet.Peer), with the
// count of connections it still serves.
type scriptPeer struct {
	addr string
	open *atomic.Int32
}

func newScriptPeer(t *testing.T, serve func(c *net.TCPConn)) *scriptPeer {
	t.Helper()
	addr, open := testnet.Peer(t, serve)
	return &scriptPeer{addr: addr, open: open}
}

// pong answers PING with +PONG until the check closes.
func pong(c *net.TCPConn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if strings.TrimSpace(line) == "PING" {
			_, _ = io.WriteString(c, "+PONG\r\n")
		}
	}
}

// TestTCPCheckReasons runs scripted checks against peers and requires
// HAProxy's wording for each outcome (TestInteropTCPCheckMatchesHAProxy
// compares the same wording with haproxy itself).
func TestTCPCheckReasons(t *testing.T) {
	pongPeer := newScriptPeer(t, pong)
	errPeer := newScriptPeer(t, func(c *net.TCPConn) {
		var b [64]byte
		_, _ = c.Read(b[:])
		_, _ = io.WriteString(c, "-ERR wrong\r\n")
		_ = c.CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	})
	silent := newScriptPeer(t, func(c *net.TCPConn) { _, _ = io.Copy(io.Discard, c) })
	banner := newScriptPeer(t, func(c *net.TCPConn) {
		_, _ = io.WriteString(c, "220 ready\r\n")
		_ = c.CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	})
	refused := refusingAddr(t)
	pongPort := pongPeer.addr[strings.LastIndexByte(pongPeer.addr, ':')+1:]

	tests := []struct {
		name, body string
		up         bool
		reason     string // the DOWN line's reason, for a server that fails
		status     string
	}{
		{"send and expect", "option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\n  server s " + pongPeer.addr + " check", true, "", "L7OK"},
		{"redis-check", "option redis-check\n  server s " + pongPeer.addr + " check", true, "", "L7OK"},
		{"server port", "option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\n  server s " + refused + " check port " + pongPort, true, "", "L7OK"},
		{"connect port", "option tcp-check\n  tcp-check connect port " + pongPort + "\n  server s " + refused + " check", true, "", "L4OK"},
		{"no rules", "option tcp-check\n  server s " + pongPeer.addr + " check", true, "", "L4OK"},
		{"inverse, end of answer", "option tcp-check\n  tcp-check expect ! string 5\n  server s " + banner.addr + " check", true, "", "L7OK"},
		{"mismatch", "option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\n  server s " + errPeer.addr + " check", false,
			`Layer7 invalid response, info: "TCPCHK did not match content '+PONG' at step 2"`, "L7RSP"},
		{"redis wrong", "option redis-check\n  server s " + errPeer.addr + " check", false,
			`Layer7 wrong status, code: 0, info: "-ERR wrong"`, "L7STS"},
		{"unwanted", "option tcp-check\n  tcp-check comment no-smtp\n  tcp-check expect ! rstring ^220\n  server s " + banner.addr + " check", false,
			`Layer7 invalid response, info: "TCPCHK matched unwanted content (regex) at step 2 comment: no-smtp"`, "L7RSP"},
		{"empty after send", "option tcp-check\n  tcp-check expect string 220\n  tcp-check send QUIT\\r\\n\n  tcp-check expect string 221 comment bye\n  server s " + banner.addr + " check", false,
			`Layer7 invalid response, info: "TCPCHK got an empty response at step 3 comment: 'bye'"`, "L7RSP"},
		{"timeout", "option tcp-check\n  tcp-check expect binary 0d0a\n  server s " + silent.addr + " check", false,
			`Layer7 timeout, info: " at step 1 of tcp-check (expect binary '<0D><0A>')"`, "L7TOUT"},
		{"redis timeout", "option redis-check\n  server s " + silent.addr + " check", false, `Layer7 timeout`, "L7TOUT"},
		{"refused", "option tcp-check\n  tcp-check expect string x\n  server s " + refused + " check", false,
			`Layer4 connection problem, info: "Connection refused at initial connection step of tcp-check"`, "L4CON"},
		{"refused connect rule", "option tcp-check\n  tcp-check connect port 1 comment c1\n  server s " + pongPeer.addr + " check", false,
			`Layer4 connection problem, info: "Connection refused at step 1 of tcp-check (connect port 1) comment: 'c1'"`, "L4CON"},
		{"min-recv decides early", "option tcp-check\n  tcp-check expect min-recv 2 string 999\n  server s " + banner.addr + " check", false,
			`Layer7 invalid response, info: "TCPCHK did not match content '999' at step 1"`, "L7RSP"},
	}
	cfg := globalLog + "    timeout check 300ms\n    default-server inter 100 fall 1 rise 1\n"
	for i, tt := range tests {
		cfg += "backend b" + string(rune('a'+i)) + "\n  " + tt.body + "\n"
	}
	b, logs := startLB(t, parseCfg(t, "%s", cfg))
	for i, tt := range tests {
		name := "b" + string(rune('a'+i))
		srv := b.Backend(name).Server("s")
		if tt.up {
			require.Eventually(t, func() bool { return srv.CheckStatus() != "" }, 5*time.Second, 10*time.Millisecond, tt.name)
			require.Equal(t, tt.status, srv.CheckStatus(), tt.name)
			require.True(t, srv.Up(), tt.name)
			continue
		}
		line := logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server "+name+"/s is DOWN") })
		require.Contains(t, line, "reason: "+tt.reason+", check duration: ", tt.name)
		require.Equal(t, tt.status, srv.CheckStatus(), tt.name)
	}
	// Every check closes its connection once it has its answer, and
	// closing the balancer ends the checks in flight.
	require.NoError(t, b.Close())
	for _, p := range []*scriptPeer{pongPeer, errPeer, banner, silent} {
		require.Eventually(t, func() bool { return p.open.Load() == 0 }, 5*time.Second, 10*time.Millisecond)
	}
}

// TestTCPCheckEndsWithBalancer stops a balancer while a check waits on a
// silent server with a minute to go: Close ends the wait and the check's
// connection.
func TestTCPCheckEndsWithBalancer(t *testing.T) {
	silent := newScriptPeer(t, func(c *net.TCPConn) { _, _ = io.Copy(io.Discard, c) })
	b, _ := startLB(t, parseCfg(t, globalLog+"backend b\n  option tcp-check\n  tcp-check expect string x\n  server s %s check inter 60s\n", silent.addr))
	require.Eventually(t, func() bool { return silent.open.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Close waited for the check's minute")
	}
	require.Eventually(t, func() bool { return silent.open.Load() == 0 }, 5*time.Second, 10*time.Millisecond)
}

// TestCheckElsewhereGoesPlain: a server that takes the PROXY protocol has
// its checks on another port sent without the header, as in HAProxy,
// unless check-send-proxy asks for it.
func TestCheckElsewhereGoesPlain(t *testing.T) {
	first := make(chan string, 16)
	peer := newScriptPeer(t, func(c *net.TCPConn) {
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		select {
		case first <- line:
		default:
		}
		for strings.HasPrefix(line, "PROXY") {
			if line, err = r.ReadString('\n'); err != nil {
				return
			}
		}
		_, _ = io.WriteString(c, "+PONG\r\n")
		_, _ = io.Copy(io.Discard, c)
	})
	port := peer.addr[strings.LastIndexByte(peer.addr, ':')+1:]
	for _, tt := range []struct{ opts, want string }{
		{"send-proxy check port " + port, "PING\r\n"},
		{"check port " + port + " check-send-proxy", "PROXY "},
		{"send-proxy check", "PROXY "},
	} {
		t.Run(tt.opts, func(t *testing.T) {
			addr := peer.addr
			if strings.Contains(tt.opts, "port") {
				addr = refusingAddr(t)
			}
			for len(first) > 0 {
				<-first
			}
			b, _ := startLB(t, parseCfg(t, globalLog+"backend bk\n  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\n  server s %s %s inter 100ms\n", addr, tt.opts))
			select {
			case got := <-first:
				require.True(t, strings.HasPrefix(got, tt.want), "%q", got)
			case <-time.After(5 * time.Second):
				t.Fatal("no check arrived")
			}
			require.Eventually(t, func() bool { return b.Backend("bk").Server("s").CheckStatus() == "L7OK" }, 5*time.Second, 10*time.Millisecond)
			require.NoError(t, b.Close())
		})
	}
}
