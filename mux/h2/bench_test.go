package h2

import (
	"bytes"
	"context"
	stdtls "crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"

	"golang.org/x/net/http2"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// BenchmarkFrontGoClient measures requests per second through the front
// mux, many streams at once on one connection from Go's HTTP/2 client,
// beside Go's own http2.Server on the same client and load.
func BenchmarkFrontGoClient(b *testing.B) {
	b.Run("proxyblocks", func(b *testing.B) {
		srv := startServer(b, Config{}, nil, hello)
		benchClient(b, srv.addr())
	})
	b.Run("x-net-http2-server", func(b *testing.B) {
		ln := testnet.Listen(b)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "6")
			_, _ = w.Write([]byte("hello\n"))
		})
		s2 := &http2.Server{}
		// Registered before the client's cleanup, so it runs after the
		// client has closed its connections and every ServeConn can end.
		b.Cleanup(testnet.Accept(ln, func(c net.Conn) {
			s2.ServeConn(c, &http2.ServeConnOpts{Handler: h})
		}))
		benchClient(b, ln.Addr().String())
	})
}

func benchClient(b *testing.B, addr string) {
	client := h2cClient(b)
	url := "http://" + addr + "/bench"
	// Warm the connection so every request shares it.
	if resp, err := client.Get(url); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportAllocs()
	b.SetParallelism(16) // 16 × GOMAXPROCS streams in flight
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkMuxToMux measures the mux alone on both ends: a back-side
// mux sending requests to a front-side mux over loopback, so the
// allocations counted are the mux's own (both sides).
func BenchmarkMuxToMux(b *testing.B) {
	srv := startServer(b, Config{ReuseStreams: true}, nil, hello)
	c, err := net.Dial("tcp", srv.addr())
	if err != nil {
		b.Fatal(err)
	}
	benchMuxToMux(b, xprt.NewRaw(c))
}

// BenchmarkMuxToMuxTLS is BenchmarkMuxToMux over TLS (ALPN h2), the
// allocations of crypto/tls included.
func BenchmarkMuxToMuxTLS(b *testing.B) {
	cert := testcert.SelfSigned(b, "127.0.0.1").Certificate
	srv := startServer(b, Config{ReuseStreams: true}, &stdtls.Config{Certificates: []stdtls.Certificate{cert}, NextProtos: []string{"h2"}}, hello)
	c, err := net.Dial("tcp", srv.addr())
	if err != nil {
		b.Fatal(err)
	}
	t, err := xprt.New("tls", c, &stdtls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}, true)
	if err != nil {
		b.Fatal(err)
	}
	if err := t.Handshake(context.Background()); err != nil {
		b.Fatal(err)
	}
	benchMuxToMux(b, t)
}

func benchMuxToMux(b *testing.B, t xprt.Transport) {
	m, err := New(t, mux.SideBack, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var req, resp htx.Message
		req.SetRequest("GET", "http", "bench", "/bench")
		req.Flags |= htx.FlagBodyless
		var buf bytes.Buffer
		for pb.Next() {
			st, err := m.Open(context.Background())
			for errors.Is(err, ErrNoStreams) { // every stream busy: wait for one
				runtime.Gosched()
				st, err = m.Open(context.Background())
			}
			if err != nil {
				b.Error(err)
				return
			}
			s := st.(*Stream)
			if err := s.WriteRequest(&req); err != nil {
				b.Error(err)
				return
			}
			if err := s.ReadResponse(&resp); err != nil {
				b.Error(err)
				return
			}
			buf.Reset()
			_, _ = buf.ReadFrom(s)
			s.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
