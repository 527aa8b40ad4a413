package h2

import (
	"context"
	stdtls "crypto/tls"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
	_ "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// leakCheck fails the test if goroutines or file descriptors it started
// outlive it.
func leakCheck(t testing.TB) {
	t.Helper()
	g0, f0 := runtime.NumGoroutine(), countFDs(t)
	t.Cleanup(func() {
		var g, f int
		for i := 0; i < 200; i++ {
			g, f = runtime.NumGoroutine(), countFDs(t)
			if g <= g0 && f <= f0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		buf := make([]byte, 1<<16)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("leak: goroutines %d -> %d, fds %d -> %d\n%s", g0, g, f0, f, buf)
	})
}

func countFDs(t testing.TB) int {
	es, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(es)
}

// server serves HTTP/2 with the front-side mux on a loopback listener,
// running handle for each stream.
type server struct {
	ln     net.Listener
	cfg    Config
	tlsCfg *stdtls.Config
	handle func(s *Stream)
	wg     sync.WaitGroup
	mu     sync.Mutex
	muxes  []*Mux
}

func startServer(t testing.TB, cfg Config, tlsCfg *stdtls.Config, handle func(s *Stream)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &server{ln: ln, cfg: cfg, tlsCfg: tlsCfg, handle: handle}
	srv.wg.Add(1)
	go srv.acceptLoop()
	t.Cleanup(srv.stop)
	return srv
}

func (srv *server) addr() string { return srv.ln.Addr().String() }

func (srv *server) acceptLoop() {
	defer srv.wg.Done()
	for {
		c, err := srv.ln.Accept()
		if err != nil {
			return
		}
		srv.wg.Add(1)
		go func() {
			defer srv.wg.Done()
			srv.serveConn(c)
		}()
	}
}

func (srv *server) serveConn(c net.Conn) {
	var tr xprt.Transport
	if srv.tlsCfg != nil {
		var err error
		tr, err = xprt.New("tls", c, srv.tlsCfg, false)
		if err != nil {
			c.Close()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = tr.Handshake(ctx)
		cancel()
		if err != nil {
			tr.Close()
			return
		}
	} else {
		tr = xprt.NewRaw(c)
	}
	m, err := New(tr, mux.SideFront, srv.cfg)
	if err != nil {
		return
	}
	srv.mu.Lock()
	srv.muxes = append(srv.muxes, m)
	srv.mu.Unlock()
	var wg sync.WaitGroup
	defer func() {
		m.Close()
		wg.Wait()
	}()
	for {
		st, err := m.Accept(context.Background())
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.Close()
			srv.handle(st.(*Stream))
		}()
	}
}

func (srv *server) stop() {
	srv.ln.Close()
	srv.mu.Lock()
	for _, m := range srv.muxes {
		m.Close()
	}
	srv.mu.Unlock()
	srv.wg.Wait()
}

// hello reads the request body and answers 200 with a short body.
func hello(s *Stream) {
	_, _ = io.Copy(io.Discard, s)
	var resp htx.Message
	resp.SetResponse(200, "")
	resp.Add("content-type", "text/plain")
	resp.Flags |= htx.FlagContentLength
	resp.ContentLength = 6
	if s.WriteResponse(&resp) != nil {
		return
	}
	if _, err := s.Write([]byte("hello\n")); err != nil {
		return
	}
	_ = s.Finish(nil)
}
