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
)

// session is one client connection and, once connected, its server
// connection.
type session struct {
	b        *Balancer
	fe       *frontend
	bind     config.Bind
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

// kill closes both connections; the session's goroutine then winds down.
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

func (s *session) run() {
	b, fe := s.b, s.fe
	defer b.endSession(s)
	defer s.kill()
	s.startTracking()
	defer s.endTracking()

	// The handshake phase reads the PROXY header on accept-proxy binds.
	// As in HAProxy, a bad header closes the connection before any byte
	// can reach a server, and there is no traffic line for it.
	if err := s.client.Handshake(b.ctx); err != nil {
		b.log.Debug("handshake failed", "frontend", fe.cfg.Name, "client", s.client.SocketRemote(), "err", err)
		s.tlsHandshakeFailed(err)
		return
	}
	if fe.cfg.Mode == "http" {
		s.runHTTP()
		return
	}
	src, dst := s.client.Src(), s.client.Dst()
	l := tcpLog{client: src, accept: s.accepted, frontend: fe.cfg.Name, backend: fe.cfg.Name, server: "<NOSRV>", term: [2]byte{'-', '-'}}
	if !fe.cfg.Options.TCPLog && fe.logs.enabled() {
		fe.logs.emit(levelInfo, fmt.Sprintf("Connect from %s to %s (%s/TCP)", src, dst, fe.cfg.Name))
	}
	be := fe.backend
	var srv *Server
	var bytesIn, bytesOut int64
	defer func() {
		if srv != nil {
			be.release(srv)
		}
		if !fe.cfg.Options.TCPLog || !fe.logs.enabled() {
			return
		}
		l.tt = time.Since(s.accepted)
		l.bytesOut = bytesOut
		l.actconn = int(b.actconn.Load())
		l.feconn = int(fe.conns.Load())
		if be != nil {
			l.beconn, l.srvconn = be.counts(srv)
		}
		// dontlognull drops lines of connections that moved no byte, such
		// as port probes, as HAProxy does.
		if fe.cfg.Options.DontLogNull && bytesIn == 0 && bytesOut == 0 && l.term == [2]byte{'-', '-'} {
			return
		}
		fe.logs.emit(levelInfo, l.format())
	}()
	if be == nil {
		l.term = [2]byte{'S', 'C'}
		return
	}
	l.backend = be.cfg.Name

	// Get a server (possibly after queueing), connect, retry on failure
	// keeping the server's slot; with option redispatch the last retry goes
	// through the algorithm again, away from the failing server.
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
		srv = a.srv
		l.server = srv.cfg.Name
		return true
	}
	if srv = s.stickMatch(be); srv != nil {
		l.server, l.twSet = srv.cfg.Name, true
	} else if !getServer(nil) {
		return
	}
	connStart := time.Now()
	var sc *conn.Conn
	for {
		var err error
		sc, err = b.dialServer(b.ctx, srv, src, dst, s.client.Transport().Info())
		if err == nil {
			break
		}
		b.log.Debug("connect failed", "backend", be.cfg.Name, "server", srv.cfg.Name, "retries", l.retries, "err", err)
		if l.retries >= be.cfg.Retries || b.ctx.Err() != nil {
			switch {
			case b.ctx.Err() != nil:
				l.term = [2]byte{'K', 'C'}
			case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
				l.term = [2]byte{'s', 'C'}
			default:
				l.term = [2]byte{'S', 'C'}
			}
			return
		}
		l.retries++
		if be.cfg.Options.Redispatch && l.retries == be.cfg.Retries {
			failed := srv
			be.release(srv)
			srv = nil
			l.redisp = true
			if !getServer(failed) {
				return
			}
		}
	}
	l.tcSet, l.tc = true, time.Since(connStart)
	s.stickStore(be, srv)
	if !s.setServer(sc) {
		_ = sc.Close()
		l.term = [2]byte{'K', 'C'}
		return
	}
	res, _ := channel.RunTunnel(b.ctx, s.client.Transport(), sc.Transport(), b.tunnelConfig(fe.cfg, be.cfg))
	bytesIn, bytesOut = res.Request.In, res.Response.Out
	s.bytesIn, s.bytesOut = bytesIn, bytesOut
	ts := res.TermState()
	if len(ts) == 2 {
		l.term = [2]byte{ts[0], ts[1]}
	}
	s.mu.Lock()
	if s.killed {
		l.term = [2]byte{'K', 'D'}
	}
	s.mu.Unlock()
}
