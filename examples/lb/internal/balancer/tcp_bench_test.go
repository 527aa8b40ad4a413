package balancer

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
	"github.com/stretchr/testify/require"
)

// BenchmarkIdleTCPSession reports the live heap and the goroutines an idle
// proxied TCP connection costs once its tunnel has parked: b.N
// connections are opened through a balancer to a server that holds them,
// and the heap is measured after a collection.
//
//	go test -run '^$' -bench IdleTCPSession -benchtime 2000x ./examples/lb/internal/balancer
func BenchmarkIdleTCPSession(b *testing.B) {
	sink := newHeldSink(b)
	lb := benchLB(b, `
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
listen px
    bind 127.0.0.1:0
    server s %s
`, sink.ln.Addr().String())
	addr := lb.Addrs("px")[0].String()
	heap := func() uint64 { h, _ := testnet.MemAfterGC(); return h }
	h0, g0 := heap(), runtime.NumGoroutine()
	b.ResetTimer()
	clients := make([]net.Conn, 0, b.N)
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", addr)
		require.NoError(b, err)
		clients = append(clients, c)
	}
	require.Eventually(b, func() bool { return xprt.Parked() == 2*b.N }, 60*time.Second, 10*time.Millisecond)
	b.StopTimer()
	h1, g1 := heap(), runtime.NumGoroutine()
	// Both ends' client sockets live in this process too: count them
	// apart by measuring a bare pair of sockets per connection.
	b.ReportMetric(float64(int64(h1)-int64(h0))/float64(b.N), "heapB/conn")
	b.ReportMetric(float64(g1-g0)/float64(b.N), "goroutines/conn")
	for _, c := range clients {
		_ = c.Close()
	}
	for _, c := range sink.held() {
		_ = c.Close()
	}
	require.Eventually(b, func() bool { return lb.Sessions() == 0 }, 60*time.Second, 10*time.Millisecond)
}

// BenchmarkTCPSplice moves bytes through a balancer with forced splicing
// in both directions, for profiling the splice path:
//
//	go test -run '^$' -bench TCPSplice -cpuprofile cpu.out ./examples/lb/internal/balancer
func BenchmarkTCPSplice(b *testing.B) {
	benchTCP(b, "option splice-request\n    option splice-response")
}

// BenchmarkTCPCopy is BenchmarkTCPSplice through buffers.
func BenchmarkTCPCopy(b *testing.B) {
	benchTCP(b, "")
}

func benchTCP(b *testing.B, opts string) {
	const chunk = 1 << 20
	sink := testnet.Serve(b, testnet.Discard)
	lb := benchLB(b, `
global
    tune.bufsize 16384
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
listen px
    bind 127.0.0.1:0
    %s
    server s %s
`, opts, sink)
	c, err := net.Dial("tcp", lb.Addrs("px")[0].String())
	require.NoError(b, err)
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	_ = c.(*net.TCPConn).CloseWrite()
	_, _ = io.Copy(io.Discard, c)
	b.StopTimer()
	_ = c.Close()
	require.Eventually(b, func() bool { return lb.Sessions() == 0 }, 30*time.Second, 10*time.Millisecond)
}

func benchLB(b *testing.B, format string, a ...any) *Balancer {
	cfg, err := config.Parse(config.Source{Name: "bench.cfg", Data: fmt.Appendf(nil, format, a...)})
	require.NoError(b, err)
	lb, err := Start(b.Context(), cfg, Options{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = lb.Close() })
	return lb
}

// BenchmarkTCPConnect opens a short connection through a balancer per
// operation, as a client sending one request on a new connection does:
// connect, a byte each way through an echo server, both sides closed.
// The "direct" case runs the same operations straight to the server, so
// that what lb adds per connection reads as the difference:
//
//	go test -run '^$' -bench TCPConnect -benchmem ./examples/lb/internal/balancer
func BenchmarkTCPConnect(b *testing.B) {
	echo := testnet.Serve(b, testnet.Echo)
	lb := benchLB(b, `
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
listen px
    bind 127.0.0.1:0
    server s %s
`, echo)
	for _, bc := range []struct{ name, addr string }{
		{"direct", echo},
		{"lb", lb.Addrs("px")[0].String()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			one := []byte{'x'}
			var got [1]byte
			for b.Loop() {
				c, err := net.Dial("tcp", bc.addr)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Write(one); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, got[:]); err != nil {
					b.Fatal(err)
				}
				_ = c.(*net.TCPConn).CloseWrite()
				if _, err := c.Read(got[:]); err != io.EOF {
					b.Fatalf("after the echo: %v, want EOF", err)
				}
				_ = c.Close()
			}
		})
	}
	require.Eventually(b, func() bool { return lb.Sessions() == 0 }, 30*time.Second, 10*time.Millisecond)
}
