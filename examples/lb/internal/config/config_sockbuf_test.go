package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSocketBufferKeywords(t *testing.T) {
	c := mustParse(t, "global\n tune.rcvbuf.client 1048576\n tune.rcvbuf.server 512k\n tune.sndbuf.client 65536\n tune.sndbuf.server 2m\n")
	g := c.Global
	require.Equal(t, 1<<20, g.RcvBufClient)
	require.Equal(t, 512<<10, g.RcvBufServer)
	require.Equal(t, 64<<10, g.SndBufClient)
	require.Equal(t, 2<<20, g.SndBufServer)

	g = mustParse(t, "global\n maxconn 10\n").Global
	require.Zero(t, g.RcvBufClient+g.RcvBufServer+g.SndBufClient+g.SndBufServer, "unset means the kernel's sizing")

	_, err := parse(t, "global\n tune.rcvbuf.client\n")
	require.ErrorContains(t, err, "lb.cfg:2:")
	_, err = parse(t, "global\n tune.sndbuf.server lots\n")
	require.ErrorContains(t, err, "lb.cfg:2:")
	_, err = parse(t, "defaults\n tune.sndbuf.client 1024\n")
	require.ErrorIs(t, err, ErrMisplaced)
}
