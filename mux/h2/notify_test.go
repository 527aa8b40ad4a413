package h2

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/idlesweep"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// openGet opens a stream on back and sends a bodyless GET for path.
func openGet(t *testing.T, back *Mux, path string) *Stream {
	t.Helper()
	st, err := back.Open(context.Background())
	require.NoError(t, err)
	var req htx.Message
	req.SetRequest("GET", "http", "test", path)
	req.Flags |= htx.FlagBodyless
	require.NoError(t, st.(*Stream).WriteRequest(&req))
	return st.(*Stream)
}

// AcceptNotify calls its function once a stream is ready for Accept, or
// once the connection ended, and declines when either is so already.
func TestAcceptNotify(t *testing.T) {
	testnet.LeakCheck(t)
	c, s := testnet.Pair(t)
	front, err := New(xprt.NewRaw(s), mux.SideFront, Config{})
	require.NoError(t, err)
	defer front.Close()
	back, err := New(xprt.NewRaw(c), mux.SideBack, Config{})
	require.NoError(t, err)
	defer back.Close()

	called := make(chan struct{}, 1)
	fn := func() { called <- struct{}{} }
	waitCalled := func(what string) {
		t.Helper()
		testnet.Signalled(t, called, "notice of "+what)
	}
	quiet := func(what string) {
		t.Helper()
		testnet.Silent(t, called, 50*time.Millisecond, what)
	}
	open := func(path string) { openGet(t, back, path) }

	require.True(t, front.AcceptNotify(fn))
	quiet("a stream")
	open("/one")
	waitCalled("a stream")
	require.False(t, front.AcceptNotify(fn), "a stream waits for Accept")
	st, err := front.Accept(context.Background())
	require.NoError(t, err)
	require.Equal(t, "/one", string(st.(*Stream).Request().Path()))
	require.NoError(t, st.Close())

	// Called once: a second stream after the first notification finds
	// nothing registered.
	require.True(t, front.AcceptNotify(fn))
	open("/two")
	waitCalled("the second stream")
	open("/three")
	quiet("a new AcceptNotify")
	for _, want := range []string{"/two", "/three"} {
		st, err := front.Accept(context.Background())
		require.NoError(t, err)
		require.Equal(t, want, string(st.(*Stream).Request().Path()))
		require.NoError(t, st.Close())
	}

	// The end of the connection.
	require.True(t, front.AcceptNotify(fn))
	require.NoError(t, back.Close())
	waitCalled("the end")
	// The end: io.EOF, or a reset when the peer closed with bytes of
	// ours unread.
	_, err = front.Accept(context.Background())
	require.Error(t, err)
	require.False(t, front.AcceptNotify(fn), "the connection is over")
}

// A connection that receives nothing for a while parks its reader in the
// shared idle poller, holding no goroutine; a stream opened later wakes
// it and is served, and Close ends a parked connection at once, leaving
// no goroutine behind.
func TestIdleReaderParks(t *testing.T) {
	testnet.LeakCheck(t)
	// No sweep: only Close's Wake can end the front's parked reader,
	// whose socket Close takes out of the poller without an event.
	require.Eventually(t, func() bool { return xprt.Parked() == 0 }, 10*time.Second, 5*time.Millisecond)
	t.Cleanup(idlesweep.Set(time.Hour))
	c, s := testnet.Pair(t)
	front, err := New(xprt.NewRaw(s), mux.SideFront, Config{})
	require.NoError(t, err)
	back, err := New(xprt.NewRaw(c), mux.SideBack, Config{})
	require.NoError(t, err)
	defer back.Close()
	served := make(chan string, 4)
	go serveHello(front, served)
	get := func(path string) {
		t.Helper()
		st := openGet(t, back, path)
		var resp htx.Message
		require.NoError(t, st.ReadResponse(&resp))
		require.Equal(t, 200, resp.Status)
		_, _ = io.Copy(io.Discard, st)
		_ = st.Close()
		require.Equal(t, path, testnet.Signalled(t, served, "the stream "+path))
	}
	get("/one")
	// Both readers, the front's and the back's, park.
	require.Eventually(t, func() bool { return xprt.Parked() == 2 }, 10*time.Second, 5*time.Millisecond)
	get("/two")
	require.Eventually(t, func() bool { return xprt.Parked() == 2 }, 10*time.Second, 5*time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- front.Close() }()
	require.NoError(t, testnet.Signalled(t, closed, "end of Close with the reader parked"))
	require.Eventually(t, func() bool { return xprt.Parked() == 0 }, 10*time.Second, 5*time.Millisecond)
}
