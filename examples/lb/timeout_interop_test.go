package main

import (
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// halfCloseRun is what the peers of one TCP session saw when one side
// went silent past its timeout.
type halfCloseRun struct {
	server, client string // every byte each read, up to its end of stream
}

// runTimeoutScenario sends "hi" from a client through the proxy at addr
// to a server on ln, then lets the silent side's timeout strike. The peer
// on the other side reads to its end of stream, then sends "late" and
// shuts its side; the silent one reads to the end.
func runTimeoutScenario(t *testing.T, ln net.Listener, addr string, clientSilent bool) halfCloseRun {
	t.Helper()
	c, s := sessionHi(t, ln, addr)
	const hi = "hi"
	var run halfCloseRun
	if clientSilent {
		got, err := io.ReadAll(s)
		require.NoError(t, err, "the server's end of stream")
		_, err = io.WriteString(s, "late")
		require.NoError(t, err)
		require.NoError(t, s.(*net.TCPConn).CloseWrite())
		run.server = hi + string(got)
		got, err = io.ReadAll(c)
		require.NoError(t, err, "the client's end of stream")
		run.client = string(got)
	} else {
		got, err := io.ReadAll(c)
		require.NoError(t, err, "the client's end of stream")
		_, err = io.WriteString(c, "late")
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
		run.client = string(got)
		got, err = io.ReadAll(s)
		require.NoError(t, err, "the server's end of stream")
		run.server = hi + string(got)
	}
	return run
}

// A side silent past timeout client or timeout server ends its direction
// only, under haproxy and under lb alike: its peer gets a FIN, and what
// that peer sends afterwards still reaches the silent side.
func TestInteropTimeoutHalfCloses(t *testing.T) {
	haproxyBin(t)
	for _, tc := range []struct {
		name         string
		timeouts     string
		clientSilent bool
		want         halfCloseRun
	}{
		{"timeout client", "timeout client 300ms\n    timeout server 30s", true, halfCloseRun{server: "hi", client: "late"}},
		{"timeout server", "timeout client 30s\n    timeout server 300ms", false, halfCloseRun{server: "hilate", client: ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := func(bind string, server net.Addr) string {
				return fmt.Sprintf(`defaults
    mode tcp
    timeout connect 5s
    %s
listen l
    bind %s
    server s %s
`, tc.timeouts, bind, server)
			}
			// Each proxy has its own server socket.
			hln, lln := testnet.Listen(t), testnet.Listen(t)
			hp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			runHAProxy(t, cfg(hp, hln.Addr()), hp)
			b, _, _ := startInProcess(t, cfg("127.0.0.1:0", lln.Addr()))
			for _, p := range []struct {
				name, addr string
				ln         net.Listener
			}{{"haproxy", hp, hln}, {"lb", b.Addrs("l")[0].String(), lln}} {
				t.Run(p.name, func(t *testing.T) {
					require.Equal(t, tc.want, runTimeoutScenario(t, p.ln, p.addr, tc.clientSilent))
				})
			}
		})
	}
}
