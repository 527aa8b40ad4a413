package xprt_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
)

func TestRawHalfClose(t *testing.T) {
	c, s := testnet.Pair(t)
	tr, err := xprt.New("raw", c, nil, true)
	require.NoError(t, err)
	require.Equal(t, "raw", tr.Name())
	require.NoError(t, tr.Handshake(context.Background()))
	_, ok := tr.Raw()
	require.True(t, ok, "a TCP socket must expose its fd")
	require.False(t, tr.Info().TLS)

	_, err = tr.Write([]byte("hello"))
	require.NoError(t, err)
	require.NoError(t, tr.CloseWrite())
	got, err := io.ReadAll(s)
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))

	// The read side stays open after CloseWrite.
	_, err = s.Write([]byte("back"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(tr, buf)
	require.NoError(t, err)
	require.Equal(t, "back", string(buf))
}

func TestRawOverPipeHasNoFD(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	tr := xprt.NewRaw(a)
	_, ok := tr.Raw()
	require.False(t, ok)
}

func TestUnknownTransport(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	_, err := xprt.New("nope", a, nil, false)
	require.ErrorIs(t, err, xprt.ErrUnknown)
	require.Contains(t, xprt.Names(), "raw")
}
