package balancer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/channel"
	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux"
	_ "github.com/proxyblocks/proxyblocks/mux/pt" // registers the pass-through mux TCP mode uses
)

// session is one client connection and, once connected, its server
// connection. A TCP session keeps what its traffic line needs here rather
// than in a record of its own: an idle proxied connection pays for this
// struct as long as it lives.
type session struct {
	b        *Balancer
	fe       *frontend
	bind     *config.Bind // the line in the configuration, shared
	client   *conn.Conn
	accepted time.Time
	// handshake is the time from the accept to the end of the handshake
	// (PROXY header, TLS): %Th.
	handshake time.Duration

	mu     sync.Mutex
	server *conn.Conn
	http   *httpFront // set in HTTP mode, so a soft stop can close idle keep-alive connections

	// trk holds the stick-table entries the connection tracks (stick.go);
	// bytesIn and bytesOut are added to them at the end.
	trk *tracked
	// x holds what only some TCP sessions need (variables, captures, a
	// stream number, a unique ID), nil for the others.
	x                 *sessExtra
	bytesIn, bytesOut int64

	// TCP mode: srv is the server whose slot the session holds, named the
	// one the traffic line names (nil for <NOSRV>; it stays the failed
	// server when a redispatch finds none), and the rest is what the line
	// learns before the end (see tcpLog). The small fields come last,
	// with killed, to pack.
	be                *Backend // the backend use_backend or default_backend chose
	srv, named        *Server
	tw, tc            time.Duration
	retries           int32
	srvQueue, beQueue int32
	term              [2]byte
	twSet, tcSet      bool
	redisp            bool
	killed            bool // under mu
	downed            bool // under mu: killed as its server went down (on-marked-down)
	shut              bool // under mu: closed by "shutdown sessions server"
	logged            bool // option logasap wrote the traffic line already
	// silent marks a connection dropped while it waited because its
	// client closed having sent nothing (clientGone).
	silent bool
	// logLevel is what a content rule's set-log-level chose
	// (trafficLine.level), 0 when none did.
	logLevel int8
	// luid is the id of the listener the client came through, which a
	// UNIX client's lines show as its port.
	luid uint16
	// tun is the session's tunnel once it runs (under mu), for the bytes
	// option contstats shows while it does.
	tun *channel.Tunnel
}

// liveBytes are the bytes the session's tunnel has moved so far, client
// to server and server to client; 0 before it runs.
func (s *session) liveBytes() (in, out uint64) {
	s.mu.Lock()
	tun := s.tun
	s.mu.Unlock()
	if tun == nil {
		return 0, 0
	}
	return uint64(tun.Request().Stats().In), uint64(tun.Response().Stats().Out)
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
	if s.http != nil {
		// A connection waiting in the idle poller learns of the close
		// now rather than at the poller's next sweep.
		s.http.idle.Wake()
	}
}

