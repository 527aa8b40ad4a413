package balancer

import (
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

func TestPoolOptions(t *testing.T) {
	now := time.Unix(1000, 0)
	s := &Server{cfg: &config.Server{PoolMaxConn: -1, MaxReuse: -1, PoolPurgeDelay: 5 * time.Second}}
	require.Equal(t, idleMaxPerSrv, s.idleCap(), "no pool-max-conn: lb's cap")
	require.False(t, s.idleAged(now.Add(-4*time.Second), now))
	require.True(t, s.idleAged(now.Add(-5*time.Second), now), "pool-purge-delay 5s")
	bc := &backConn{srv: s}
	bc.uses.Store(1000)
	require.True(t, bc.reusable(), "max-reuse -1: no limit")

	s.cfg = &config.Server{PoolMaxConn: 0, MaxReuse: 2, PoolPurgeDelay: 0}
	require.Equal(t, 0, s.idleCap(), "pool-max-conn 0 keeps none")
	require.False(t, s.idleAged(now.Add(-time.Hour), now), "pool-purge-delay 0: never purged")
	for uses, want := range map[int32]bool{1: true, 2: true, 3: false} {
		bc.uses.Store(uses)
		require.Equal(t, want, bc.reusable(), "after %d uses, max-reuse 2", uses)
	}
}
