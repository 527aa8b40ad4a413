package balancer

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// rrServers makes servers with the given weights, outside any balancer,
// for the algorithm alone.
func rrServers(weights ...int) []*Server {
	be := &Backend{}
	var out []*Server
	for i, w := range weights {
		out = append(out, makeServer(be, &config.Server{Name: string(rune('a' + i)), Weight: w}))
	}
	be.servers = out
	return out
}

// Round robin gives every server exactly its share of each full cycle,
// keeps doing so while servers come and go, and never picks one that is
// not a candidate.
func TestRoundRobinShares(t *testing.T) {
	all := rrServers(1, 3, 1, 2, 5)
	var rr roundRobin
	count := func(cands []*Server, n int) map[*Server]int {
		got := map[*Server]int{}
		for range n {
			s, _ := rr.pick(cands, netip.Addr{}, nil)
			require.NotNil(t, s)
			require.Contains(t, cands, s)
			got[s]++
		}
		return got
	}
	// Full cycles of the total weight (12), from the start.
	got := count(all, 12*5)
	for _, s := range all {
		require.Equal(t, 5*s.weight, got[s], "server %s", s.cfg.Name)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var cands []*Server
		for _, s := range all {
			if rng.IntN(3) > 0 {
				cands = append(cands, s)
			}
		}
		if len(cands) == 0 {
			continue
		}
		count(cands, 1+rng.IntN(20))
	}
	// Once the set is stable again, the shares come back within a cycle
	// of settling.
	count(all, 12*3)
	got = count(all, 12*20)
	for _, s := range all {
		require.InDelta(t, 20*s.weight, got[s], 2, "server %s", s.cfg.Name)
	}
}

// TestURIKey checks what balance uri hashes under len, depth and whole.
func TestURIKey(t *testing.T) {
	for _, tc := range []struct {
		uri         string
		whole       bool
		maxLen, dep int
		want        string
	}{
		{"/a/b/c?q=1", false, 0, 0, "/a/b/c"},
		{"/a/b/c?q=1", true, 0, 0, "/a/b/c?q=1"},
		{"/a/b/c?q=1", false, 0, 2, "/a/b"},
		{"/a/b/c?q=1", false, 0, 1, "/a"},
		{"/a/b/c?q=1", true, 4, 0, "/a/b"},
		{"/a/b/c?q=1", false, 3, 2, "/a/"},
		{"/a?x/y", true, 0, 1, "/a?x"},
		{"?k=v", false, 0, 0, ""},
	} {
		if got := string(uriKey([]byte(tc.uri), tc.whole, tc.maxLen, tc.dep)); got != tc.want {
			t.Errorf("uriKey(%q, whole=%v, len=%d, depth=%d) = %q, want %q", tc.uri, tc.whole, tc.maxLen, tc.dep, got, tc.want)
		}
	}
}

// TestEnqueueOrder checks the queues' order: the lower class first, then
// the earlier time, equal ones in arrival order.
func TestEnqueueOrder(t *testing.T) {
	var q []*pending
	add := func(name string, class int, at int64) {
		q = enqueue(q, &pending{src: netip.MustParseAddr("10.0.0." + name), class: class, at: at})
	}
	add("1", 0, 100)
	add("2", -1, 200)
	add("3", 0, 50)
	add("4", 0, 100)
	add("5", 1, 0)
	add("6", -1, 200)
	var got []string
	for _, p := range q {
		got = append(got, p.src.String()[len("10.0.0."):])
	}
	if want := "2 6 3 1 4 5"; strings.Join(got, " ") != want {
		t.Errorf("queue order %v, want %s", got, want)
	}
}
