package balancer

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/stretchr/testify/require"
)

// fallbackBackend is a backend hashing a header over servers of the given
// weights, with the request-less pick (the fallback) under test.
func fallbackBackend(consistent bool, weights ...int) (*Backend, *hashAlgo) {
	be := &Backend{cfg: &config.Proxy{}, logs: &logSet{}, dirty: true}
	for i, w := range weights {
		be.servers = append(be.servers, makeServer(be, &config.Server{Name: fmt.Sprintf("s%d", i+1), ID: i + 1, Weight: w}))
	}
	a := &hashAlgo{part: func(*htx.Message) ([]byte, bool) { return nil, false }, consistent: consistent}
	be.algo = a
	return be, a
}

// fallback is one pick for a request without the part hashed.
func fallback(t *testing.T, be *Backend, avoid *Server) *Server {
	t.Helper()
	s, queueOn := be.algo.pick(be.candidates(), netip.Addr{}, avoid)
	require.False(t, queueOn, "round robin never waits on a server's queue")
	return s
}

// after returns the index of the first ring point after i whose server
// is not skip.
func after(a *hashAlgo, i int, skip *Server) int {
	for j := i + 1; ; j++ {
		if a.ring[j%len(a.ring)].s != skip {
			return j % len(a.ring)
		}
	}
}

// The consistent hashes fall back to the ring's order, as HAProxy's
// chash_get_next_server: point after point from the first; full servers
// and the avoided one passed over; and when the server of the point taken
// last goes down, the last point moves to the next point of another server
// (HAProxy's chash_skip_node), so that point is not taken next.
func TestRingFallback(t *testing.T) {
	be, a := fallbackBackend(true, 1, 2, 1)
	a.buildRing(be.servers)
	for i := 0; i < 6; i++ {
		require.Same(t, a.ring[i].s, fallback(t, be, nil), "point %d", i)
	}

	down := a.ring[5].s
	be.setState(down, false, "test", 0)
	skipped := after(a, 5, down)
	want := after(a, skipped, down)
	require.Same(t, a.ring[want].s, fallback(t, be, nil), "the point after the one the last moved to")
	be.setState(down, true, "test", 0)

	// The next point's server is full: passed over for the one after.
	next := a.ring[want+1].s
	next.maxconn, next.cur = 1, 1
	got := fallback(t, be, nil)
	require.NotSame(t, next, got)
	require.Same(t, a.ring[after(a, want, next)].s, got)
	next.maxconn, next.cur = 0, 0

	// Avoided while another has room; taken when it alone has room.
	at := a.last - 1
	avoid := a.ring[at+1].s
	require.Same(t, a.ring[after(a, at, avoid)].s, fallback(t, be, avoid))
	for _, s := range be.servers {
		if s != avoid {
			s.maxconn, s.cur = 1, 1
		}
	}
	require.Same(t, avoid, fallback(t, be, avoid))
	avoid.maxconn, avoid.cur = 1, 1
	require.Nil(t, fallback(t, be, nil), "every server full: the backend's queue")
}

// The map-based hashes and static-rr walk the weighted map, as HAProxy's
// map_get_server_rr: from the slot after the last one taken, back to the
// first slot when the map shrank below the position.
func TestMapFallback(t *testing.T) {
	be, a := fallbackBackend(false, 1, 2, 1)
	var got []string
	for i := 0; i < 8; i++ {
		got = append(got, fallback(t, be, nil).Name())
	}
	a.m.refresh(be.candidates())
	var want []string
	for i := 0; i < 8; i++ {
		want = append(want, a.m.slots[i%len(a.m.slots)].Name())
	}
	require.Equal(t, want, got)
	require.Len(t, a.m.slots, 4)

	// Three slots taken of four; s2 (two slots) goes down and the map
	// of two is shorter than the position: the walk starts over.
	fallback(t, be, nil)
	fallback(t, be, nil)
	fallback(t, be, nil)
	require.Equal(t, 3, a.m.rrIdx)
	be.setState(be.servers[1], false, "test", 0)
	a.m.refresh(be.candidates())
	require.Same(t, a.m.slots[0], fallback(t, be, nil))

	// static-rr walks the same way.
	srr := &staticRR{}
	be.algo = srr
	be.setState(be.servers[1], true, "test", 0)
	first := fallback(t, be, nil)
	require.Same(t, srr.m.slots[0], first)
	require.Same(t, srr.m.slots[1], fallback(t, be, first), "avoid is passed over")
}

// leastconn's key is HAProxy's integer one, so servers whose exact
// ratios differ can tie, and a tie goes to the server placed longest ago.
func TestLeastconnIntegerKey(t *testing.T) {
	be := &Backend{cfg: &config.Proxy{}, logs: &logSet{}, dirty: true}
	for i, w := range []int{7, 45} {
		be.servers = append(be.servers, makeServer(be, &config.Server{Name: fmt.Sprintf("s%d", i+1), ID: i + 1, Weight: w}))
	}
	a := &leastConn{}
	be.algo = a
	be.follow()
	s1, s2 := be.servers[0], be.servers[1]
	require.Same(t, s1, fallback(t, be, nil), "both idle: the first placed")
	// s1 with 1 in flight: 2×4096/112 = 73.1; s2 with 12: 13×4096/720 =
	// 73.9. Both keys are 73: s2, placed first, goes first, though its
	// exact ratio is the higher.
	s1.cur, s2.cur = 1, 12
	be.moved(s2)
	be.moved(s1)
	require.Equal(t, uint32(73), s1.lc.key)
	require.Equal(t, uint32(73), s2.lc.key)
	require.Same(t, s2, fallback(t, be, nil), "placed longer ago")
	be.moved(s2)
	require.Same(t, s1, fallback(t, be, nil), "s2 placed again, behind s1")
}

