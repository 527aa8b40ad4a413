package balancer

import (
	"testing"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

// HAProxy's bounded loads: with 3 connections served and a factor of 150,
// (3+1)×1.5 rounded up makes 6 slots, shared by effective weight 16/32/16
// with the remainder going by cumulative weight: 1, 3 and 2. A server is
// eligible while it serves fewer than its slots.
func TestBoundedLoads(t *testing.T) {
	be := &Backend{}
	var cands []*Server
	for _, w := range []int{1, 2, 1} {
		cands = append(cands, makeServer(be, &config.Server{Weight: w}))
	}
	be.conns = 3
	cands[0].cur, cands[1].cur, cands[2].cur = 1, 2, 2
	eligible := (&hashAlgo{consistent: true, balanceFactor: 150}).boundedLoads(cands)
	require.Equal(t, []bool{false, true, false}, []bool{eligible(cands[0]), eligible(cands[1]), eligible(cands[2])})
	cands[0].cur = 0
	require.True(t, eligible(cands[0]), "under its one slot")
	unbounded := (&hashAlgo{consistent: true}).boundedLoads(cands)
	require.True(t, unbounded(cands[2]), "no factor, no bound")
}
