package h1

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// HeadTimes start when a head's first byte came: a head cut by the caller's
// deadline keeps its start into the Accept that completes it, and the
// next request has a start of its own.
func TestHeadStart(t *testing.T) {
	testnet.LeakCheck(t)
	c, s := testnet.Pair(t)
	tr := xprt.NewRaw(s)
	m := New(tr, mux.SideFront, Limits{})
	defer m.Close()

	first := time.Now()
	_, err := io.WriteString(c, "GET /a HTTP/1.1\r\n")
	require.NoError(t, err)
	require.NoError(t, tr.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	_, err = m.Accept(context.Background())
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "the head's end has not come")
	require.NoError(t, tr.SetReadDeadline(time.Time{}))
	time.Sleep(20 * time.Millisecond)
	_, err = io.WriteString(c, "Host: x\r\n\r\n")
	require.NoError(t, err)
	st, err := m.Accept(context.Background())
	require.NoError(t, err)
	hs, he := st.(*Stream).HeadTimes()
	end := time.Now()
	require.False(t, hs.IsZero())
	require.True(t, !he.Before(hs) && !end.Before(he), "the end comes after the start, before Accept returned")
	require.True(t, !hs.Before(first) && end.Sub(hs) >= 60*time.Millisecond,
		"the start is the first part's: %v after the first write, %v before the end", hs.Sub(first), end.Sub(hs))
	echo(st.(*Stream))
	require.NoError(t, st.Close())

	// The next request starts afresh.
	time.Sleep(30 * time.Millisecond)
	before := time.Now()
	_, err = io.WriteString(c, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	st, err = m.Accept(context.Background())
	require.NoError(t, err)
	hs, _ = st.(*Stream).HeadTimes()
	require.False(t, hs.Before(before), "the second head's own start")
	echo(st.(*Stream))
	require.NoError(t, st.Close())
}