// randomBackend is a backend under balance random(draws) over servers of
// the given weights, its draws taken from rnd.
func randomBackend(draws int, rnd func() uint32, weights ...int) (*Backend, *randomAlgo) {
	be := &Backend{cfg: &config.Proxy{}, logs: &logSet{}, dirty: true}
	for i, w := range weights {
		be.servers = append(be.servers, makeServer(be, &config.Server{Name: fmt.Sprintf("s%d", i+1), ID: i + 1, Weight: w}))
	}
	a := &randomAlgo{draws: draws, ring: hashAlgo{consistent: true}, rnd: rnd}
	be.algo = a
	return be, a
}

// landing returns a ring position that the consistent lookup sends to s.
func landing(t *testing.T, a *randomAlgo, cands []*Server, s *Server) uint32 {
	t.Helper()
	for h := uint32(0); h < 1<<20; h++ {
		if a.ring.ringPick(cands, h*4099, nil) == s {
			return h * 4099
		}
	}
	t.Fatalf("no position lands on %s", s.Name())
	return 0
}

// balance random(N) as HAProxy's: each draw a random position on the
// consistent ring; of the servers drawn, the one serving the fewest
// connections for its weight; the backend's queue when that one is full.
func TestRandomDraws(t *testing.T) {
	var seq []uint32
	rnd := func() uint32 { h := seq[0]; seq = seq[1:]; return h }
	be, a := randomBackend(2, rnd, 1, 3)
	cands := be.candidates()
	s1, s2 := be.servers[0], be.servers[1]
	a.ring.buildRing(be.servers)
	on1, on2 := landing(t, a, cands, s1), landing(t, a, cands, s2)

	// s1 serves 1 for a weight of 1, s2 serves 2 for 3: s2 is the less
	// loaded, whichever is drawn first.
	s1.cur, s2.cur = 1, 2
	seq = []uint32{on1, on2}
	require.Same(t, s2, fallback(t, be, nil))
	seq = []uint32{on2, on1}
	require.Same(t, s2, fallback(t, be, nil))
	// 4 on s2 (4/3 > 1/1): s1.
	s2.cur = 4
	seq = []uint32{on2, on1}
	require.Same(t, s1, fallback(t, be, nil))
	// One draw takes what it lands on.
	a.draws = 1
	seq = []uint32{on2}
	require.Same(t, s2, fallback(t, be, nil))
	// The chosen server full: none, so the backend's queue.
	a.draws = 2
	s1.maxconn = 1
	seq = []uint32{on1, on2}
	require.Nil(t, fallback(t, be, nil))
	require.Empty(t, seq, "both draws made")
}

// The power of two choices: over many connections that stay, two draws
// keep the servers' loads far closer than one.
func TestRandomTwoChoicesSpread(t *testing.T) {
	spread := func(draws int) int {
		src := rand.New(rand.NewPCG(1, 2))
		be, _ := randomBackend(draws, src.Uint32, 1, 1, 1, 1)
		for range 4000 {
			s := fallback(t, be, nil)
			require.NotNil(t, s)
			s.cur++
		}
		lo, hi := be.servers[0].cur, be.servers[0].cur
		for _, s := range be.servers {
			lo, hi = min(lo, s.cur), max(hi, s.cur)
		}
		return hi - lo
	}
	one, two := spread(1), spread(2)
	t.Logf("spread: one draw %d, two draws %d", one, two)
	require.Less(t, two, 10, "two draws: the loads stay within a few connections")
	require.Greater(t, one, 4*two, "one draw drifts apart")
}

// first as HAProxy's: the lowest id with room, the avoided server only
// when no other has room; and with only the first backup in use, every
// dynamic algorithm hands it out full or not, so the connection waits in
// its queue.
func TestFirstAndFirstBackup(t *testing.T) {
	be := &Backend{cfg: &config.Proxy{}, logs: &logSet{}, dirty: true}
	for i, id := range []int{3, 1, 2} {
		be.servers = append(be.servers, makeServer(be, &config.Server{Name: fmt.Sprintf("s%d", i+1), ID: id, Weight: 1, MaxConn: 1}))
	}
	be.algo = first{}
	s1, s2, s3 := be.servers[0], be.servers[1], be.servers[2]
	require.Same(t, s2, fallback(t, be, nil), "id 1")
	require.Same(t, s3, fallback(t, be, s2), "id 2, avoiding id 1")
	s3.cur = 1
	s1.cur = 1
	require.Same(t, s2, fallback(t, be, s2), "only the avoided one has room")
	s2.cur = 1
	require.Nil(t, fallback(t, be, nil), "all full: the backend's queue")

	bk := makeServer(be, &config.Server{Name: "b", ID: 4, Weight: 1, MaxConn: 1, Backup: true})
	be.servers = append(be.servers, bk)
	for _, s := range be.servers[:3] {
		s.up = false
	}
	be.dirty = true
	bk.cur = 1
	for _, algo := range []algorithm{first{}, &leastConn{}, &roundRobin{}, &hashAlgo{part: func(*htx.Message) ([]byte, bool) { return nil, false }, consistent: true}} {
		be.algo = algo
		be.follow()
		s, queueOn := be.algo.pick(be.candidates(), netip.Addr{}, nil)
		require.Same(t, bk, s, "%T", algo)
		require.True(t, queueOn, "%T: full, so its queue", algo)
	}
}
