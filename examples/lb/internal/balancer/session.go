package balancer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/proxyblocks/proxyblocks/channel"
	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux"
	_ "github.com/proxyblocks/proxyblocks/mux/pt" // registers the pass-through mux TCP mode uses
)

// session is one client connection and, once connected, its server
// connection.
type session struct {
	b        *Balancer
	fe       *frontend
	bind     *config.Bind // the line in the configuration, shared
	client   *conn.Conn
	accepted time.Time

	mu     sync.Mutex
	server *conn.Conn
	killed bool
	http   *httpFront // set in HTTP mode, so a soft stop can close idle keep-alive connections

	// trk holds the stick-table entries the connection tracks (stick.go);
	// bytesIn and bytesOut are added to them at the end.
	trk               *tracked
	bytesIn, bytesOut int64
}

// kill closes both connections; whatever drives the session (its
// goroutine or its tunnel) then winds down.
func (s *session) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killed = true
	_ = s.client.Close()
	if s.server != nil {
		_ = s.server.Close()
	}
}

func (s *session) setServer(c *conn.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.killed {
		return false
	}
	s.server = c
	return true
}

// run drives the session from its accept. An HTTP session ends when run
// returns; a TCP session that reached a server outlives it: its tunnel
// runs on the channel's own goroutines, parked in the shared poller while
// idle, and ends the session from its completion callback, so an idle
// proxied connection holds no goroutine.
func (s *session) run() {
	b, fe := s.b, s.fe
	s.startTracking()

	// The handshake phase reads the PROXY header on accept-proxy binds.
	// As in HAProxy, a bad header closes the connection before any byte
	// can reach a server, and there is no traffic line for it.
	if err := s.client.Handshake(b.ctx); err != nil {
		b.log.Debug("handshake failed", "frontend", fe.cfg.Name, "client", s.client.SocketRemote(), "err", err)
		s.tlsHandshakeFailed(err)
		s.end()
		return
	}
	if !s.sessionRules() {
		s.end()
		return
	}
	if fe.cfg.Mode == "http" {
		s.runHTTP()
		s.end()
		return
	}
	ts := &tcpSession{s: s, be: fe.backend}
	ft, err := tcpStream(b.ctx, s.client, s.bind.Proto, mux.SideFront)
	if err != nil {
		b.log.Debug("no TCP mux", "frontend", fe.cfg.Name, "client", s.client.SocketRemote(), "err", err)
		s.end()
		return
	}
	ts.client = ft
	ts.begin()
	if s.client.Transport().Info().TLS {
		st, gone := firstLook(ft)
		if gone {
			// As HAProxy does, no server is dialed for a client that
			// finished its handshake and left without a byte to forward.
			ts.l.term = [2]byte{'C', 'C'}
			ts.finish()
			return
		}
		ts.client = st
	}
	if !ts.connect() {
		ts.finish()
		return
	}
	tun, err := channel.NewTunnel(ts.client, ts.server, b.tunnelConfig(fe.cfg, ts.be.cfg))
	if err == nil {
		err = tun.Start(b.ctx, ts.tunnelDone)
	}
	if err != nil {
		b.log.Warn("tunnel not started", "frontend", fe.cfg.Name, "backend", ts.be.cfg.Name, "err", err)
		ts.l.term = [2]byte{'P', 'D'}
		ts.finish()
	}
}

// end closes the session's connections and forgets it: the last thing a
// session does, once, whichever goroutine it ends on.
func (s *session) end() {
	s.endTracking()
	s.kill()
	s.b.endSession(s)
}

// tcpStream takes c's byte stream from the mux the registry picks for it
// in TCP mode: accepted from the client on the front side, where the
// pass-through mux's stream is the connection's transport, raw socket and
// all, so the tunnel may still splice; opened towards the server on the
// back side.
func tcpStream(ctx context.Context, c *conn.Conn, proto string, side mux.Side) (mux.Tunnel, error) {
	m, err := mux.New(c.Transport(), proto, side, mux.ModeTCP)
	if err != nil {
		return nil, err
	}
	c.SetMux(m)
	var st mux.Stream
	peer := "towards a TCP server"
	if side == mux.SideFront {
		st, err = m.Accept(ctx)
		peer = "to a TCP frontend"
	} else {
		st, err = m.Open(ctx)
	}
	if err != nil {
		return nil, err
	}
	t, ok := st.(mux.Tunnel)
	if !ok {
		_ = st.Close()
		return nil, fmt.Errorf("balancer: mux %s gives no byte stream %s", m.Name(), peer)
	}
	return t, nil
}

// tcpSession is a TCP-mode session from its accept to its traffic line:
// the server it holds and the line being filled in.
type tcpSession struct {
	s              *session
	be             *Backend
	srv            *Server
	client, server mux.Tunnel
	l              tcpLog
}

