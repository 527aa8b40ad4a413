package balancer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/buffer"
)

// Once a period passes without an accept after one with some, the
// balancer trims its buffer pool to trimKeep idle buffers and gives
// memory back, once; without new accepts it does not trim again.
func TestTrimAfterBurst(t *testing.T) {
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
listen px
    bind 127.0.0.1:0
    server s %s
`, srv.addr()))
	addr := feAddr(t, b, "px")

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
