package balancer

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// A routing token's "ADDR.PORT." as HAProxy decodes it; anything else
// names no server.
func TestRDPServerAddr(t *testing.T) {
	// 10.0.0.1:3389: bytes 0a 00 00 01 read little-endian, port 0x0d3d
	// swapped to 0x3d0d.
	got, ok := rdpServerAddr([]byte("16777226.15629.0000"))
	require.True(t, ok)
	require.Equal(t, netip.MustParseAddrPort("10.0.0.1:3389"), got)
	for _, bad := range []string{"16777226", "16777226.15629", "x.15629.0000", "16777226:15629.0000", ""} {
		_, ok := rdpServerAddr([]byte(bad))
		require.False(t, ok, bad)
	}
}
