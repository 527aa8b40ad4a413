package balancer

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/mux"
)

// Server connection reuse, as HAProxy's http-reuse: a connection to a
// server outlives the exchange that opened it. An HTTP/1 connection goes
// back to its server's idle list once its exchange ends and is taken by
// the next request for that server; an HTTP/2 connection stays on the
// server's shared list and carries streams of many clients at once while
// it has streams to spare.

// Idle limits. HAProxy keeps idle connections until pool-purge-delay
// (5 s by default) passes without use, as many as pool-max-conn allows;
// without pool-max-conn, lb's cap bounds the file descriptors held for a
// server that stopped being asked.
const (
	idleMaxPerSrv  = 256
	reusePolicyNew = "never"
)

// idleCap is how many idle connections s keeps (pool-max-conn).
func (s *Server) idleCap() int {
	if n := s.cfg.PoolMaxConn; n >= 0 {
		return n
	}
	return idleMaxPerSrv
}

// idleAged reports whether a connection idle since then is past s's
// pool-purge-delay at now (never with 0).
func (s *Server) idleAged(since, now time.Time) bool {
	d := s.cfg.PoolPurgeDelay
	return d > 0 && now.Sub(since) >= d
}

// reusable reports whether bc may carry one more exchange under
// max-reuse: it was reused fewer times than that.
func (bc *backConn) reusable() bool {
	n := bc.srv.cfg.MaxReuse
	return n < 0 || int(bc.uses.Load()) <= n
}

// streamEnded closes a retired HTTP/2 connection once its last stream
// is done.
func (sc *serverConns) streamEnded(bc *backConn) {
	sc.mu.Lock()
	done := bc.retired && bc.m.UsedStreams() == 0
	sc.mu.Unlock()
	if done {
		bc.close()
	}
}

// backConn is one connection to a server and its mux.
type backConn struct {
	srv *Server
	c   *conn.Conn
	m   mux.Mux
	h2  bool
	sni string // the SNI it sent when the server's changes with the client
	// to is the client destination it went to for a server at 0.0.0.0
	// (destTo): kept connections are shared only between those.
	to   netip.Addr
	idle time.Time    // when it went idle
	used bool         // carried an exchange before: a failure may be a stale connection
	uses atomic.Int32 // exchanges (HTTP/2: streams) opened on it, for max-reuse
	// retired is set, under its server's serverConns.mu, on an HTTP/2
	// connection taken off the shared list at max-reuse: it closes once
	// its last stream ends.
	retired bool

	peekFn func(fd uintptr)
	peekOK bool
}

func (bc *backConn) close() {
	_ = bc.m.Close()
	_ = bc.c.Close()
}

// closeIdle closes an HTTP/1 connection with no exchange on it, as
// HAProxy closes an idle server connection: with a reset (SO_LINGER 0),
// so that the balancer, which closes first, keeps no socket in TIME_WAIT
// per server connection, and the server learns at once. An HTTP/2
// connection gets the mux's orderly close.
func (bc *backConn) closeIdle() {
	if bc.h2 {
		bc.close()
		return
	}
	_ = bc.c.Abort()
	_ = bc.m.Close()
}

// alive tells whether an idle HTTP/1 connection may carry a request: a
// one-byte peek that finds nothing waiting. Bytes or end of file mean the
// server closed it or broke the protocol.
func (bc *backConn) alive() bool {
	rc, ok := bc.c.Transport().Raw()
	if !ok {
		return true // TLS: trust it, a failure before the response is retried
	}
	if bc.peekFn == nil {
		bc.peekFn = bc.peek // one method value per connection, not per request
	}
	bc.peekOK = false
	_ = rc.Control(bc.peekFn)
	return bc.peekOK
}

func (bc *backConn) peek(fd uintptr) {
	_, e := peek1(fd)
	bc.peekOK = e == syscall.EAGAIN
}

// serverConns are a server's reusable connections.
type serverConns struct {
	mu     sync.Mutex
	idle   []*backConn // HTTP/1, newest last
	shared []*backConn // HTTP/2, streams shared
	closed bool
}

