package channel

import (
	"io"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// timeout client-fin and server-fin: once a side has been sent a FIN, its
// silence ends the tunnel after the half-closed timeout, not the far
// longer client, server or tunnel timeout (a minute here, beyond the
// test's wait), whether the direction reading that side was waiting in a
// read or parked.
func TestTunnelFinTimeouts(t *testing.T) {
	const fin, long = 150 * time.Millisecond, time.Minute
	tests := []struct {
		name   string
		cfg    TunnelConfig
		client bool // the client is the silent side (the server ends first)
		state  string
	}{
		{"client-fin", TunnelConfig{ClientTimeout: long, ServerTimeout: long, ClientFinTimeout: fin}, true, "cD"},
		{"server-fin", TunnelConfig{ClientTimeout: long, ServerTimeout: long, ServerFinTimeout: fin}, false, "sD"},
		{"client-fin over tunnel", TunnelConfig{ClientTimeout: long, ServerTimeout: long, TunnelTimeout: long, ClientFinTimeout: fin}, true, "cD"},
		{"server-fin over tunnel", TunnelConfig{ClientTimeout: long, ServerTimeout: long, TunnelTimeout: long, ServerFinTimeout: fin}, false, "sD"},
	}
	for _, tc := range tests {
		for _, p := range paths {
			for _, parked := range []bool{false, true} {
				name := tc.name + "/" + p.name
				if parked {
					name += "/parked"
				}
				t.Run(name, func(t *testing.T) {
					testnet.LeakCheck(t)
					pool, pipes := newPools(t, 0)
					tc.cfg.Pool, tc.cfg.Pipes = pool, pipes
					tc.cfg.SpliceRequest, tc.cfg.SpliceResponse = p.splice, p.splice
					f := newFixture(t)
					_, done := startTunnel(t, f, p.raw, tc.cfg)
					_, err := f.client.Write([]byte("hi"))
					require.NoError(t, err)
					buf := make([]byte, 2)
					_, err = io.ReadFull(f.server, buf) // one read may bring "h" alone
					require.NoError(t, err)
					if parked {
						time.Sleep(3 * parkAfter) // both directions park
					}
					if tc.client {
						require.NoError(t, f.server.CloseWrite())
						require.Empty(t, readAll(t, f.client))
					} else {
						require.NoError(t, f.client.CloseWrite())
						require.Empty(t, readAll(t, f.server))
					}
					r := wait(t, done)
					require.ErrorIs(t, r.err, ErrReadTimeout)
					require.Equal(t, CauseTimeout, r.res.Cause)
					require.Equal(t, tc.state, r.res.TermState())
				})
			}
		}
	}
}

// The half-closed timeout runs from the FIN, as in HAProxy, not from the
// side's last activity: a client silent for longer than it before the
// server ends still has the whole of it to answer.
func TestTunnelFinTimeoutFromTheShutdown(t *testing.T) {
	testnet.LeakCheck(t)
	const fin = time.Second
	f := newFixture(t)
	_, done := startTunnel(t, f, true, TunnelConfig{ClientTimeout: time.Minute, ServerTimeout: time.Minute, ClientFinTimeout: fin})
	time.Sleep(fin + fin/5)
	require.NoError(t, f.server.CloseWrite())
	require.Empty(t, readAll(t, f.client))
	time.Sleep(fin / 10) // the answer comes a moment after the FIN
	_, err := f.client.Write([]byte("bye"))
	require.NoError(t, err)
	require.NoError(t, f.client.CloseWrite())
	require.Equal(t, "bye", string(readAll(t, f.server)))
	r := wait(t, done)
	require.NoError(t, r.err)
	require.Equal(t, "--", r.res.TermState())
}

// A negative half-closed timeout is refused.
func TestTunnelFinTimeoutNegative(t *testing.T) {
	f := newFixture(t)
	_, err := NewTunnel(wrap(f.front, true), wrap(f.back, true), TunnelConfig{ClientFinTimeout: -time.Second})
	require.ErrorContains(t, err, "client-fin -1s")
}
