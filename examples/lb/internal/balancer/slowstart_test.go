package balancer

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

// The effective weight follows HAProxy's server_recalc_eweight: weight×w,
// w = (16×elapsed + slowstart) / slowstart in whole seconds, for the
// algorithms that follow weight changes; the full weight×16 for the others
// and once the period is over.
func TestSlowStartWeight(t *testing.T) {
	s := makeServer(&Backend{}, &config.Server{Weight: 4, MaxConn: 100, SlowStart: 10 * time.Second})
	require.Equal(t, 64, s.eweight, "a server starts at its full weight")
	require.False(t, s.starting)
	s.starting, s.lastUp = true, 1000
	for _, c := range []struct {
		now              int64
		eweight, maxconn int
		staticEweight    int
		stillStarting    bool
	}{
		{1000, 4, 1, 64, true},
		{1001, 8, 10, 64, true},
		{1005, 36, 50, 64, true},
		{1009, 60, 90, 64, true},
		{1010, 64, 100, 64, false},
	} {
		s.starting = true
		s.recalcWeight(c.now, false)
		require.Equal(t, c.staticEweight, s.eweight, "static algorithms at %d", c.now)
		s.starting = true
		require.Equal(t, c.maxconn, s.maxConn(c.now), "maxconn at %d", c.now)
		s.recalcWeight(c.now, true)
		require.Equal(t, c.eweight, s.eweight, "eweight at %d", c.now)
		require.Equal(t, c.stillStarting, s.starting, "starting at %d", c.now)
	}
	s.starting = false
	require.Equal(t, 100, s.maxConn(1001), "maxconn is whole once warm")
}

// A server that comes back after a failure warms up: a small weight at
// first, growing once a second, then whole; its UP line reads as any.
func TestSlowStartWarmsUp(t *testing.T) {
	addr := refusingAddr(t)
	other, _ := net.Listen("tcp", "127.0.0.1:0")
	serveOn(t, other, "o", false)
	b, logs := startLB(t, parseCfg(t, globalLog+"backend bk\n    server o %s\n    server s %s weight 2 check inter 50ms rise 1 fall 1 slowstart 3s\n", other.Addr().String(), addr))
	be, s := b.Backend("bk"), b.Backend("bk").Server("s")
	eweight := func() (int, bool) {
		be.mu.Lock()
		defer be.mu.Unlock()
		return s.eweight, s.starting
	}
	w, starting := eweight()
	require.Equal(t, 32, w)
	require.False(t, starting, "no slowstart at start")
	logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server bk/s is DOWN") })
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	serveOn(t, ln, "s", false)
	require.Regexp(t, `^Server bk/s is UP, reason: Layer4 check passed, check duration: \d+ms\. 2 active and 0 backup servers online\.`,
		logs.waitLine(t, func(l string) bool { return strings.HasPrefix(l, "Server bk/s is UP") }))
	w, starting = eweight()
	require.True(t, starting)
	require.Less(t, w, 32, "a small share at first")
	require.Eventually(t, func() bool { w2, _ := eweight(); return w2 > w && w2 < 32 }, 3*time.Second, 20*time.Millisecond, "the weight grows")
	require.Eventually(t, func() bool { w2, st := eweight(); return w2 == 32 && !st }, 6*time.Second, 50*time.Millisecond, "then it is whole")
}
