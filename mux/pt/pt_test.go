package pt_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/pt"
	"github.com/proxyblocks/proxyblocks/xprt"
)

func TestOneStreamCarriesBytesAndKeepsSplice(t *testing.T) {
	c, s := testnet.Pair(t)
	m, err := mux.New(xprt.NewRaw(s), "", mux.SideFront, mux.ModeTCP)
	require.NoError(t, err)
	require.Equal(t, "pt", m.Name())
	require.Equal(t, 1, m.AvailStreams())
	require.Equal(t, 0, m.UsedStreams())

	st, err := m.Accept(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint32(0), st.ID())
	require.Equal(t, 0, m.AvailStreams())
	require.Equal(t, 1, m.UsedStreams())

	tun, ok := st.(mux.Tunnel)
	require.True(t, ok, "the pass-through stream is a tunnel")
	_, raw := tun.Raw()
	require.True(t, raw, "the stream must expose the socket so the channel can splice")

	_, err = m.Accept(context.Background())
	require.ErrorIs(t, err, pt.ErrStreamTaken)

	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(tun, buf)
	require.NoError(t, err)
	require.Equal(t, "ping", string(buf))

	_, err = tun.Write([]byte("pong"))
	require.NoError(t, err)
	require.NoError(t, tun.CloseWrite())
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "pong", string(got))

	require.NoError(t, st.Close())
	require.NoError(t, m.Close(), "closing twice is harmless")
	require.Equal(t, 0, m.UsedStreams())
	_, err = m.Open(context.Background())
	require.ErrorIs(t, err, pt.ErrClosed)
	_, err = c.Read(buf)
	require.Error(t, err, "the client sees the connection closed")
}
