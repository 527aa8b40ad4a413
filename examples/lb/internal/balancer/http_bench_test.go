package balancer

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// rawHTTPServer answers every request head it reads with a fixed
// response, allocating nothing, so allocations counted by the benchmark
// are the balancer's.
func rawHTTPServer(t testing.TB) string {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 14\r\nContent-Type: text/plain\r\n\r\nhello from s1\n")
	return testnet.Serve(t, func(c net.Conn) {
		buf := make([]byte, 16384)
		n := 0
		for {
			m, err := c.Read(buf[n:])
			if err != nil {
				return
			}
			n += m
			for {
				i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
				if i < 0 {
					break
				}
				if _, err := c.Write(resp); err != nil {
					return
				}
				n = copy(buf, buf[i+4:n])
			}
		}
	})
}

// BenchmarkHTTPKeepAlive sends keep-alive HTTP/1.1 requests through lb,
// one at a time, and reports allocations per request for the whole
// process (client, lb and server; client and server allocate nothing).
func BenchmarkHTTPKeepAlive(b *testing.B) {
	benchKeepAlive(b, `
listen l
    bind 127.0.0.1:0
    server s %s
`)
}

// BenchmarkHTTPCacheHit is BenchmarkHTTPKeepAlive with every request
// answered from a cache section, after the first.
func BenchmarkHTTPCacheHit(b *testing.B) {
	benchKeepAlive(b, `
cache c
    total-max-size 4
listen l
    bind 127.0.0.1:0
    http-request cache-use c
    http-response set-header cache-control max-age=60
    http-response cache-store c
    server s %s
`)
}

func benchKeepAlive(b *testing.B, proxies string) {
	srv := rawHTTPServer(b)
	cfg, err := config.Parse(config.Source{Name: "bench.cfg", Data: fmt.Appendf(nil, httpDefaults+proxies, srv)})
	require.NoError(b, err)
	lb, err := Start(b.Context(), cfg, Options{})
	require.NoError(b, err)
	defer lb.Close()
	c, err := net.Dial("tcp", lb.Addrs("l")[0].String())
	require.NoError(b, err)
	defer c.Close()
	req := []byte("GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: bench\r\n\r\n")
	buf := make([]byte, 4096)
	exchange := func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n := 0
		for !bytes.HasSuffix(buf[:n], []byte("hello from s1\n")) {
			m, err := c.Read(buf[n:])
			if err != nil && err != io.EOF {
				b.Fatal(err)
			}
			n += m
		}
	}
	for i := 0; i < 100; i++ {
		exchange()
	}
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		exchange()
	}
}

// BenchmarkHTTP2Load runs h2load against lb (HTTP/2 with prior knowledge
// in front, HTTP/1.1 to a raw server) for b.N requests, so the balancer's
// side can be profiled with -cpuprofile and -memprofile.
func BenchmarkHTTP2Load(b *testing.B) {
	benchH2Load(b, `
listen l
    bind 127.0.0.1:0 proto h2
    http-reuse always
    server s %s
`)
}

// BenchmarkHTTP2CacheHit is BenchmarkHTTP2Load answered from a cache
// section.
func BenchmarkHTTP2CacheHit(b *testing.B) {
	benchH2Load(b, `
cache c
    total-max-size 4
listen l
    bind 127.0.0.1:0 proto h2
    http-request cache-use c
    http-response set-header cache-control max-age=60
    http-response cache-store c
    server s %s
`)
}

func benchH2Load(b *testing.B, proxies string) {
	bin, err := exec.LookPath("h2load")
	if err != nil {
		b.Skip("h2load not installed")
	}
	srv := rawHTTPServer(b)
	cfg, err := config.Parse(config.Source{Name: "bench.cfg", Data: fmt.Appendf(nil, httpDefaults+proxies, srv)})
	require.NoError(b, err)
	lb, err := Start(b.Context(), cfg, Options{})
	require.NoError(b, err)
	defer lb.Close()
	b.ReportAllocs()
	b.ResetTimer()
	out, err := exec.Command(bin, "-n", strconv.Itoa(max(b.N, 100)), "-c", "10", "-m", "10", "-t", "1", "http://"+lb.Addrs("l")[0].String()+"/").CombinedOutput()
	require.NoError(b, err, "%s", out)
	require.Contains(b, string(out), "0 failed")
}

// BenchmarkIdleHTTPSession reports what an idle keep-alive HTTP/1.1
// client connection costs once it has had one answer: the live heap, the
// goroutine stacks and the goroutines, after a collection, per
// connection. The server side is closed after each answer (option
// http-server-close), so the figures are the client side's alone.
//
//	go test -run '^$' -bench IdleHTTPSession -benchtime 2000x ./examples/lb/internal/balancer
func BenchmarkIdleHTTPSession(b *testing.B) {
	srv := rawHTTPServer(b)
	lb := benchLB(b, `
defaults
    mode http
    option http-server-close
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
listen px
    bind 127.0.0.1:0
    server s1 %s
`, srv)
	addr := lb.Addrs("px")[0].String()
	mem := testnet.MemAfterGC
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	h0, s0 := mem()
	g0 := runtime.NumGoroutine()
	b.ResetTimer()
	clients := make([]net.Conn, 0, b.N)
	buf := make([]byte, 4096)
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", addr)
		require.NoError(b, err)
		_, err = c.Write(req)
		require.NoError(b, err)
		n := 0
		for !bytes.HasSuffix(buf[:n], []byte("hello from s1\n")) {
			m, err := c.Read(buf[n:])
			require.NoError(b, err)
			n += m
		}
		clients = append(clients, c)
	}
	b.StopTimer()
	time.Sleep(200 * time.Millisecond) // let the server sides close
	h1, s1 := mem()
	g1 := runtime.NumGoroutine()
	b.ReportMetric(float64(int64(h1)-int64(h0))/float64(b.N), "heapB/conn")
	b.ReportMetric(float64(int64(s1)-int64(s0))/float64(b.N), "stackB/conn")
	b.ReportMetric(float64(g1-g0)/float64(b.N), "goroutines/conn")
	for _, c := range clients {
		_ = c.Close()
	}
	require.Eventually(b, func() bool { return lb.Sessions() == 0 }, 60*time.Second, 10*time.Millisecond)
}
