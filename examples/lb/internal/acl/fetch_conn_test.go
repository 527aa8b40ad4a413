package acl

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/conn"
)

// connCtx is a Context whose front and back connections are c.
type connCtx struct {
	plain
	c *conn.Conn
}

func (x connCtx) FrontConn() *conn.Conn       { return x.c }
func (x connCtx) FrontHTTP() int              { return 2 }
func (x connCtx) BackConn() (*conn.Conn, int) { return x.c, 1 }

// dialedConn returns a connection dialed to a local listener.
func dialedConn(t testing.TB) *conn.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		if s, err := ln.Accept(); err == nil {
			t.Cleanup(func() { _ = s.Close() })
		}
	}()
	c, err := (&conn.Dialer{}).Dial(context.Background(), "tcp", ln.Addr().String(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// connFetchExprs are the per-connection fetches that must not allocate.
var connFetchExprs = []string{"fc_src", "fc_src_port", "fc_dst", "fc_dst_port", "fc_rcvd_proxy", "fc_http_major", "bc_src", "bc_dst_port", "bc_http_major"}

// TestConnFetchesReadTheSocket: the fc_* fetches read the connection's
// socket (a dialed one here: its local address is the back side's
// source), without allocating.
func TestConnFetchesReadTheSocket(t *testing.T) {
	c := dialedConn(t)
	local, remote := c.SocketLocal().(*net.TCPAddr).AddrPort(), c.SocketRemote().(*net.TCPAddr).AddrPort()
	ctx := &connCtx{plain: plain{netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("192.0.2.2:2")}, c: c}
	for expr, want := range map[string]Sample{
		"fc_src": IP(remote.Addr()), "fc_src_port": Int(int64(remote.Port())),
		"fc_dst": IP(local.Addr()), "fc_dst_port": Int(int64(local.Port())),
		"bc_src": IP(local.Addr()), "bc_dst_port": Int(int64(remote.Port())),
		"fc_rcvd_proxy": Bool(false), "fc_http_major": Int(2), "bc_http_major": Int(1),
		"fc_src_is_local": Bool(true), "src_is_local": Bool(false),
	} {
		got, ok := fetchOn(t, expr, ctx)
		require.True(t, ok, expr)
		assert.Equal(t, want, got, expr)
	}
	for _, expr := range connFetchExprs {
		_, fn, err := CompileFetch(expr)
		require.NoError(t, err)
		assert.Zero(t, testing.AllocsPerRun(100, func() { fn(ctx) }), expr)
	}
	// A context without the connections has no sample.
	for _, expr := range connFetchExprs {
		_, ok := fetchOn(t, expr, ctx.plain)
		assert.False(t, ok, expr)
	}
}

// BenchmarkConnFetches measures the per-connection fetches.
func BenchmarkConnFetches(b *testing.B) {
	// src_is_local makes its socket system calls on a local address.
	ctx := &connCtx{plain: plain{src: netip.MustParseAddrPort("127.0.0.1:1")}, c: dialedConn(b)}
	for _, expr := range append(connFetchExprs, "src_is_local") {
		_, fn, err := CompileFetch(expr)
		require.NoError(b, err)
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fn(ctx)
			}
		})
	}
}
