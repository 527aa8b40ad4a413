package pt_test

import (
	"context"
	"crypto/tls"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/pt"
	"github.com/proxyblocks/proxyblocks/xprt"
	_ "github.com/proxyblocks/proxyblocks/xprt/tls" // registers "tls"
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

// The stream over a TLS transport passes the transport's idle answer
// through: after a read that ended by its deadline with nothing read, the
// socket is what says when more may come; over a raw transport, which is
// not an Idler, it says no (the channel uses Raw there).
func TestStreamPassesIdleSocketThrough(t *testing.T) {
	c, s := testnet.Pair(t)
	scfg, ccfg := testcert.Configs(t, "pt.test")
	tr, err := xprt.New("tls", s, scfg, false)
	require.NoError(t, err)
	client := tls.Client(c, ccfg)
	testcert.Handshake(t, client, tr)

	ms, err := pt.New(tr, mux.SideFront).Accept(context.Background())
	require.NoError(t, err)
	st := ms.(mux.Tunnel)
	id, ok := ms.(xprt.Idler)
	require.True(t, ok, "the stream must be an xprt.Idler")
	_, idle := id.IdleSocket()
	require.False(t, idle, "nothing has been read yet")

	require.NoError(t, st.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	n, err := st.Read(make([]byte, 8))
	require.Zero(t, n)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	rc, idle := id.IdleSocket()
	require.True(t, idle, "a read that timed out with nothing leaves nothing inside")
	require.NotNil(t, rc)

	_, err = client.Write([]byte("hi"))
	require.NoError(t, err)
	require.NoError(t, st.SetReadDeadline(time.Time{}))
	buf := make([]byte, 2)
	_, err = io.ReadFull(st, buf)
	require.NoError(t, err)
	require.Equal(t, "hi", string(buf))
	_, idle = id.IdleSocket()
	require.False(t, idle, "a read that returned bytes clears it")
	require.NoError(t, st.Close())

	c2, s2 := testnet.Pair(t)
	defer c2.Close()
	st2, err := pt.New(xprt.NewRaw(s2), mux.SideFront).Accept(context.Background())
	require.NoError(t, err)
	_, idle = st2.(xprt.Idler).IdleSocket()
	require.False(t, idle, "a raw transport is not an Idler")
	require.NoError(t, st2.Close())
}
