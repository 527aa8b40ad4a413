package balancer

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// option nolinger makes lb's close of a frontend's client connections and
// of a backend's server connections a reset, as HAProxy documents it: here
// the balancer stops with a session open, closing both at once. Without
// the option, both peers see an end of stream. (How half-closes go under
// the option, against haproxy: TestInteropNoLinger in examples/lb.)
func TestOptionNoLinger(t *testing.T) {
	testnet.LeakCheck(t)
	for _, tc := range []struct {
		name, defaults, fe, be string
		client, server         string
	}{
		{name: "none", client: "eof", server: "eof"},
		{name: "defaults", defaults: "option nolinger", client: "reset", server: "reset"},
		{name: "frontend", fe: "option nolinger", client: "reset", server: "eof"},
		{name: "backend", be: "option nolinger", client: "eof", server: "reset"},
		{name: "defaults, undone in the backend", defaults: "option nolinger", be: "no option nolinger", client: "reset", server: "eof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := testnet.Listen(t)
			serverEnd := make(chan string, 1)
			got := make(chan struct{})
			stop := testnet.Accept(ln, func(c net.Conn) {
				defer c.Close()
				var b [1]byte
				if _, err := io.ReadFull(c, b[:]); err != nil {
					serverEnd <- err.Error()
					return
				}
				close(got)
				serverEnd <- testnet.HowEnded(c)
			})
			defer stop()
			text := `defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    ` + tc.defaults + `
frontend f
    bind 127.0.0.1:0
    ` + tc.fe + `
    default_backend b
backend b
    ` + tc.be + `
    server s %s
`
			checkedByHAProxy(t, strings.Replace(text, "%s", ln.Addr().String(), 1))
			b, _ := startLB(t, parseCfg(t, text, ln.Addr().String()))
			c, err := net.Dial("tcp", feAddr(t, b, "f"))
			require.NoError(t, err)
			defer c.Close()
			_, err = fmt.Fprint(c, "x")
			require.NoError(t, err)
			<-got // lb read the byte and forwarded it: nothing is left unread
			require.NoError(t, b.Close())
			require.Equal(t, tc.client, testnet.HowEnded(c), "client")
			require.Equal(t, tc.server, <-serverEnd, "server")
		})
	}
}
