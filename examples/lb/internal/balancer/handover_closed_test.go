package balancer

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// A listener closed at run time is not handed over: the new Balancer
// opens its address again.
func TestHandoverSkipsClosedListener(t *testing.T) {
	a := bannerEcho(t, "A")
	port := testnet.FreePorts(t, 1)[0]
	text := "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\nlisten px\n    bind 127.0.0.1:%d\n    server s %s\n"
	b1, _ := startLB(t, parseCfg(t, text, port, a))
	b1.closeListeners()
	h, err := b1.Handover()
	require.NoError(t, err)
	b2, err := Start(context.Background(), parseCfg(t, text, port, a), Options{Stdout: io.Discard, Stderr: io.Discard, Inherit: h})
	require.NoError(t, h.Close())
	require.NoError(t, err)
	defer b2.Close()
	require.Equal(t, "A", ask(t, fmt.Sprintf("127.0.0.1:%d", port)))
}