// take returns an idle HTTP/1 connection or a shared HTTP/2 one with a
// free stream, nil when there is none. With probe set, an idle HTTP/1
// connection is first checked with alive(); without, the caller retries
// on a new connection a request the kept one failed to answer (a
// request that is safe to send twice), as HAProxy does rather than
// checking.
func (sc *serverConns) take(now time.Time, probe bool, sni string, to netip.Addr) *backConn {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for i := 0; i < len(sc.shared); i++ {
		bc := sc.shared[i]
		if bc.sni != sni || bc.to != to {
			continue
		}
		if !bc.reusable() {
			// Past max-reuse: no new stream; it closes once its
			// streams are done (streamEnded).
			sc.shared = append(sc.shared[:i], sc.shared[i+1:]...)
			i--
			bc.retired = true
			if bc.m.UsedStreams() == 0 {
				go bc.close()
			}
			continue
		}
		if bc.m.AvailStreams() > 0 {
			return bc
		}
		if bc.m.UsedStreams() == 0 {
			// Neither free nor busy: the server sent GOAWAY or the
			// connection died.
			sc.shared = append(sc.shared[:i], sc.shared[i+1:]...)
			i--
			go bc.close()
		}
	}
	for i := len(sc.idle) - 1; i >= 0; i-- {
		bc := sc.idle[i]
		if bc.sni != sni || bc.to != to {
			continue
		}
		sc.idle = slices.Delete(sc.idle, i, i+1) // clears the freed slot
		if !bc.srv.idleAged(bc.idle, now) && (!probe || bc.alive()) {
			return bc
		}
		bc.closeIdle()
	}
	return nil
}

// put gives an HTTP/1 connection back after its exchange, closing it
// when it cannot carry another request or the list is full.
func (sc *serverConns) put(bc *backConn, now time.Time) {
	if bc.h2 {
		return // shared connections never leave the list
	}
	if bc.m.AvailStreams() == 0 || !bc.reusable() {
		bc.closeIdle()
		return
	}
	sc.mu.Lock()
	if sc.closed || len(sc.idle) >= bc.srv.idleCap() {
		sc.mu.Unlock()
		bc.closeIdle()
		return
	}
	// Drop the ones that aged out while here, oldest first.
	for len(sc.idle) > 0 && bc.srv.idleAged(sc.idle[0].idle, now) {
		old := sc.idle[0]
		copy(sc.idle, sc.idle[1:])
		sc.idle[len(sc.idle)-1] = nil
		sc.idle = sc.idle[:len(sc.idle)-1]
		old.closeIdle()
	}
	bc.idle, bc.used = now, true
	sc.idle = append(sc.idle, bc)
	sc.mu.Unlock()
}

// share adds a new HTTP/2 connection for other exchanges to use; it
// reports false when the list is closed (the balancer is stopping).
func (sc *serverConns) share(bc *backConn) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return false
	}
	sc.shared = append(sc.shared, bc)
	return true
}

// drop removes a failed shared connection.
func (sc *serverConns) drop(bc *backConn) {
	sc.mu.Lock()
	for i, x := range sc.shared {
		if x == bc {
			sc.shared = append(sc.shared[:i], sc.shared[i+1:]...)
			break
		}
	}
	sc.mu.Unlock()
	bc.close()
}

// closeAll closes every kept connection; later puts close theirs.
func (sc *serverConns) closeAll() {
	sc.mu.Lock()
	sc.closed = true
	all := append(sc.idle, sc.shared...)
	sc.idle, sc.shared = nil, nil
	sc.mu.Unlock()
	for _, bc := range all {
		bc.closeIdle()
	}
}

// closeHTTPConns closes the kept server connections of every backend,
// once no session can use them any more.
func (b *Balancer) closeHTTPConns() {
	for _, be := range b.backends {
		for _, s := range be.servers {
			s.conns.closeAll()
		}
	}
}

// dialBack opens a new connection to srv and builds its mux: HTTP/2 when
// the server line says proto h2 or TLS negotiated h2, HTTP/1 otherwise.
func (b *Balancer) dialBack(ctx context.Context, srv *Server, src, dst netip.AddrPort, pp ppFacts) (*backConn, error) {
	c, err := b.dialServer(ctx, srv, src, dst, pp)
	srv.observe(err != nil && ctx.Err() == nil)
	if err != nil {
		return nil, err
	}
	m, err := b.httpMux(c.Transport(), srv.cfg.Proto, mux.SideBack, c.Transport().Info().ALPN == "h2", false, srv.be.cfg.Options.H1CaseAdjustServer)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("server %s/%s: %w", srv.be.cfg.Name, srv.cfg.Name, err)
	}
	return &backConn{srv: srv, c: c, m: m, h2: m.Name() == "h2", sni: pp.sni, to: srv.destTo(dst)}, nil
}
