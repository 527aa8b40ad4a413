package balancer

import (
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/freq"
	"github.com/stretchr/testify/require"
)

// rate-limit sessions caps the frontend's accepts per second over all its
// bind lines: with a rate of 2, a connection on each bind uses it up, so
// the second bind's listener waits before it accepts again, though it
// accepted only one; a connection over the rate waits (in the backlog, or
// accepted by a listener that was already in accept) and is served once
// the rate allows, never refused.
func TestRateLimitSessions(t *testing.T) {
	srv := newServer(t, "s", false)
	b, _ := startLB(t, parseCfg(t, globalLog+`
listen px
    bind 127.0.0.1:0
    bind 127.0.0.1:0
    rate-limit sessions 2
    server s %s
`, srv.ln.Addr().String()))
	addrs := b.Addrs("px")
	require.Len(t, addrs, 2)
	lns := b.fronts[0].listeners
	// Both connections fall in one period of the rate's clock.
	for freq.SystemClock.NowMs()%1000 > 500 {
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, "s", ask(t, addrs[0].String()))
	require.Equal(t, "s", ask(t, addrs[1].String()))
	require.Eventually(t, func() bool { return lns[1].Stats().RateWaits > 0 },
		10*time.Second, 5*time.Millisecond, "the rate is the frontend's, over both binds")
	require.Equal(t, "s", ask(t, addrs[0].String()), "a connection over the rate waits, then is served")
	require.Positive(t, lns[0].Stats().RateWaits, "it waited")
}