// shutDown kills the session as its server is marked down (or, for a
// backup, as an active server comes up): the line ends with D-, as
// HAProxy's.
func (s *session) shutDown() {
	s.mu.Lock()
	s.downed = true
	s.mu.Unlock()
	s.kill()
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
// returns, unless it was handed off while idle (runHTTP). A TCP session
// that reached a server can outlive it: run drives the tunnel's request
// direction until it ends or first waits long enough to park, then the
// tunnel runs on the channel's own goroutines, parked in the shared
// poller while idle, and ends the session from its completion callback,
// so an idle proxied connection holds no goroutine.
func (s *session) run() {
	b, fe := s.b, s.fe
	// The session is settled once its steady phase begins (an HTTP
	// session serving, a TCP tunnel started) or it is over.
	settled := false
	settle := func() {
		if !settled {
			settled = true
			b.starting.Add(-1)
		}
	}
	defer settle()
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
	s.handshake = time.Since(s.accepted)
	if !s.sessionRules() {
		s.end()
		return
	}
	if fe.cfg.Mode == "http" {
		settle()
		if !s.runHTTP() {
			s.end()
		}
		return
	}
	// Every stream takes a number, as in haproxy, kept where a format
	// reads it.
	if rt := b.streams.Add(1) - 1; fe.keepRT {
		s.extra().rt = rt
	}
	if n := len(fe.cfg.HTTP.CaptureRequest); n > 0 {
		s.extra().caps = emptyCaptures(nil, n)
	}
	client, err := tcpStream(b.ctx, s.client, s.bind.Proto, mux.SideFront)
	if err != nil {
		b.log.Debug("no TCP mux", "frontend", fe.cfg.Name, "client", s.client.SocketRemote(), "err", err)
		s.end()
		return
	}
	s.tcpBegin()
	if !s.inspect() {
		s.tcpFinish()
		return
	}
	if s.x != nil && s.x.luaService != "" {
		settle()
		s.serveLuaTCP(client)
		return
	}
	if s.be != nil && s.be.cfg.Mode == "http" || s.switched() {
		// A TCP frontend's rules chose an HTTP backend: the connection
		// is served as HTTP from here, its bytes still unread, each
		// request logged in the frontend's format, as HAProxy upgrades
		// such a stream.
		settle()
		if !s.runHTTP() {
			s.end()
		}
		return
	}
	if s.client.Transport().Info().TLS {
		st, gone := firstLook(client)
		if gone {
			// As HAProxy does, no server is dialed for a client that
			// finished its handshake and left without a byte to forward.
			s.term = [2]byte{'C', 'C'}
			s.tcpFinish()
			return
		}
		client = st
	}
	server, ok := s.tcpConnect()
	if !ok {
		// The bytes the client sent go, so that the close ends with a FIN,
		// as HAProxy's does: it holds them in its buffer by then.
		s.client.DiscardInput(b.bufSize())
		s.tcpFinish()
		return
	}
	be := s.be
	if s.x != nil && s.x.reqEdit != nil && !s.deliverEdit(server) {
		s.term = [2]byte{'S', 'D'}
		_ = server.Close()
		s.tcpFinish()
		return
	}
	s.serverSessionEvent()
	var ra *resAnalysis
	if be.resp != nil {
		var ok bool
		if ra, ok = s.startResponse(client); !ok {
			s.tcpFinish()
			return
		}
	} else if len(be.stick) > 0 {
		s.storeResponse(nil)
	}
	if fe.cfg.Options.LogASAP {
		// option logasap: the line now, with what is known.
		beconn, srvconn := be.counts(s.srv)
		s.logTraffic(true, beconn, srvconn)
		s.logged = true
	}
	tc := b.tunnelConfig(fe.cfg, be.cfg)
	tc.Go = b.workers.goFn
	if ra != nil {
		tc.ResponseAnalysers = []channel.Analyser{ra.analyse}
	}
	tun, err := channel.NewTunnel(client, server, tc)
	if err == nil && ra != nil {
		// The inspect delay counts from the server connection's start.
		tun.Response().SetAnalyseTimeout(max(be.resp.delay-time.Since(ra.start), time.Nanosecond))
	}
	if err == nil && fe.cfg.Options.ContStats {
		s.mu.Lock()
		s.tun = tun
		s.mu.Unlock()
	}
	if err == nil {
		// This goroutine goes on as the request direction: a short
		// connection ends on it, with the stack it has grown already, and
		// the session may be over when Drive returns.
		settle()
		err = tun.Drive(b.ctx, s.tunnelDone)
	}
	if err != nil {
		b.log.Warn("tunnel not started", "frontend", fe.cfg.Name, "backend", be.cfg.Name, "err", err)
		s.term = [2]byte{'P', 'D'}
		s.tcpFinish()
	}
}

// deliverEdit sends the server the request data Lua actions took or
// changed, in place of the client's bytes it stands for, which go: the
// tunnel then carries what the client sends next. It reports false when
// the server could not take it.
func (s *session) deliverEdit(server mux.Tunnel) bool {
	e := s.x.reqEdit
	if e.taken > 0 {
		s.client.DiscardInput(e.taken)
	}
	out := append(e.data.Out, e.data.In...)
	if len(out) == 0 {
		return true
	}
	_ = server.SetWriteDeadline(time.Now().Add(max(s.be.cfg.Timeouts.Server, time.Second)))
	_, err := server.Write(out)
	_ = server.SetWriteDeadline(time.Time{})
	return err == nil
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

// tcpBegin starts the traffic line, and without option tcplog writes
// the "Connect from" line.
func (s *session) tcpBegin() {
	fe := s.fe
	s.term = [2]byte{'-', '-'}
	if !fe.cfg.Options.TCPLog && fe.cfg.LogFormat == nil && fe.logs.enabled() {
		fe.logs.emit(levelInfo, fmt.Sprintf("Connect from %s to %s (%s/TCP)", s.client.Src(), s.client.Dst(), fe.cfg.Name))
	}
}

// tcpConnect picks a server (possibly after queueing) and connects to it,
// retrying on failure while keeping the server's slot; with option
// redispatch the last retry goes through the algorithm again, away from
// the failing server. It returns the server's stream when one is ready;
// when not, term says why.
func (s *session) tcpConnect() (mux.Tunnel, bool) {
	b, be := s.b, s.be
	if be == nil {
		s.term = [2]byte{'S', 'C'}
		return nil, false
	}
	be.st.session(s.accepted)
	src, dst := s.client.Src(), s.client.Dst()
	// A server persistence names (an RDP routing token, a stick table)
	// is taken directly, waiting in its own queue when it is full; else
	// the algorithm chooses.
	var key []byte
	force := false
	if len(be.cfg.PersistRules) > 0 {
		force, _ = be.persistRule(s.ruleCtx(be.cfg.Name))
	}
	persist := s.useServer(be, force)
	if persist == nil {
		key, persist = s.rdpCookies(be, force)
	}
	if persist == nil && len(be.stick) > 0 {
		persist = be.stickMatch(s.ruleCtx(be.cfg.Name), b.tables, force)
	}
	direct := persist != nil
	if !s.assign(be, src, key, nil, persist, force) {
		return nil, false
	}
	connStart := time.Now()
	var sc *conn.Conn
	for {
		if be.cfg.Options.AbortOnClose && s.clientGone() {
			// The client left before the connection was made: CC, as
			// HAProxy logs it under abortonclose.
			s.term = [2]byte{'C', 'C'}
			return nil, false
		}
		var err error
		s.srv.st.session(connStart)
		s.srv.st.connects.Add(1)
		be.st.connects.Add(1)
		pp := ppFacts{client: s.client.Transport().Info(), authority: peerAuthority(s.client), uniqueID: s.uniqueID}
		pp.sni, pp.sniSet = dynamicSNI(s.srv, s.ruleCtx(be.cfg.Name), pp.client)
		sc, err = b.dialServer(b.ctx, s.srv, src, dst, pp)
		s.srv.observe(err != nil && b.ctx.Err() == nil)
		if err != nil || s.x != nil {
			s.extra().backErr, s.x.backTLS = err, s.srv.cfg.SSL.Enabled
		}
		if err == nil {
			if s.fe.keepBSrc {
				s.extra().bsrc = localAddrPort(sc.SocketLocal())
			}
			break
		}
		b.log.Debug("connect failed", "backend", be.cfg.Name, "server", s.srv.cfg.Name, "retries", int(s.retries), "err", err)
		timedOut := connectTimedOut(err)
		if int(s.retries) >= be.cfg.Retries || be.cfg.RetryOn&config.RetryConnFailure == 0 || b.ctx.Err() != nil {
			switch {
			case b.ctx.Err() != nil:
				s.term = [2]byte{'K', 'C'}
			case timedOut:
				s.term = [2]byte{'s', 'C'}
			default:
				s.term = [2]byte{'S', 'C'}
			}
			return nil, false
		}
		s.retries++
		failed := s.srv
		moving, wait := be.retryPlan(s.srv, int(s.retries), direct, timedOut)
		if moving {
			be.release(s.srv)
			s.srv = nil
		}
		if wait && !be.turnAround(b.ctx) {
			if s.srv != nil {
				be.release(s.srv)
				s.srv = nil
			}
			s.term = [2]byte{'K', 'C'}
			return nil, false
		}
		if moving {
			// As with HAProxy, the time spent before a new assignment
			// is waiting (Tw); the connect time starts again.
			s.tw += time.Since(connStart)
			if !s.assign(be, src, key, failed, nil, false) {
				return nil, false
			}
			connStart = time.Now()
			if s.srv != failed {
				s.redisp = true
			}
		}
		countRetry(be, failed, s.srv != failed)
	}
	s.tcSet, s.tc = true, time.Since(connStart)
	if len(be.stick) > 0 {
		be.stickStore(s.ruleCtx(be.cfg.Name), b.tables, s.srv, false, b.log.Debug)
	}
	if !s.setServer(sc) {
		_ = sc.Close()
		s.term = [2]byte{'K', 'C'}
		return nil, false
	}
	be.addLive(s.srv, s)
	st, err := tcpStream(b.ctx, sc, s.srv.cfg.Proto, mux.SideBack)
	if err != nil {
		b.log.Debug("no TCP mux", "backend", be.cfg.Name, "server", s.srv.cfg.Name, "err", err)
		s.term = [2]byte{'S', 'C'}
		return nil, false
	}
	return st, true
}

// assign has be's algorithm pick a server other than avoid (hashing key,
// an RDP cookie, when the algorithm reads one), possibly
// after queueing, and notes the wait on the traffic line; when none is
// had, term says why.
func (s *session) assign(be *Backend, src netip.AddrPort, key []byte, avoid, direct *Server, force bool) bool {
	a, err := be.assign(s.b.ctx, src.Addr(), key, avoid, direct, force, s.clientGone, s.prio())
	// No server at all leaves Tw at -1, as in HAProxy, unless the
	// connection waited in a queue first.
	s.twSet = s.twSet || a.queued || !(errors.Is(err, ErrNoServer) || errors.Is(err, ErrQueueFull))
	if a.queued {
		s.tw += a.waited
		s.srvQueue, s.beQueue = int32(a.srvQueue), int32(a.beQueue)
	}
	if err != nil {
		switch {
		case errors.Is(err, ErrQueueTimeout):
			s.term, s.named = [2]byte{'s', 'Q'}, a.srv
		case errors.Is(err, ErrNoServer):
			s.term = [2]byte{'S', 'C'}
		case errors.Is(err, ErrQueueFull):
			// Refused at once, naming the server, as in HAProxy.
			s.term, s.named = [2]byte{'S', 'Q'}, a.srv
		case errors.Is(err, ErrClientGone):
			s.term, s.named = [2]byte{'C', 'Q'}, a.srv
		default:
			s.term = [2]byte{'K', 'Q'}
		}
		return false
	}
	s.srv, s.named = a.srv, a.srv
	return true
}

// clientGone tells a waiting connection to drop, as HAProxy drops it
// (back_may_abort_req): its client closed its side with nothing sent
// that is still to forward, or, under option abortonclose, closed it at
// all.
func (s *session) clientGone() bool {
	closed, unread := s.client.PeerClosed()
	s.silent = closed && !unread
	return closed && (!unread || s.be.cfg.Options.AbortOnClose)
}

// tunnelDone is the tunnel's completion callback: both directions have
// ended and both connections are closed.
func (s *session) tunnelDone(res channel.Result) {
	s.bytesIn, s.bytesOut = res.Request.In, res.Response.Out
	if s.x != nil && s.x.reqEdit != nil {
		// The client's bytes Lua actions took count as read.
		s.bytesIn += int64(s.x.reqEdit.taken)
	}
	if t := res.TermState(); len(t) == 2 {
		s.term = [2]byte{t[0], t[1]}
	}
	if s.x != nil && s.x.res != nil {
		s.responseDone(res)
	}
	s.mu.Lock()
	switch {
	case s.downed:
		s.term = [2]byte{'D', '-'}
	case s.shut:
		s.term = [2]byte{'K', '-'} // as HAProxy's, for a session killed by the runtime API
	case s.killed:
		s.term = [2]byte{'K', 'D'}
	}
	s.mu.Unlock()
	s.tcpFinish()
}

// tcpFinish gives the server's slot back (which lets a queued connection
// have it), writes the traffic line and ends the session.
func (s *session) tcpFinish() {
	be := s.be
	var beconn, srvconn int
	released := s.srv != nil
	srv := s.srv
	if srv == nil {
		srv = s.named
	}
	if released {
		// Out of the live sessions first: option contstats counts a live
		// session's bytes, and the totals are added next.
		be.dropLive(s.srv, s)
	}
	countTraffic(s.fe, be, srv, s.bytesIn, s.bytesOut, s.term, -1)
	if be != nil && s.tcSet {
		countTimes(be, srv, [4]time.Duration{s.tw, s.tc, 0, time.Since(s.accepted)})
	}
	if released {
		beconn, srvconn = be.release(s.srv)
	}
	if !s.logged {
		if be != nil && !released {
			var named *Server
			if s.term[1] == 'Q' {
				named = s.named // the server whose queue refused or timed out the connection
			}
			beconn, srvconn = be.counts(named)
		}
		s.logTraffic(false, beconn, srvconn)
	}
	s.end()
}

// logTraffic writes the session's traffic line, with the backend and
// server counts given; asap marks the line option logasap writes once the
// server connection is up.
func (s *session) logTraffic(asap bool, beconn, srvconn int) {
	b, fe, be := s.b, s.fe, s.be
	if !(fe.cfg.Options.TCPLog || fe.cfg.LogFormat != nil) || !fe.logs.enabled() {
		return
	}
	l := tcpLog{trafficLine: trafficLine{
		client:   s.client.Src(),
		luid:     s.luid,
		frontend: fe.cfg.Name,
		backend:  fe.cfg.Name,
		server:   "<NOSRV>",
		tw:       s.tw,
		tc:       s.tc,
		twSet:    s.twSet,
		tcSet:    s.tcSet,
		bytesOut: s.bytesOut,
		term:     s.term,
		actconn:  int(b.actconn.Load()),
		feconn:   int(fe.conns.Load()),
		retries:  int(s.retries),
		redisp:   s.redisp,
		srvQueue: int(s.srvQueue),
		beQueue:  int(s.beQueue),
		asap:     asap,
		level:    int(s.logLevel),
	}, accept: s.accepted, tt: time.Since(s.accepted), bytesIn: s.bytesIn, th: s.handshake}
	if s.named != nil {
		l.server = s.named.cfg.Name
	}
	if s.x != nil && s.x.luaService != "" {
		l.server = "<" + s.x.luaService + ">" // as haproxy names an applet
	}
	if be != nil {
		l.backend = be.cfg.Name
		l.beconn, l.srvconn = beconn, srvconn
	}
	// dontlognull drops lines of connections that moved no byte, such
	// as port probes, as HAProxy does, and of those dropped while they
	// waited because their client left having sent nothing.
	if fe.cfg.Options.DontLogNull && s.bytesIn == 0 && s.bytesOut == 0 && (l.term == [2]byte{'-', '-'} || s.silent) {
		return
	}
	level := trafficLevel(&fe.cfg.Options, &l.trafficLine, 0)
	if level < 0 {
		return
	}
	if fe.cfg.LogFormat != nil {
		v := l.values()
		v.fe, v.srv = s.client.Dst(), s.srv
		v.tlsInfo, v.lc = s.client.Transport().Info(), fe.logCount.Add(1)-1
		if x := s.x; x != nil {
			v.rt, v.capReq, v.bsrc = x.rt, x.caps, x.bsrc
		}
		if v.srv == nil {
			v.srv = s.named
		}
		v.uid, _ = s.uniqueID()
		if fe.logFetch != nil {
			ctx := s.ruleCtx(fe.cfg.Name)
			ctx.atLog = !asap
			v.ctx, v.fetch = ctx, fe.logFetch
		}
		fe.logs.emit(level, string(renderLogFormat(nil, fe.cfg.LogFormat, &v)))
	} else {
		fe.logs.emit(level, l.format())
	}
}

// uniqueID returns a TCP session's unique ID, made from the frontend's
// unique-id-format on first use and kept; ok is false without the format.
func (s *session) uniqueID() (string, bool) {
	u := s.fe.uid
	if u == nil || s.fe.cfg.Mode == "http" {
		// An HTTP connection's IDs are its requests'.
		return "", false
	}
	x := s.extra()
	if x.uid == "" {
		v := logValues{trafficLine: &trafficLine{client: s.client.Src(), luid: s.luid, frontend: s.fe.cfg.Name}, date: s.accepted,
			fe: s.client.Dst(), rt: x.rt}
		x.uid = u.make(&v, s.ruleCtx(s.fe.cfg.Name))
	}
	return x.uid, true
}

// sessExtra is what only some TCP sessions need, kept apart so that the
// others stay small.
type sessExtra struct {
	// vars holds the session's variables (all scopes but proc), nil
	// until one is set.
	vars *varStore
	// caps are the request capture slots tcp-request content capture
	// fills (encoded for the log), nil when the frontend declares none.
	caps [][]byte
	// rt is the stream's number in the process (%rt), kept when a format
	// of the frontend reads it; uid the unique ID once made; bsrc the
	// server connection's own address (%bi, %bp), kept likewise.
	rt   uint64
	uid  string
	bsrc netip.AddrPort
	// backErr is why the last server connection could not be made, for
	// bc_err; nil once one is. backTLS tells that server spoke TLS.
	backErr error
	backTLS bool
	// spoe is the session's SPOE state, nil until an engine ran.
	spoe *spoeStream
	// prio is the place in the queues content rules chose.
	prio Priority
	// res is the session's tcp-response rules while they wait for the
	// server's bytes, nil when they never had to.
	res *resAnalysis
	// switched marks a connection a "tcp-request content switch-mode
	// http" rule turned to HTTP, under the multiplexer switchProto
	// forces ("" for the bind line's).
	switched    bool
	switchProto string
	// luaService is the Lua service ("lua.NAME") a tcp-request content
	// use-service rule chose to serve the connection.
	luaService string
	// luaPriv is what the session's scripts keep (txn:set_priv).
	luaPriv any
	// reqEdit is the request data once a Lua action took or changed
	// it, nil while the rules only read the client's bytes.
	reqEdit *reqEdit
}

// switched reports whether a switch-mode rule turned the connection to
// HTTP.
func (s *session) switched() bool { return s.x != nil && s.x.switched }

// prio is the session's place in the queues.
func (s *session) prio() Priority {
	if s.x == nil {
		return Priority{}
	}
	return s.x.prio
}

// rt is the session's stream number, kept when a format reads it or an
// SPOE engine may name the stream to its agent.
func (s *session) rt() uint64 {
	if s.x == nil {
		return 0
	}
	return s.x.rt
}

// extra returns the session's sessExtra, made on first use.
func (s *session) extra() *sessExtra {
	if s.x == nil {
		s.x = &sessExtra{}
	}
	return s.x
}

// bufSize is the buffer size, tune.bufsize or the default: what HAProxy
// reads of a client before its rules and its connection decide.
func (b *Balancer) bufSize() int {
	if n := b.cfg.Global.BufSize; n > 0 {
		return n
	}
	return buffer.DefaultSize
}
