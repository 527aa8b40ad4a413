package h2

import (
	"context"
	stdtls "crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
	_ "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// server serves HTTP/2 with the front-side mux on a loopback listener,
// running handle for each stream.
type server struct {
	ln     net.Listener
	cfg    Config
	tlsCfg *stdtls.Config
	handle func(s *Stream)
	halt   func()
	mu     sync.Mutex
	muxes  []*Mux
}

func startServer(t testing.TB, cfg Config, tlsCfg *stdtls.Config, handle func(s *Stream)) *server {
	t.Helper()
	ln := testnet.Listen(t)
	srv := &server{ln: ln, cfg: cfg, tlsCfg: tlsCfg, handle: handle}
	srv.halt = testnet.Accept(ln, srv.serveConn)
	t.Cleanup(srv.stop)
	return srv
}

func (srv *server) addr() string { return srv.ln.Addr().String() }

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
	acceptStreams(m, &wg, srv.handle)
}

// acceptStreams runs handle on every stream m accepts, each in its own
// goroutine counted in wg and closed once handle returns, until Accept
// fails. It does not wait for the handlers.
func acceptStreams(m *Mux, wg *sync.WaitGroup, handle func(*Stream)) {
	for {
		st, err := m.Accept(context.Background())
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.Close()
			handle(st.(*Stream))
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
	srv.halt()
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
