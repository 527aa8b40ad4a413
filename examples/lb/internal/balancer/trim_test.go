package balancer

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/buffer"
)

// trimLB starts a balancer whose trimmer looks every 20 ms, in front of
// one server whose line ends with opts, and returns it and its address.
func trimLB(t *testing.T, opts string) (*Balancer, string) {
	old := trimEvery
	trimEvery = 20 * time.Millisecond
	t.Cleanup(func() { trimEvery = old })
	srv := newServer(t, "s", false)
	b, _ := startLB(t, parseCfg(t, `
defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    timeout queue 10s
listen px
    bind 127.0.0.1:0
    server s %s`+opts+`
`, srv.addr()))
	return b, feAddr(t, b, "px")
}

// Once a period passes without an accept after one with some, the
// balancer trims its buffer pool to trimKeep idle buffers and gives
// memory back, once; without new accepts it does not trim again.
func TestTrimAfterBurst(t *testing.T) {
	b, addr := trimLB(t, "")

	// The idle buffers a burst leaves behind.
	var held []*buffer.Buffer
	for range 3 * trimKeep {
		buf, err := b.pool.Get()
		require.NoError(t, err)
		held = append(held, buf)
	}
	for _, h := range held {
		b.pool.Put(h)
	}
	require.Equal(t, 3*trimKeep, b.pool.Stats().Idle)

	for range 5 {
		require.Equal(t, "s", ask(t, addr))
	}
	require.Eventually(t, func() bool { return b.trims.Load() == 1 }, 10*time.Second, time.Millisecond,
		"a trim after the accepts stopped")
	require.Equal(t, trimKeep, b.pool.Stats().Idle)
	time.Sleep(10 * trimEvery)
	require.Equal(t, uint64(1), b.trims.Load(), "no new accept, no new trim")

	require.Equal(t, "s", ask(t, addr))
	require.Eventually(t, func() bool { return b.trims.Load() == 2 }, 10*time.Second, time.Millisecond,
		"one more trim after the next burst")
}

// Trims are spaced by trimGap periods at least: a burst that ends right
// after a trim is trimmed once the gap has passed, not before.
func TestTrimsSpacedByGap(t *testing.T) {
	old := trimGap
	trimGap = 50
	t.Cleanup(func() { trimGap = old })
	b, addr := trimLB(t, "")

	require.Equal(t, "s", ask(t, addr))
	require.Eventually(t, func() bool { return b.trims.Load() == 1 }, 10*time.Second, time.Millisecond,
		"a trim after the first burst")
	require.Equal(t, "s", ask(t, addr))
	// A ticker fires at most once a period: 10 periods cannot hold the 50
	// the gap asks for.
	time.Sleep(10 * trimEvery)
	require.Equal(t, uint64(1), b.trims.Load(), "a second trim inside the gap")
	require.Eventually(t, func() bool { return b.trims.Load() == 2 }, 20*time.Second, time.Millisecond,
		"the second burst's trim once the gap passed")
}

// A session still setting up (here waiting in a server's queue) keeps the
// burst going: its goroutine's stack would be freed after the trim and
// stay with the process. The trim comes once it has settled.
func TestNoTrimWhileSessionsSetUp(t *testing.T) {
	b, addr := trimLB(t, " maxconn 1")

	first, name := holdConn(t, addr) // takes the server's one slot
	require.Equal(t, "s", name)
	second, err := net.Dial("tcp", addr) // waits in the queue
	require.NoError(t, err)
	defer second.Close()
	require.Eventually(t, func() bool { return b.starting.Load() == 1 }, 10*time.Second, time.Millisecond,
		"the queued session is still setting up")
	time.Sleep(10 * trimEvery)
	require.Equal(t, uint64(0), b.trims.Load(), "trimmed while a session waited in the queue")

	require.NoError(t, first.Close()) // the slot frees, the queued session connects
	_ = second.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(second).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "s", strings.TrimSpace(line))
	require.Eventually(t, func() bool { return b.trims.Load() == 1 }, 10*time.Second, time.Millisecond,
		"a trim once every session settled")
	require.Equal(t, int64(0), b.starting.Load())
}

// HTTP/1 clients going idle are a burst of their own: once they have all
// been handed off, with no accept since, the balancer trims again, so
// that the stacks their goroutines let go are given back.
func TestTrimAfterIdleHandOffs(t *testing.T) {
	old := trimEvery
	trimEvery = 20 * time.Millisecond
	t.Cleanup(func() { trimEvery = old })
	srv := newHTTPBackend(t, "s")
	b, _ := startLB(t, parseCfg(t, httpDefaults+`
    timeout http-keep-alive 10s
    timeout http-request 10s
listen l
    bind 127.0.0.1:0
    server s %s
`, srv.addr()))
	const n = 3
	var clients []*keepAliveClient
	for range n {
		c, err := net.Dial("tcp", feAddr(t, b, "l"))
		require.NoError(t, err)
		clients = append(clients, newKeepAliveClient(t, c))
	}
	// Waiting for their first requests, they are handed off too; the
	// accepts and those hand-offs end with a trim.
	require.Eventually(t, func() bool { return b.httpHandOffs.Load() == n && b.trims.Load() >= 1 }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return b.starting.Load() == 0 }, 10*time.Second, time.Millisecond)
	for _, k := range clients {
		k.get("/")
	}
	trims := b.trims.Load()
	// No accept from here on: only the hand-offs can bring a trim.
	require.Eventually(t, func() bool { return b.httpHandOffs.Load() == 2*n }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return b.trims.Load() > trims }, 10*time.Second, time.Millisecond,
		"a trim after the clients went idle")
	require.Equal(t, n, b.Sessions())
}
