package balancer

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/spoe"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// Close does not wait for an agent's processing timeout: an exchange
// under way ends at once, its request goes on, and nothing is left
// behind.
func TestSPOECloseEndsExchanges(t *testing.T) {
	testnet.LeakCheck(t)
	notified := make(chan struct{}, 1)
	agent := testnet.Serve(t, func(c net.Conn) {
		defer c.Close()
		// Answer the HELLO, then take frames and never acknowledge.
		buf := make([]byte, 4096)
		if _, _, err := spoe.ReadFrame(c, nil, 1<<16); err != nil {
			return
		}
		b := spoe.AppendAgentHello(nil, 16380, "")
		if _, err := c.Write(spoe.FinishFrame(b, 0)); err != nil {
			return
		}
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
			select {
			case notified <- struct{}{}:
			default:
			}
		}
	})
	conf := filepath.Join(t.TempDir(), "spoe.conf")
	require.NoError(t, os.WriteFile(conf, []byte("[e]\nspoe-agent a\n    groups g\n    timeout processing 1h\n    use-backend agents\nspoe-message m\n    args src\nspoe-group g\n    messages m\n"), 0o600))
	cfg, err := config.Parse(config.Source{Name: "t.cfg", Data: fmt.Appendf(nil, httpDefaults+`
listen l
    bind 127.0.0.1:0
    filter spoe engine e config %s
    http-request send-spoe-group e g
    http-request return status 200
backend agents
    mode tcp
    server a %s
`, conf, agent)})
	require.NoError(t, err)
	lb, err := Start(t.Context(), cfg, Options{})
	require.NoError(t, err)
	c, err := net.Dial("tcp", lb.Addrs("l")[0].String())
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	testnet.Signalled(t, notified, "the agent's NOTIFY")
	closed := make(chan error, 1)
	go func() { closed <- lb.Close() }()
	require.NoError(t, testnet.Signalled(t, closed, "Close, which must not wait for the processing timeout"))
}