// begin starts the traffic line, and without option tcplog writes the
// "Connect from" line.
func (ts *tcpSession) begin() {
	s, fe := ts.s, ts.s.fe
	src, dst := s.client.Src(), s.client.Dst()
	ts.l = tcpLog{client: src, accept: s.accepted, frontend: fe.cfg.Name, backend: fe.cfg.Name, server: "<NOSRV>", term: [2]byte{'-', '-'}}
	if ts.be != nil {
		ts.l.backend = ts.be.cfg.Name
	}
	if !fe.cfg.Options.TCPLog && fe.logs.enabled() {
		fe.logs.emit(levelInfo, fmt.Sprintf("Connect from %s to %s (%s/TCP)", src, dst, fe.cfg.Name))
	}
}

// connect picks a server (possibly after queueing) and connects to it,
// retrying on failure while keeping the server's slot; with option
// redispatch the last retry goes through the algorithm again, away from
// the failing server. It reports whether a server connection is ready;
// when not, l.term says why.
func (ts *tcpSession) connect() bool {
	s, b := ts.s, ts.s.b
	src, dst := s.client.Src(), s.client.Dst()
	l := &ts.l
	be := ts.be
	if be == nil {
		l.term = [2]byte{'S', 'C'}
		return false
	}

	getServer := func(avoid *Server) bool {
		a, err := be.assign(b.ctx, src.Addr(), avoid)
		l.twSet = true
		if a.queued {
			l.tw += a.waited
			l.srvQueue, l.beQueue = a.srvQueue, a.beQueue
		}
		if err != nil {
			switch {
			case errors.Is(err, ErrQueueTimeout):
				l.term = [2]byte{'s', 'Q'}
			case errors.Is(err, ErrNoServer):
				l.term = [2]byte{'S', 'C'}
			default:
				l.term = [2]byte{'K', 'Q'}
			}
			return false
		}
		ts.srv = a.srv
		l.server = a.srv.cfg.Name
		return true
	}
	if ts.srv = s.stickMatch(be); ts.srv != nil {
		l.server, l.twSet = ts.srv.cfg.Name, true
	} else if !getServer(nil) {
		return false
	}
	connStart := time.Now()
	var sc *conn.Conn
	for {
		var err error
		sc, err = b.dialServer(b.ctx, ts.srv, src, dst, s.client.Transport().Info())
		if err == nil {
			break
		}
		b.log.Debug("connect failed", "backend", be.cfg.Name, "server", ts.srv.cfg.Name, "retries", l.retries, "err", err)
		if l.retries >= be.cfg.Retries || b.ctx.Err() != nil {
			switch {
			case b.ctx.Err() != nil:
				l.term = [2]byte{'K', 'C'}
			case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
				l.term = [2]byte{'s', 'C'}
			default:
				l.term = [2]byte{'S', 'C'}
			}
			return false
		}
		l.retries++
		if be.cfg.Options.Redispatch && l.retries == be.cfg.Retries {
			failed := ts.srv
			be.release(ts.srv)
			ts.srv = nil
			l.redisp = true
			if !getServer(failed) {
				return false
			}
		}
	}
	l.tcSet, l.tc = true, time.Since(connStart)
	s.stickStore(be, ts.srv)
	if !s.setServer(sc) {
		_ = sc.Close()
		l.term = [2]byte{'K', 'C'}
		return false
	}
	st, err := tcpStream(b.ctx, sc, ts.srv.cfg.Proto, mux.SideBack)
	if err != nil {
		b.log.Debug("no TCP mux", "backend", be.cfg.Name, "server", ts.srv.cfg.Name, "err", err)
		l.term = [2]byte{'S', 'C'}
		return false
	}
	ts.server = st
	return true
}

// tunnelDone is the tunnel's completion callback: both directions have
// ended and both connections are closed.
func (ts *tcpSession) tunnelDone(res channel.Result) {
	s := ts.s
	s.bytesIn, s.bytesOut = res.Request.In, res.Response.Out
	if t := res.TermState(); len(t) == 2 {
		ts.l.term = [2]byte{t[0], t[1]}
	}
	s.mu.Lock()
	if s.killed {
		ts.l.term = [2]byte{'K', 'D'}
	}
	s.mu.Unlock()
	ts.finish()
}

// finish gives the server's slot back (which lets a queued connection
// have it), writes the traffic line and ends the session.
func (ts *tcpSession) finish() {
	s, b, fe, be, l := ts.s, ts.s.b, ts.s.fe, ts.be, &ts.l
	if ts.srv != nil {
		be.release(ts.srv)
	}
	if fe.cfg.Options.TCPLog && fe.logs.enabled() {
		l.tt = time.Since(s.accepted)
		l.bytesOut = s.bytesOut
		l.actconn = int(b.actconn.Load())
		l.feconn = int(fe.conns.Load())
		if be != nil {
			l.beconn, l.srvconn = be.counts(ts.srv)
		}
		// dontlognull drops lines of connections that moved no byte, such
		// as port probes, as HAProxy does.
		if !fe.cfg.Options.DontLogNull || s.bytesIn != 0 || s.bytesOut != 0 || l.term != [2]byte{'-', '-'} {
			fe.logs.emit(levelInfo, l.format())
		}
	}
	s.end()
}
