package balancer

import (
	"testing"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/assert"
)

// TestSmartAcceptDefault checks when a listener holds back its ACKs: as
// the option says when it is written, else in mode http and on ssl bind
// lines, as in HAProxy.
func TestSmartAcceptDefault(t *testing.T) {
	tcp, http := &config.Proxy{Mode: "tcp"}, &config.Proxy{Mode: "http"}
	plain, ssl := config.Bind{}, config.Bind{SSL: config.BindSSL{Enabled: true}}
	assert.False(t, smartAccept(tcp, plain))
	assert.True(t, smartAccept(tcp, ssl))
	assert.True(t, smartAccept(http, plain))
	http.Options.SmartAcceptSet = true
	assert.False(t, smartAccept(http, plain), "no option tcp-smart-accept")
	tcp.Options.SmartAccept, tcp.Options.SmartAcceptSet = true, true
	assert.True(t, smartAccept(tcp, plain))
}

// TestRewriteReserve checks the room a buffer keeps for rewrites:
// tune.maxrewrite, 1024 by default, at most half a buffer.
func TestRewriteReserve(t *testing.T) {
	assert.Equal(t, 1024, rewriteReserve(&config.Global{BufSize: 16384}))
	assert.Equal(t, 4096, rewriteReserve(&config.Global{BufSize: 16384, MaxRewrite: 4096}))
	assert.Equal(t, 8192, rewriteReserve(&config.Global{BufSize: 16384, MaxRewrite: 10000}))
	assert.Equal(t, 512, rewriteReserve(&config.Global{BufSize: 1024}))
}
