package balancer

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/spoe"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// scoreAgent is a SPOE agent answering every NOTIFY with
// set-var(sess.score) 90.
func scoreAgent(t testing.TB) string {
	return testnet.Serve(t, func(c net.Conn) {
		defer c.Close()
		r := bufio.NewReader(c)
		var buf, out []byte
		for {
			f, nb, err := spoe.ReadFrame(r, buf, 1<<16)
			buf = nb
			if err != nil {
				return
			}
			out = out[:0]
			switch f.Type {
			case spoe.FrameHAProxyHello:
				out = spoe.AppendAgentHello(out, 16380, "pipelining,async")
			case spoe.FrameNotify:
				out = spoe.AppendFrameHead(out, spoe.FrameAck, spoe.FlagFin, f.StreamID, f.FrameID)
				out = spoe.AppendAction(out, spoe.Action{Type: spoe.ActionSetVar, Scope: spoe.ScopeSess, Name: []byte("score"), Value: spoe.Value{Type: spoe.TypeInt32, Int: 90}})
			default:
				return
			}
			if _, err := c.Write(spoe.FinishFrame(out, 0)); err != nil {
				return
			}
		}
	})
}

// BenchmarkHTTPSPOEGroup is BenchmarkHTTPKeepAlive with each request
// sent to a SPOE agent first (send-spoe-group), whose variable a deny
// rule reads: the cost of an offloaded decision per request.
func BenchmarkHTTPSPOEGroup(b *testing.B) {
	agent := scoreAgent(b)
	conf := filepath.Join(b.TempDir(), "spoe.conf")
	require.NoError(b, os.WriteFile(conf, []byte(`[e]
spoe-agent a
    groups g
    timeout hello 2s
    timeout idle 2m
    timeout processing 1s
    use-backend agents
spoe-message check
    args ip=src path=path
spoe-group g
    messages check
`), 0o600))
	benchKeepAlive(b, strings.ReplaceAll(fmt.Sprintf(`
listen l
    bind 127.0.0.1:0
    filter spoe engine e config %s
    http-request send-spoe-group e g
    http-request deny if { var(sess.a.score) -m int lt 20 }
    server s SERVER
backend agents
    mode tcp
    server a %s
`, conf, agent), "SERVER", "%s"))
}
