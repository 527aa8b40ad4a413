package balancer

import (
	"context"
	"io"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/stick"
)

// A handover carries the entries of the tables shared through the local
// peer into the new Balancer's tables of the same name and key, as
// HAProxy's old process teaches the new one; the others start empty, and
// nothing is left running.
func TestHandoverTeachesTables(t *testing.T) {
	ports := testnet.FreePorts(t, 2)
	text := `global
    localpeer me
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
peers mypeers
    peer me 127.0.0.1:%d
listen px
    bind 127.0.0.1:%d
    server s 127.0.0.1:1
backend shared
    stick-table type ip size 10 expire 10m store gpc0,conn_cnt peers mypeers
backend private
    stick-table type ip size 10 expire 10m store gpc0
backend retyped
    stick-table type %s size 10 expire 10m store gpc0 peers mypeers
`
	key := netip.MustParseAddr("10.0.0.1").AsSlice()
	fill := func(b *Balancer, name string) {
		e, err := b.Table(name).GetOrCreate(key)
		require.NoError(t, err)
		e.Inc(stick.DataGPC0, 3)
		e.TouchRelease()
	}
	g0, fd0 := runtime.NumGoroutine(), openFDs()
	b1, err := Start(context.Background(), parseCfg(t, text, ports[0], ports[1], "ip"), Options{Stdout: io.Discard, Stderr: io.Discard})
	require.NoError(t, err)
	for _, name := range []string{"shared", "private", "retyped"} {
		fill(b1, name)
	}
	h, err := b1.Handover()
	require.NoError(t, err)
	b2, err := Start(context.Background(), parseCfg(t, text, ports[0], ports[1], "string"), Options{Stdout: io.Discard, Stderr: io.Discard, Inherit: h})
	require.NoError(t, err)
	require.NoError(t, h.Close())
	require.NoError(t, b1.Shutdown(context.Background()))

	e, err := b2.Table("shared").Lookup(key)
	require.NoError(t, err)
	require.NotNil(t, e, "the shared table's entry is carried over")
	require.EqualValues(t, 3, e.Get(stick.DataGPC0))
	require.Greater(t, e.ExpiresIn(), uint32(590000))
	e.Release()
	require.Zero(t, b2.Table("private").Len(), "a table without peers starts empty")
	require.Zero(t, b2.Table("retyped").Len(), "a table whose key type changed starts empty")
	for _, sec := range b2.peers {
		require.True(t, sec.Synced(), "taught by the former Balancer")
	}

	// A second reload carries it on, and a change made in between.
	fill(b2, "shared")
	h, err = b2.Handover()
	require.NoError(t, err)
	b3, err := Start(context.Background(), parseCfg(t, text, ports[0], ports[1], "string"), Options{Stdout: io.Discard, Stderr: io.Discard, Inherit: h})
	require.NoError(t, err)
	require.NoError(t, h.Close())
	require.NoError(t, b2.Shutdown(context.Background()))
	e, err = b3.Table("shared").Lookup(key)
	require.NoError(t, err)
	require.NotNil(t, e)
	require.EqualValues(t, 6, e.Get(stick.DataGPC0))
	e.Release()
	require.NoError(t, b3.Close())

	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > g0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, %d before:\n%s", runtime.NumGoroutine(), g0, buf[:runtime.Stack(buf, true)])
		}
	}
	if fd0 >= 0 {
		require.Eventually(t, func() bool { return openFDs() <= fd0 }, 10*time.Second, 5*time.Millisecond,
			"descriptors: %d, %d before", openFDs(), fd0)
	}
}
