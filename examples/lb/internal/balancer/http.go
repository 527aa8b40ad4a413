package balancer

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/proxyblocks/proxyblocks/channel"
	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/httpcache"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/h1"
	"github.com/proxyblocks/proxyblocks/mux/h2"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
	"golang.org/x/sys/unix"
)

// HTTP mode. A client connection gets a front mux (HTTP/1 by default,
// HTTP/2 after ALPN h2 or with bind ... proto h2) that yields one stream
// per request. Each request goes through the frontend's rules, picks a
// backend (use_backend, else default_backend), goes through the backend's
// rules, gets a server from the balancing algorithm and a server
// connection from the server's kept connections (or a new one), and is
// copied to a back stream; the response comes back the same way. Both
// streams are mux.HTTPStream values whatever their protocol, so H1→H2,
// H2→H1 and H2→H2 are the same code.

// frontXprt is the client transport under an HTTP/1 front mux. It keeps
// the socket open when the mux closes it after a failed read, so that a
// 408 can still be written. The session closes the socket itself.
type frontXprt struct {
	xprt.Transport
}

// Close leaves the socket to the session; it only stops pending reads.
func (f *frontXprt) Close() error {
	return f.Transport.SetReadDeadline(time.Unix(1, 0))
}

// httpFront is one client connection in HTTP mode. A keep-alive client
// waiting for its next request keeps it as long as it waits, so it holds
// only what every connection needs: what one protocol alone needs hangs
// from a pointer, and the addresses are the client connection's.
type httpFront struct {
	s *session
	m mux.Mux
	// info is the client's TLS state, nil on a plain connection.
	info *xprt.Info
	// xp is the client transport under an HTTP/1 front mux (no Transport
	// under HTTP/2).
	xp   frontXprt
	nreq int       // requests accepted so far
	own  *backConn // the HTTP/1 server connection this client holds between requests
	// h2c is what an HTTP/2 connection needs more, nil under HTTP/1.
	h2c *h2Front
	// waitStart is the start of the wait for the next request: the one
	// resume, after a hand-off (resumed), goes on with, whose end follows
	// from the timeouts (waitUntil), and the idle time's start (%Ti).
	waitStart time.Time
	idle      xprt.IdleWait
	// stopping is set by a soft stop: a request already read is
	// answered with Connection: close, an idle connection closed.
	stopping atomic.Bool
	h2       bool
	tunnel   bool // the connection became a tunnel
	resumed  bool
}

// h2Front is the part of an HTTP/2 client connection an HTTP/1 one does
// without: its streams run on goroutines of their own.
type h2Front struct {
	wg sync.WaitGroup
	// idleTimer closes an idle connection (watchIdle), which streams
	// counts the activity of.
	idleTimer *time.Timer
	streams   atomic.Int64
	// wakeFn starts resume when the mux has a stream ready again, or
	// ended (AcceptNotify).
	wakeFn func()
}

// src is the client's address; dst the one it connected to.
func (hf *httpFront) src() netip.AddrPort { return hf.s.client.Src() }

func (hf *httpFront) dst() netip.AddrPort { return hf.s.client.Dst() }

// ppFacts is what a server connection made for the exchange may tell in
// its PROXY header.
func (ex *exchange) ppFacts() ppFacts {
	// The SNI is openStream's, worked out once for this server.
	return ppFacts{client: ex.hf.tlsInfo(), authority: peerAuthority(ex.hf.s.client), uniqueID: ex.UniqueID, sni: ex.sni, sniSet: ex.sniSet}
}

// peerAuthority is the AUTHORITY TLV of the PROXY header c came with, ""
// for none.
func peerAuthority(c *conn.Conn) string {
	if h := c.ProxyHeader(); h != nil {
		return h.Authority()
	}
	return ""
}

// tlsInfo is the client's TLS state, the zero Info on a plain
// connection.
func (hf *httpFront) tlsInfo() xprt.Info {
	if hf.info == nil {
		return xprt.Info{}
	}
	return *hf.info
}

// idleHandOff is how long an HTTP/1 client connection waits for its next
// request on the goroutine that served the last one. Past it, the wait
// goes on in the idle poller (xprt.IdleWait), or on a new goroutine
// where that cannot be: the old one's stack, grown while serving, would
// otherwise stay with every idle keep-alive connection.
const idleHandOff = 100 * time.Millisecond

// errHandOff says the connection went on on another goroutine.
var errHandOff = errors.New("handed off while idle")

var reqBufPool = sync.Pool{New: func() any { b := make([]byte, 16384); return &b }}

var exchangePool sync.Pool

func init() {
	exchangePool.New = func() any {
		ex := &exchange{buf: make([]byte, 16384)}
		ex.serveFn = ex.serveAsync
		return ex
	}
}

// runHTTP serves a client connection in HTTP mode until it closes, and
// reports false; or until an HTTP/1 connection has waited idleHandOff
// for its next request, and reports true: the idle poller (or a new
// goroutine with a small stack) then waits for the request, resume
// serves it and ends the session, and the caller leaves it alone. An
// HTTP/2 connection's streams are accepted on a new goroutine from the
// start, and runHTTP reports true at once.
func (s *session) runHTTP() (handedOff bool) {
	b, fe := s.b, s.fe
	hf := &httpFront{s: s}
	t := s.client.Transport()
	info := t.Info()
	if info.TLS {
		hf.info = &info
	}
	var mt xprt.Transport = t
	proto := s.bind.Proto
	if s.switched() && s.x.switchProto != "" {
		proto = s.x.switchProto // switch-mode http proto h1|h2
	}
	if proto != "h2" && info.ALPN != "h2" {
		hf.xp.Transport = t
		mt = &hf.xp
	}
	m, err := b.httpMux(mt, proto, mux.SideFront, info.ALPN == "h2", !fe.cfg.Options.DisableH2Upgrade, fe.cfg.Options.H1CaseAdjustClient)
	if err != nil {
		b.log.Debug("no HTTP mux", "frontend", fe.cfg.Name, "client", hf.src(), "err", err)
		return false
	}
	hf.m, hf.h2 = m, m.Name() == "h2"
	if hf.h2 {
		hf.h2c = &h2Front{}
	}
	s.mu.Lock()
	s.http = hf
	s.mu.Unlock()
	if hf.h2 {
		// This goroutine's stack grew in the handshake and the rules;
		// the streams are accepted on goroutines started for them, and
		// none waits while the client opens nothing.
		go hf.resume()
		return true
	}
	if hf.serve() {
		return true
	}
	hf.close()
	return false
}

// resumeAfter is resume for a connection that could not wait in the
// idle poller: a goroutine that first waits for the socket rc (nil: none
// to wait on) to be readable in a few small frames, so that the stack it
// starts with holds the wait; the request, when it comes, grows it.
func (hf *httpFront) resumeAfter(rc syscall.RawConn) {
	if rc != nil {
		// Readiness, the end, an error or the deadline: serve sorts
		// them out.
		_ = rc.Read(readable)
	}
	hf.resume()
}

// resume goes on serving a connection handed off while idle, and ends
// its session when the connection closes. It starts from the idle
// poller's wake, or from resumeAfter.
func (hf *httpFront) resume() {
	if hf.serve() {
		return
	}
	hf.close()
	hf.s.end()
}

// idleSocket returns the client's socket, to wait on while idle: the
// raw socket, or under TLS the socket beneath once the TLS layer holds
// nothing.
func (hf *httpFront) idleSocket() syscall.RawConn {
	t := hf.xp.Transport
	if rc, ok := t.Raw(); ok {
		return rc
	}
	if id, ok := t.(xprt.Idler); ok {
		if rc, ok := id.IdleSocket(); ok {
			return rc
		}
	}
	return nil
}

// readable reports whether the socket fd has a byte, its end or an error
// to read, without taking anything.
func readable(fd uintptr) bool {
	_, e := peek1(fd)
	return e != unix.EAGAIN
}

// partial reports whether the front mux holds part of a request head.
func (hf *httpFront) partial() bool {
	p, ok := hf.m.(interface{ Partial() bool })
	return ok && p.Partial()
}

// close waits for the connection's streams, gives back the server
// connection it held and closes the mux.
func (hf *httpFront) close() {
	if h := hf.h2c; h != nil {
		if h.idleTimer != nil {
			h.idleTimer.Stop()
		}
		h.wg.Wait()
	}
	if hf.own != nil {
		hf.release(hf.own)
		hf.own = nil
	}
	if hf.s.b.sessVarsUsed {
		hf.s.b.sessVars.Delete(hf)
	}
	_ = hf.m.Close()
}

// serve runs the connection's requests. It reports true when the
// connection was handed off to a new goroutine while idle.
func (hf *httpFront) serve() bool {
	if hf.h2 && hf.h2c.idleTimer == nil {
		hf.watchIdle()
	}
	for {
		var st mux.Stream
		var err error
		if hf.h2 {
			// No stream waiting: this goroutine goes, and the mux starts
			// another (resume) when one comes or the connection ends.
			if an, ok := hf.m.(interface{ AcceptNotify(func()) bool }); ok {
				h := hf.h2c
				if h.wakeFn == nil {
					b, resume := hf.s.b, hf.resume
					h.wakeFn = func() { b.spawnStream(resume) }
				}
				if an.AcceptNotify(h.wakeFn) {
					return true
				}
			}
			st, err = hf.m.Accept(hf.s.b.ctx) // not through accept: a smaller frame
		} else {
			st, err = hf.accept()
		}
		if err == errHandOff {
			return true
		}
		if err != nil {
			return false
		}
		hst, ok := st.(mux.HTTPStream)
		if !ok {
			_ = st.Close()
			return false
		}
		hf.nreq++
		ex := exchangePool.Get().(*exchange)
		ex.start(hf, hst)
		if !hf.h2 {
			ex.serve()
			ex.finish()
			if hf.tunnel || hf.s.b.ctx.Err() != nil {
				return false
			}
			continue
		}
		hf.h2c.streams.Add(1)
		hf.h2c.wg.Add(1)
		// On a worker that served a stream before: a new goroutine's
		// stack grows, by copying, as the rules run.
		hf.s.b.spawnStream(ex.serveFn)
	}
}

// watchIdle closes an HTTP/2 connection (GOAWAY first) that carried no
// stream for a whole period of timeout http-keep-alive (else
// http-request, else client), as HAProxy bounds an idle HTTP/2 client.
// One timer per connection, checked once a period: no cost per request.
func (hf *httpFront) watchIdle() {
	h := hf.h2c
	to := hf.s.fe.cfg.Timeouts
	period := to.HTTPKeepAlive
	if period == 0 {
		period = to.HTTPRequest
	}
	if period == 0 {
		period = to.Client
	}
	if period == 0 {
		h.idleTimer = time.NewTimer(time.Hour) // never fires usefully; keeps Stop simple
		h.idleTimer.Stop()
		return
	}
	var seen int64 // streams accepted at the last check
	h.idleTimer = time.AfterFunc(period, func() {
		if n := h.streams.Load(); hf.m.UsedStreams() > 0 || n != seen {
			seen = n
			h.idleTimer.Reset(period)
			return
		}
		if sd, ok := hf.m.(interface{ Shutdown(context.Context) error }); ok {
			ctx, cancel := context.WithTimeout(hf.s.b.ctx, time.Second)
			_ = sd.Shutdown(ctx)
			cancel()
		}
		_ = hf.m.Close()
	})
}

// stopIdleHTTP is the HTTP part of a soft stop: HTTP/2 clients get a
// GOAWAY and HTTP/1 connections waiting for their next request are
// closed; a request in progress ends with Connection: close.
func (b *Balancer) stopIdleHTTP() {
	b.mu.Lock()
	var fronts []*httpFront
	for s := range b.sessions {
		s.mu.Lock()
		if s.http != nil {
			fronts = append(fronts, s.http)
		}
		s.mu.Unlock()
	}
	b.mu.Unlock()
	for _, hf := range fronts {
		hf.stopping.Store(true)
		if !hf.h2 {
			_ = hf.xp.Transport.SetReadDeadline(time.Unix(1, 0))
			hf.idle.Wake()
			continue
		}
		if sd, ok := hf.m.(interface{ Shutdown(context.Context) error }); ok {
			go func() { _ = sd.Shutdown(hf.s.b.ctx) }()
		}
	}
}

// accept waits for the next HTTP/1 request. It bounds the wait with
// timeout http-request for the first request and timeout http-keep-alive
// (else http-request) for the next ones, answering 408 to a client that
// started a request and did not finish its head in time, as HAProxy does.
// A wait that lasts idleHandOff with nothing received goes on in the
// idle poller or on a new goroutine (resume), and accept returns
// errHandOff.
func (hf *httpFront) accept() (mux.Stream, error) {
	to := hf.s.fe.cfg.Timeouts
	resumed, start := hf.resumed, hf.waitStart
	if resumed {
		hf.resumed = false // the hand-off set the deadline
	} else {
		start = time.Now()
	}
	hf.waitStart = start
	until := hf.waitUntil(start)
	handOff := false
	if !resumed {
		deadline := until
		if first := start.Add(idleHandOff); until.IsZero() || first.Before(until) {
			deadline, handOff = first, true
		}
		_ = hf.xp.Transport.SetReadDeadline(deadline)
	}
	// No context: cancelling one costs an allocation per request, and
	// stopping the balancer closes the socket anyway.
	if hf.stopping.Load() {
		return nil, ErrClosed
	}
	st, err := hf.m.Accept(context.Background())
	if errors.Is(err, h1.ErrH2Preface) {
		return nil, hf.upgradeH2()
	}
	if err != nil && handOff && errors.Is(err, os.ErrDeadlineExceeded) && hf.m.AvailStreams() > 0 && hf.s.b.ctx.Err() == nil {
		// The deadline goes back before stopping is read, so a soft
		// stop's past deadline, set after its flag, is not undone.
		_ = hf.xp.Transport.SetReadDeadline(until)
		if hf.stopping.Load() {
			return nil, ErrClosed
		}
		if !hf.partial() {
			hf.handOff(start, until)
			return nil, errHandOff
		}
		// A head begun: its end is waited for here, within the bound.
		st, err = hf.m.Accept(context.Background())
	}
	if err == nil {
		if c := to.Client; c > 0 {
			_ = hf.xp.Transport.SetReadDeadline(time.Now().Add(c))
		} else {
			_ = hf.xp.Transport.SetReadDeadline(time.Time{})
		}
		return st, nil
	}
	started := hf.partial()
	if hf.stopping.Load() {
		return nil, err // soft stop: an idle connection closes quietly
	}
	if hf.s.b.ctx.Err() != nil {
		return nil, err
	}
	aborted := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
	if !started && hf.nreq == 0 && hf.s.fe.cfg.Options.IgnoreProbes {
		// option http-ignore-probes: a connection that brought nothing,
		// closed or timed out, is neither logged nor counted, nor sent
		// a 408, as in HAProxy.
		return nil, err
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && (started || hf.nreq == 0):
		hf.timeoutAnswer(start, started)
	case aborted && (started || hf.nreq == 0):
		// As HAProxy, a client that leaves before a whole first request,
		// or in the middle of a later one, is a bad request it aborted:
		// CR, counted as a 400, and logged unless it sent nothing under
		// dontlognull.
		hf.logBadRequest(start, 400, [2]byte{'C', 'R'}, !started && hf.s.fe.cfg.Options.DontLogNull)
	case started:
		// A refused request (the mux answered it) still gets its line.
		hf.logRefused(start, err)
	}
	return nil, err
}

// upgradeH2 hands a client that opened with HTTP/2's connection preface
// over to an HTTP/2 mux, the bytes the HTTP/1 one read going first, as
// HAProxy upgrades such a connection (option disable-h2-upgrade keeps
// HTTP/1). It returns errHandOff: the connection's streams go on on
// goroutines of their own, as those of one that negotiated HTTP/2.
func (hf *httpFront) upgradeH2() error {
	pre := hf.m.(*h1.Mux).Unread()
	t := hf.xp.Transport
	_ = t.SetReadDeadline(time.Time{})
	m, err := h2.New(&replayXprt{Transport: t, pre: pre}, mux.SideFront, hf.s.b.h2Config())
	if err != nil {
		return err
	}
	hf.m, hf.h2, hf.h2c = m, true, &h2Front{}
	go hf.resume()
	return errHandOff
}

// replayXprt reads the bytes another reader took from the transport
// first, then the transport. It offers no raw socket, whose reads would
// pass them by.
type replayXprt struct {
	xprt.Transport
	pre []byte
}

func (r *replayXprt) Read(p []byte) (int, error) {
	if len(r.pre) > 0 {
		n := copy(p, r.pre)
		r.pre = r.pre[n:]
		return n, nil
	}
	return r.Transport.Read(p)
}

// Raw reports no socket: see replayXprt.
func (r *replayXprt) Raw() (syscall.RawConn, bool) { return nil, false }

// waitUntil is the end of a wait for a request begun at start, the zero
// time when nothing bounds it: timeout http-request for the first
// request, timeout http-keep-alive (else http-request) for the next
// ones, else timeout client.
func (hf *httpFront) waitUntil(start time.Time) time.Time {
	to := hf.s.fe.cfg.Timeouts
	wait := to.HTTPRequest
	if hf.nreq > 0 && to.HTTPKeepAlive > 0 {
		wait = to.HTTPKeepAlive
	}
	if wait == 0 {
		wait = to.Client
	}
	if wait <= 0 {
		return time.Time{}
	}
	return start.Add(wait)
}

// handOff lets the goroutine that served the connection's requests go
// while it waits for the next one, from start until until (the zero
// time: no bound): the wait goes on in the idle poller, with no
// goroutine, or else on a new goroutine whose stack starts small
// (resume). Once handOff returns, another goroutine may own hf.
func (hf *httpFront) handOff(start, until time.Time) {
	if hf.own != nil && hf.own.srv.reuse() != reusePolicyNew {
		// As HAProxy's idle server connections, the server connection
		// goes to its server's list rather than wait with an idle
		// client; under http-reuse never it stays the client's own.
		hf.release(hf.own)
		hf.own = nil
	}
	hf.waitStart, hf.resumed = start, true
	hf.s.b.httpHandOffs.Add(1)
	// What the mux keeps for the next exchange is made again when it
	// comes: an idle connection holds only its own state.
	if tm, ok := hf.m.(interface{ Trim() }); ok {
		tm.Trim()
	}
	rc := hf.idleSocket()
	if rc != nil {
		// The callback is made for each wait rather than kept: the
		// connection holds it only while it waits.
		if hf.idle.Wait(rc, until, hf.resume) == nil {
			// A soft stop whose Wake came before Wait began must still
			// end the wait; Wake is an atomic step on idle, harmless
			// once resume runs.
			if hf.stopping.Load() {
				hf.idle.Wake()
			}
			return
		}
	}
	go hf.resumeAfter(rc)
}

// timeoutAnswer sends 408 on a request head that did not arrive in time
// and logs it with termination state cR.
func (hf *httpFront) timeoutAnswer(start time.Time, started bool) {
	t := hf.xp.Transport
	_ = t.SetReadDeadline(time.Time{})
	_ = t.SetWriteDeadline(time.Now().Add(time.Second))
	raw := hf.s.fe.http.errorFile(nil, 408)
	_, _ = t.Write(raw)
	l := hf.newLog(start)
	l.status, l.bytesOut, l.term = 408, int64(len(raw)), [2]byte{'c', 'R'}
	hf.s.fe.st.reqErr.Add(1)
	hf.s.fe.st.status(408)
	l.tr = time.Since(start)
	l.reqLine = append(l.reqLine[:0], "<BADREQ>"...)
	hf.emitLog(&l, nil)
}

func (hf *httpFront) logRefused(start time.Time, err error) {
	status := 400
	var se interface{ StatusCode() int }
	if errors.As(err, &se) {
		status = se.StatusCode()
	}
	hf.logBadRequest(start, status, [2]byte{'P', 'R'}, false)
}

// logBadRequest counts and logs a request that never came whole: a
// request error and a request, of status status (400 by default), with
// no request time (TR -1) and "<BADREQ>" for its line, as HAProxy logs
// them; quiet counts it without a line.
func (hf *httpFront) logBadRequest(start time.Time, status int, term [2]byte, quiet bool) {
	l := hf.newLog(start)
	l.status, l.term = status, term
	// The wait was all idle, as HAProxy counts it: %Ti and %Tt.
	l.ti = time.Since(start)
	l.date = start.Add(l.ti)
	if hf.nreq == 0 {
		l.th = hf.s.handshake
	}
	fe := hf.s.fe
	fe.st.request()
	fe.st.reqErr.Add(1)
	fe.st.status(l.status)
	l.tr = -1
	l.reqLine = append(l.reqLine[:0], "<BADREQ>"...)
	if !quiet {
		hf.emitLog(&l, nil)
	}
}

// reuse is the server's http-reuse policy: its backend's, or "never"
// for a server that maps ports, whose connections each go to the port
// one client connected to.
func (s *Server) reuse() string {
	if s.cfg.MapPorts {
		return reusePolicyNew
	}
	return s.be.http.reuse
}

// destTo is, for a server at 0.0.0.0 or :: (config.AnyHost), the
// address a client whose destination is dst has it connect to; the zero
// Addr for a server with an address of its own.
func (s *Server) destTo(dst netip.AddrPort) netip.Addr {
	if !config.AnyHost(s.address()) {
		return netip.Addr{}
	}
	return dst.Addr().Unmap()
}

// release gives a server connection back after an exchange: to the
// server's kept connections under http-reuse safe or always, closed under
// never or when it cannot carry another request.
func (hf *httpFront) release(bc *backConn) {
	if bc.h2 {
		return
	}
	if bc.srv.reuse() == reusePolicyNew {
		bc.closeIdle()
		return
	}
	bc.srv.conns.put(bc, time.Now())
}

// exchange is one request and its response.
type exchange struct {
	// serveFn is serveAsync, bound once for the exchange's life in the
	// pool, so that handing a stream to a worker allocates nothing.
	serveFn func()
	// luaPriv is what the exchange's scripts keep (txn:set_priv).
	luaPriv any
	hf      *httpFront
	fst     mux.HTTPStream
	req     *htx.Message
	resp    htx.Message
	buf     []byte
	tmp     []byte
	be      *Backend
	bhp     *httpProxy
	srv     *Server
	bc      *backConn
	bst     mux.HTTPStream
	mode    config.ConnMode
	// first is the client connection's first request, which http-reuse
	// safe sends on a connection of its own.
	first bool
	// closeBack says a tcp-response close let the response go on: the
	// server's connection is not kept for another request.
	closeBack bool
	log       httpLog
	body      chan error // the request body copy's outcome, when one runs
	// bodyAsync says a goroutine copies the request body to ex.body.
	bodyAsync bool
	// unchecked says the HTTP/1 server connection was kept from an
	// earlier exchange and not probed: a response that does not come may
	// be a connection the server closed meanwhile.
	unchecked bool
	cerr      error // a client-side failure while copying the request body
	// inResp says the response rules run: the status fetch reads resp.
	inResp bool
	// src and dst are the addresses of this request: the connection's,
	// or those "http-request set-src", "set-dst" and their port forms
	// gave it.
	src, dst netip.AddrPort
	// uid is the request's unique ID once made ("": not yet).
	uid string
	// stuck is the server a stick table named for the request, nil for
	// none.
	stuck *Server
	// forcePrst and ignorePrst are the force-persist or ignore-persist
	// rule that applies to the request.
	forcePrst, ignorePrst bool
	// direct is the server the persistence cookie named, nil when the
	// algorithm chooses; useSrv the one a use-server rule named, which
	// comes first. Either makes the access direct (no cookie inserted).
	direct, useSrv *Server
	// bodyIn counts the request body's bytes, for the statistics; the
	// body is copied on a goroutine of its own.
	bodyIn atomic.Int64
	// comp is the compression algorithm the client and the
	// configuration agree on, "" for none (compress.go).
	comp string
	// noL7Retry is set by http-request disable-l7-retry.
	noL7Retry bool
	// tmo are the timeouts http-request set-timeout gave the exchange.
	tmo streamTimeouts
	// held tells the request body, or its start, was read into
	// heldBody before the request went on (holdBody); heldAll that it
	// holds the whole body, which a layer-7 retry can send again.
	held, heldAll bool
	heldBody      []byte
	// respHeld is the start of the response's body an http-response
	// wait-for-body held (respHeldOK), sent before the rest; respEOF
	// tells it is the whole body.
	respHeld            []byte
	respOff             int // how much of respHeld went on
	respHeldOK, respEOF bool
	// key is the request's part the backend's algorithm hashes, nil for
	// none.
	key []byte
	// vars are the variables of scopes txn, req and res, made on first
	// use and emptied for the next exchange.
	vars *varStore
	// strk holds the request's stick counters (http_track.go).
	strk reqTrack
	// respAnswer is the answer an http-response deny, return or
	// redirect puts in the place of the server's.
	respAnswer *localAnswer
	// respDrop is the http-response silent-drop rule that fired, if any.
	respDrop *httpRule
	// lastRule is the last allow, deny or tarpit rule that matched
	// (last_rule_file, last_rule_line), nil for none.
	lastRule *config.HTTPRule
	// prio is the request's place in the queues (set-priority-class,
	// set-priority-offset).
	prio Priority
	// sni is the SNI a connection to srv sends for this request when
	// sniSet (dynamicSNI), worked out by openStream.
	sni    string
	sniSet bool
	// ckLast and ckFirst are the dates the persistence cookie carried
	// (maxidle, maxlife), Unix seconds, 0 for none.
	ckLast, ckFirst int64
	// ctxn is what cache-use learnt of the request; chit the stored
	// response it found (chitName its cache's name), served in place of
	// a server's; fromCache the name of the cache that answered, "" when
	// a server did; cstore the response cache-store keeps (cache.go).
	// hint is the 103 response early-hint sends.
	hint      htx.Message
	ctxn      httpcache.Txn
	chit      *httpcache.Hit
	chitName  string
	chitAt    time.Time // when cache-use found chit, the date its Age counts to
	fromCache string
	cstore    *httpcache.Pending
	// lastBack is the server connection the exchange last used, which
	// the bc_* fetches of its log line still read once it is let go.
	lastBack *backConn
	// backErr is why the last server connection could not be made, for
	// bc_err; nil once one is. backTLS tells that server spoke TLS.
	backErr error
	backTLS bool
	// loggedASAP tells option logasap wrote the request's line when the
	// server's response head went on (compat.go).
	loggedASAP bool
	// spoe is the request's SPOE state, begun (spoeOn) when an engine
	// first runs.
	spoe   spoeStream
	spoeOn bool
}

func (ex *exchange) start(hf *httpFront, st mux.HTTPStream) {
	ex.hf, ex.fst, ex.req = hf, st, st.Request()
	ex.first = hf.nreq == 1
	ex.be, ex.bhp, ex.srv, ex.bc, ex.bst, ex.cerr, ex.lastBack, ex.backErr = nil, nil, nil, nil, nil, nil, nil, nil
	ex.inResp, ex.direct, ex.useSrv, ex.comp, ex.noL7Retry, ex.key, ex.held, ex.heldAll = false, nil, nil, "", false, nil, false, false
	ex.uid, ex.stuck, ex.forcePrst, ex.ignorePrst = "", nil, false, false
	ex.ctxn.Reset()
	ex.chit, ex.chitName, ex.fromCache, ex.cstore, ex.respAnswer, ex.prio = nil, "", "", nil, nil, Priority{}
	ex.respDrop, ex.closeBack = nil, false
	ex.respHeld, ex.respHeldOK, ex.respEOF, ex.respOff = ex.respHeld[:0], false, false, 0
	ex.ckLast, ex.ckFirst, ex.lastRule = 0, 0, nil
	ex.loggedASAP, ex.spoeOn = false, false
	ex.src, ex.dst = hf.src(), hf.dst()
	ex.bodyIn.Store(0)
	ex.tmo = streamTimeouts{}
	if ex.vars != nil {
		clear(ex.vars.m)
	}
	now := time.Now()
	// An HTTP/1 request counts from its head's first byte, as HAProxy
	// counts it: TR runs from there to the head's end, the idle time up
	// to there.
	date, end := now, now
	if ht, ok := st.(interface{ HeadTimes() (time.Time, time.Time) }); ok {
		if s, e := ht.HeadTimes(); !s.IsZero() && !e.Before(s) && !now.Before(e) {
			date, end = s, e
		}
	}
	ex.log = hf.newLogInto(ex.log, date)
	ex.log.tr = end.Sub(date)
	if hf.nreq == 1 {
		ex.log.th = hf.s.handshake
	}
	if !hf.h2 && !hf.waitStart.IsZero() && date.After(hf.waitStart) {
		ex.log.ti = date.Sub(hf.waitStart)
	}
}

// serveAsync serves one stream of a multiplexed connection.
func (ex *exchange) serveAsync() {
	hf := ex.hf
	defer hf.h2c.wg.Done()
	ex.serve()
	ex.finish()
}

func (ex *exchange) finish() {
	_ = ex.fst.Close()
	ex.hf, ex.fst, ex.req, ex.be, ex.bhp, ex.srv, ex.bc, ex.bst, ex.direct, ex.useSrv, ex.stuck = nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil
	ex.lastBack, ex.luaPriv = nil, nil
	exchangePool.Put(ex)
}

// Src and Dst make the exchange an ACL context.
func (ex *exchange) Src() netip.AddrPort { return ex.src }

// Dst is the address the client connected to.
func (ex *exchange) Dst() netip.AddrPort { return ex.dst }

// HTTPRequest is the request the HTTP fetches read.
func (ex *exchange) HTTPRequest() *htx.Message { return ex.req }

// HTTPResponse is the server's response while the response rules run,
// nil before.
func (ex *exchange) HTTPResponse() *htx.Message {
	if !ex.inResp {
		return nil
	}
	return &ex.resp
}

// TLSInfo is the client connection's TLS state, for ssl_fc and
// ssl_fc_sni.
func (ex *exchange) TLSInfo() xprt.Info { return ex.hf.tlsInfo() }

func (ex *exchange) serve() {
	hf := ex.hf
	fe := hf.s.fe
	l := &ex.log
	l.setRequestLine(ex.req)
	// Counted as it came, before any rule changes it, as HAProxy counts.
	l.bytesIn = htxRequestSize(ex.req, l.reqLine)
	ex.beginTracking()
	if caps := fe.cfg.HTTP.CaptureRequest; len(caps) > 0 {
		l.capReq = captureFields(l.capReq, caps, ex.req)
	}
	if cc := fe.cfg.HTTP.CaptureCookie; cc != nil {
		l.cc = captureCookie(ex.req, "Cookie", cc)
	}
	// A request counts as it comes in, as in HAProxy, so that a page of
	// statistics answering it counts it already.
	fe.st.request()
	// monitor-uri: answered here, before any rule, and never logged.
	if m := fe.cfg.HTTP.MonitorURI; m != "" && string(ex.req.Path()) == m {
		l.term = [2]byte{'L', 'R'}
		fe.st.intercept.Add(1)
		status := 200
		for _, c := range fe.cfg.HTTP.MonitorFail {
			if c.Eval(ex) {
				status = 503 // monitor fail
				break
			}
		}
		fe.st.status(status)
		ex.answer(fe.http.answerFor(nil, status))
		return
	}
	defer func() {
		if ex.chit != nil {
			ex.chit.Release() // found, but a later rule answered
			ex.chit = nil
		}
		ex.cstore = nil
		l.ta = time.Since(l.date)
		ex.countRequest()
		ex.trackBytes()
		l.bodyIn = ex.bodyIn.Load()
		if !ex.loggedASAP {
			hf.emitLog(l, ex)
		}
		ex.releaseTracking()
	}()

	// Frontend rules, then the backend choice, then the backend's rules.
	if ex.applyContentRules(hf.s.fe.http, true) || !ex.bufferRequest(fe.cfg) || ex.applyRequestRules(hf.s.fe.http) || ex.restrictNames(hf.s.fe.http, nil) || ex.statsPage(fe.cfg) {
		return
	}
	ex.be = hf.pickBackend(ex)
	if ex.be == nil {
		ex.answerError(hf.s.fe.http, 503, [2]byte{'S', 'C'})
		return
	}
	if ex.be.cfg.Mode != "http" {
		// A later request of an upgraded TCP frontend's connection
		// whose rules chose a TCP backend: HAProxy closes the
		// connection, logging the backend without a server, IR.
		l.be, l.backend = ex.be, ex.be.cfg.Name
		l.term = [2]byte{'I', 'R'}
		_ = hf.s.client.Close()
		return
	}
	ex.be.st.session(l.date)
	l.be = ex.be
	ex.bhp = ex.be.http
	l.backend = ex.be.cfg.Name
	if ex.bhp != hf.s.fe.http && (ex.applyContentRules(ex.bhp, false) || !ex.bufferRequest(ex.be.cfg) || ex.applyRequestRules(ex.bhp) || ex.restrictNames(ex.bhp, ex.bhp) || ex.statsPage(ex.be.cfg)) {
		return
	}
	ex.addUniqueIDHeader()
	ex.addForwardFor()
	ex.addOriginalTo()
	ex.selectCompression()
	ex.mode = max(fe.cfg.HTTP.ConnMode, ex.be.cfg.HTTP.ConnMode)
	if ex.mode != config.ConnKeepAlive {
		ex.req.Flags |= htx.FlagClose
	} else {
		// A client's close is the front connection's business (its
		// stream kept the request's flags): the server connection stays
		// open for the next request, as in HAProxy.
		ex.req.Flags &^= htx.FlagClose
	}
	ex.pretendKeepAlive()
	keepTrailers(ex.req)
	if len(ex.be.cfg.PersistRules) > 0 {
		ex.forcePrst, ex.ignorePrst = ex.be.persistRule(ex)
	}
	if c := ex.be.cfg.Cookie; c != nil {
		// ignore-persist: the cookie is read (and taken out under
		// indirect) but not followed.
		if d := ex.requestCookie(c, ex.forcePrst); !ex.ignorePrst {
			ex.direct = d
		}
	}
	// use-server rules come before the cookie's server, as in haproxy.
	if len(ex.be.useSrv) > 0 {
		ex.useSrv = ex.be.useServer(ex, ex.forcePrst)
	}

	if ex.chit != nil {
		ex.serveCached()
		return
	}
	if !ex.retryHold() || !ex.connect() {
		return
	}
	defer ex.releaseServer()
	ex.spoeEvent(false, "on-server-session")
	for {
		if !ex.sendRequest() {
			return
		}
		if retry := ex.forwardResponse(); !retry || !ex.retryRequest() {
			return
		}
	}
}

var (
	xffName = []byte("X-Forwarded-For")
	xotName = []byte("X-Original-To")
)

// addForwardFor adds X-Forwarded-For as option forwardfor asks in the
// frontend or the backend: the field name is the backend's, else the
// frontend's; with if-none on both sides that set the option, none is
// added when the request has one; and none for a client in either
// side's except network.
func (ex *exchange) addForwardFor() {
	fe, be := &ex.hf.s.fe.cfg.HTTP, &ex.be.cfg.HTTP
	if !fe.ForwardFor && !be.ForwardFor {
		return
	}
	name := xffName
	switch {
	case be.ForwardForHeader != "":
		name = ex.bhp.xffName
	case fe.ForwardForHeader != "":
		name = ex.hf.s.fe.http.xffName
	}
	always := fe.ForwardFor && !fe.ForwardForIfNone || be.ForwardFor && !be.ForwardForIfNone
	if !always && ex.req.Count(string(name)) > 0 {
		return
	}
	src := ex.src.Addr().Unmap()
	if fe.ForwardForExcept.Contains(src) || be.ForwardForExcept.Contains(src) {
		return
	}
	ex.tmp = src.AppendTo(ex.tmp[:0])
	ex.req.AddBytes(name, ex.tmp)
}

// addOriginalTo adds X-Original-To, the address the client connected
// to, as option originalto asks, unless it is in an except network.
func (ex *exchange) addOriginalTo() {
	fe, be := &ex.hf.s.fe.cfg.HTTP, &ex.be.cfg.HTTP
	if !fe.OriginalTo && !be.OriginalTo {
		return
	}
	name := xotName
	switch {
	case be.OriginalToHeader != "":
		name = ex.bhp.xotName
	case fe.OriginalToHeader != "":
		name = ex.hf.s.fe.http.xotName
	}
	dst := ex.dst.Addr().Unmap()
	if !dst.IsValid() || fe.OriginalToExcept.Contains(dst) || be.OriginalToExcept.Contains(dst) {
		return
	}
	ex.tmp = dst.AppendTo(ex.tmp[:0])
	ex.req.AddBytes(name, ex.tmp)
}

// pickBackend runs the use_backend rules, then default_backend.
func (hf *httpFront) pickBackend(ex *exchange) *Backend {
	if hf.s.fe.cfg.Mode != "http" && hf.nreq == 1 && !hf.s.switched() {
		// A TCP frontend's connection upgraded to HTTP: its first
		// request goes where the frontend's rules sent the connection;
		// the next ones run its use_backend rules again, as in HAProxy.
		return hf.s.be
	}
	for i := range hf.s.fe.http.useBackends {
		u := &hf.s.fe.http.useBackends[i]
		if !u.cond.Eval(ex) {
			continue
		}
		if u.dyn == nil {
			return u.be
		}
		// A name that names no backend leaves the default one.
		var be *Backend
		if be, ex.tmp = hf.s.b.dynamicBackend(u.dyn, ex, ex.tmp, "http"); be != nil {
			return be
		}
		break
	}
	return hf.s.fe.backend
}

// connect gets a server (waiting in a queue if they are full) and a
// stream on a connection to it.
func (ex *exchange) connect() bool {
	ex.key = ex.be.requestKey(ex.req)
	if ex.key == nil && ex.be.cfg.HTTP.BalanceCheckPost && ex.req.MethodIs("POST") {
		// balance url_param ... check_post: the body, up to a buffer.
		g := &ex.hf.s.b.cfg.Global
		if !ex.holdBody(g.BufSize-rewriteReserve(g), 0) {
			return false
		}
		if v, ok := acl.FormParam(ex.heldBody, ex.be.cfg.HTTP.BalanceArg); ok && len(v) > 0 {
			ex.key = v
		}
	}
	if !ex.getServer(nil) || !ex.open() {
		return false
	}
	ex.stickStore(false)
	return true
}

// stickStore stores the server the request went to under the backend's
// stick rules' keys (stick on, stick store-request), or with response
// set, under the store-response rules' keys, read from the response.
func (ex *exchange) stickStore(response bool) {
	if be := ex.be; len(be.stick) > 0 {
		be.stickStore(ex, ex.hf.s.b.tables, ex.srv, response, ex.hf.s.b.log.Debug)
	}
}

// getServer has the backend assign a server other than avoid: the
// persistence's own one unless avoid is set, else the algorithm's
// choice, waiting in a queue when they are full. On failure the answer
// is sent.
func (ex *exchange) getServer(avoid *Server) bool {
	hf, be, l := ex.hf, ex.be, &ex.log
	var direct *Server
	if avoid == nil {
		direct = ex.useSrv
		if direct == nil {
			direct = ex.direct
		}
		if direct == nil && len(be.stick) > 0 {
			// Stick tables, after use-server and the cookie, as in
			// haproxy; the server they name makes the access direct.
			ex.stuck = be.stickMatch(ex, hf.s.b.tables, ex.forcePrst)
			direct = ex.stuck
		}
		if direct == nil {
			direct = ex.lastServer()
		}
	}
	a, err := be.assign(hf.s.b.ctx, ex.src.Addr(), ex.key, avoid, direct, ex.forcePrst && direct != nil, ex.goneCheck(), ex.prio)
	// No server at all leaves Tw at -1, as in HAProxy, unless the
	// request waited in a queue first.
	l.twSet = l.twSet || a.queued || !(errors.Is(err, ErrNoServer) || errors.Is(err, ErrQueueFull))
	if a.queued {
		l.tw += a.waited
		l.srvQueue, l.beQueue = a.srvQueue, a.beQueue
	}
	if err != nil {
		switch {
		case errors.Is(err, ErrQueueTimeout):
			if a.srv != nil {
				l.server = a.srv.cfg.Name
			}
			ex.answerError(ex.bhp, 503, [2]byte{'s', 'Q'})
		case errors.Is(err, ErrNoServer):
			ex.answerError(ex.bhp, 503, [2]byte{'S', 'C'})
		case errors.Is(err, ErrQueueFull):
			l.server = a.srv.cfg.Name
			ex.answerError(ex.bhp, 503, [2]byte{'S', 'Q'})
		case errors.Is(err, ErrClientGone):
			// Dropped without an answer, as HAProxy drops it.
			if a.srv != nil {
				l.server = a.srv.cfg.Name
			}
			l.term = [2]byte{'C', 'Q'}
		default:
			l.term = [2]byte{'K', 'Q'}
		}
		return false
	}
	ex.srv = a.srv
	l.server = ex.srv.cfg.Name
	l.srv = a.srv
	return true
}

// goneCheck is how a waiting request finds its client gone under option
// abortonclose (nil without it): an HTTP/1 client that closed its side.
// An HTTP/2 client's other streams keep its connection open.
func (ex *exchange) goneCheck() func() bool {
	if !ex.be.cfg.Options.AbortOnClose || ex.hf.h2 {
		return nil
	}
	return ex.clientClosed
}

// clientClosed tells the client closed its side of the connection.
func (ex *exchange) clientClosed() bool {
	closed, _ := ex.hf.s.client.PeerClosed()
	return closed
}

// open opens a stream to the assigned server, retrying failed connects
// as HAProxy does (Backend.retryPlan) when retry-on has conn-failure,
// within the retries the request has left.
func (ex *exchange) open() bool {
	hf, be, l := ex.hf, ex.be, &ex.log
	start := time.Now()
	gone := ex.goneCheck()
	for {
		if gone != nil && gone() {
			// abortonclose: the client left before the connection was
			// made, which HAProxy logs CC.
			l.term = [2]byte{'C', 'C'}
			ex.releaseServer()
			return false
		}
		ex.srv.st.session(start)
		err := ex.openStream()
		if err == nil {
			l.tcSet, l.tc = true, time.Since(start)
			return true
		}
		hf.s.b.log.Debug("connect failed", "backend", be.cfg.Name, "server", ex.srv.cfg.Name, "retries", l.retries, "err", err)
		if hf.s.b.ctx.Err() != nil {
			l.term = [2]byte{'K', 'C'}
			ex.releaseServer()
			return false
		}
		timedOut := connectTimedOut(err)
		if l.retries >= be.cfg.Retries || be.cfg.RetryOn&config.RetryConnFailure == 0 {
			term := [2]byte{'S', 'C'}
			if timedOut {
				term = [2]byte{'s', 'C'}
			}
			ex.releaseServer()
			ex.answerError(ex.bhp, 503, term)
			return false
		}
		if !ex.retryOn(timedOut, true, start) {
			return false
		}
		start = time.Now()
	}
}

// retryOn counts a retry of the request and chooses where it goes: the
// same server, or, under option redispatch, another one the algorithm
// picks (Backend.retryPlan); after a failed connect, a turn-around may
// come first. since is when the attempt that failed began. It reports
// false when the request ended meanwhile.
func (ex *exchange) retryOn(timedOut, connFailed bool, since time.Time) bool {
	hf, be, l := ex.hf, ex.be, &ex.log
	l.retries++
	failed := ex.srv
	direct := ex.direct != nil && ex.srv == ex.direct || ex.useSrv != nil && ex.srv == ex.useSrv || ex.stuck != nil && ex.srv == ex.stuck
	move, wait := be.retryPlan(ex.srv, l.retries, direct, timedOut)
	if move {
		ex.releaseServer()
	}
	if connFailed && wait && !be.turnAround(hf.s.b.ctx) {
		ex.releaseServer()
		l.term = [2]byte{'K', 'C'}
		return false
	}
	if move {
		// As with HAProxy, the time spent before a new assignment is
		// waiting (Tw).
		l.tw += time.Since(since)
		if !ex.getServer(failed) {
			return false
		}
		if ex.srv != failed {
			l.redisp = true
			ex.direct, ex.useSrv, ex.stuck = nil, nil, nil // a server the algorithm chose: insert mode sets the cookie
		}
	}
	countRetry(be, failed, ex.srv != failed)
	return true
}

func (ex *exchange) releaseServer() {
	if ex.srv != nil {
		ex.srv.be.release(ex.srv)
		ex.srv = nil
	}
}

// openStream finds a connection to ex.srv and opens a stream on it: the
// client's own connection when it is to that server, else a kept one
// (http-reuse safe takes kept connections only after a client's first
// request; always from the first), else a new one.
func (ex *exchange) openStream() error {
	hf, srv := ex.hf, ex.srv
	reuse := srv.reuse()
	now := time.Now()
	var bc *backConn
	resend := resendable(ex.req)
	ex.unchecked = false
	// A connection sent the SNI this request's would, or none changes
	// with the client: kept connections are shared only between those,
	// as in HAProxy.
	ex.sni, ex.sniSet = dynamicSNI(srv, ex, ex.hf.tlsInfo())
	sni, to := ex.sni, srv.destTo(ex.dst)
	if own := hf.own; own != nil && !hf.h2 {
		hf.own = nil
		if own.srv == srv && own.sni == sni && own.to == to && own.m.AvailStreams() > 0 {
			bc, ex.unchecked = own, true
		} else {
			hf.release(own)
		}
	}
	if bc == nil && reuse != reusePolicyNew && (reuse != "safe" || !ex.first || hf.h2) {
		if bc = srv.conns.take(now, !resend, sni, to); bc != nil && !bc.h2 {
			ex.unchecked = resend
		}
	}
	if bc != nil {
		srv.st.reuses.Add(1)
		ex.be.st.reuses.Add(1)
	}
	for attempt := 0; ; attempt++ {
		if bc == nil {
			srv.st.connects.Add(1)
			ex.be.st.connects.Add(1)
			var err error
			bc, err = hf.s.b.dialBack(hf.s.b.ctx, srv, ex.src, ex.dst, ex.ppFacts())
			ex.backErr, ex.backTLS = err, srv.cfg.SSL.Enabled
			if err != nil {
				return err
			}
			if bc.h2 && reuse != reusePolicyNew && !srv.conns.share(bc) {
				bc.close()
				return ErrClosed
			}
		}
		st, err := bc.m.Open(hf.s.b.ctx)
		if err == nil {
			hs, ok := st.(mux.HTTPStream)
			if !ok {
				_ = st.Close()
				ex.dropConn(bc)
				return errors.New("server mux yields no HTTP stream")
			}
			bc.uses.Add(1)
			ex.bc, ex.bst = bc, hs
			ex.noteBackSource()
			ex.setServerDeadline()
			return nil
		}
		ex.dropConn(bc)
		bc = nil
		if attempt > 0 {
			return err
		}
	}
}

// resendable reports whether a request may go again on a new connection
// after a kept one ended without a byte of response: an idempotent method
// without a body, which the server cannot have acted on twice.
func resendable(req *htx.Message) bool {
	if hasBody(req) || req.Flags&htx.FlagConnect != 0 {
		return false
	}
	return req.MethodIs("GET") || req.MethodIs("HEAD") || req.MethodIs("OPTIONS")
}

// resendAfterStale sends the request again on a new connection when the
// kept connection it went on ended (closed or reset) before a byte of
// response came: the server had closed it while idle. It reports whether
// the request went again; on false ex.bc is left as it was.
func (ex *exchange) resendAfterStale(err error) bool {
	if !ex.unchecked || ex.bc == nil || ex.bc.h2 || errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	ex.unchecked = false
	if p, ok := ex.bc.m.(interface{ Partial() bool }); ok && p.Partial() {
		return false
	}
	_ = ex.bst.Close()
	ex.bc.close()
	ex.bc, ex.bst = nil, nil
	ex.log.retries++
	countRetry(ex.be, ex.srv, false)
	if ex.reopen() != nil {
		return false
	}
	if ex.bst.WriteRequest(ex.req) != nil {
		ex.failBack()
		return false
	}
	return true
}

func (ex *exchange) dropConn(bc *backConn) {
	if bc.h2 {
		bc.srv.conns.drop(bc)
		return
	}
	bc.close()
}

// setServerDeadline bounds the server's silence by timeout server. HTTP/2
// connections are shared, so their streams are bounded by the exchange's
// own reads instead (see forwardResponse).
func (ex *exchange) setServerDeadline() {
	if ex.bc.h2 {
		return
	}
	if t := ex.serverTimeout(); t > 0 {
		_ = ex.bc.c.Transport().SetDeadline(time.Now().Add(t))
	}
}

// keepTrailers makes a message announcing trailers go chunked to an
// HTTP/1 peer: an HTTP/2 sender may give a length as well, and HTTP/1
// only carries trailers after a chunked body.
func keepTrailers(m *htx.Message) {
	if m.Flags&htx.FlagContentLength == 0 || m.Flags&htx.FlagBodyless != 0 || m.ContentLength == 0 {
		return
	}
	if _, ok := m.Get("Trailer"); ok {
		m.Flags &^= htx.FlagContentLength
	}
}

// hasBody reports whether an incoming message carries a body to copy.
func hasBody(m *htx.Message) bool {
	if m.Flags&htx.FlagBodyless != 0 {
		return false
	}
	return m.Flags&htx.FlagContentLength == 0 || m.ContentLength > 0
}

// holdBody reads the request's body, or as much of it as limit allows,
// before the request goes on: under option http-buffer-request (so that
// the server connection waits for it, as HAProxy's buffering does), and
// when a layer-7 retry may need to send it again (retryHold). The wait
// is bounded by wait (timeout http-request; 0: none), past which the
// client gets a 408 (cR, as HAProxy logs it); a client that fails
// meanwhile ends the request (CD). It reports false when the request
// ended.
func (ex *exchange) holdBody(limit int, wait time.Duration) bool {
	req := ex.req
	if ex.held || req.Flags&htx.FlagConnect != 0 || !hasBody(req) {
		return true
	}
	if cap(ex.heldBody) < limit+1 {
		ex.heldBody = make([]byte, 0, limit+1)
	}
	plain := !ex.hf.h2
	if plain && wait > 0 {
		_ = ex.hf.xp.Transport.SetReadDeadline(time.Now().Add(wait))
	}
	// One byte past the limit tells a body that fits from one that
	// does not without a read that waits for more.
	b := ex.heldBody[:0]
	var err error
	for len(b) <= limit {
		var n int
		n, err = ex.fst.Read(b[len(b) : limit+1])
		b = b[:len(b)+n]
		if err != nil {
			break
		}
	}
	if plain && wait > 0 {
		if c := ex.hf.s.fe.cfg.Timeouts.Client; c > 0 {
			_ = ex.hf.xp.Transport.SetReadDeadline(time.Now().Add(c))
		} else {
			_ = ex.hf.xp.Transport.SetReadDeadline(time.Time{})
		}
	}
	ex.bodyIn.Add(int64(len(b)))
	if err == io.EOF {
		ex.bodyIn.Add(htxEndSize(ex.req))
	}
	ex.heldBody, ex.held, ex.heldAll = b, true, err == io.EOF
	switch {
	case err == nil || err == io.EOF:
		return true
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The body stopped halfway: the 408 goes straight to the
		// socket and the connection closes, as for a head that came
		// too late; HAProxy logs it cR.
		ex.hf.s.fe.st.reqErr.Add(1)
		t := ex.hf.xp.Transport
		_ = t.SetReadDeadline(time.Time{})
		_ = t.SetWriteDeadline(time.Now().Add(time.Second))
		raw := ex.hf.s.fe.http.errorFile(nil, 408)
		n, _ := t.Write(raw)
		ex.log.status, ex.log.bytesOut, ex.log.term = 408, int64(n), [2]byte{'c', 'R'}
		_ = ex.hf.s.client.Close()
	default:
		ex.cerr = err
		ex.log.term = [2]byte{'C', 'D'}
	}
	return false
}

// retryHold holds the body for a layer-7 retry: retry-on names such a
// condition, no rule disabled it, and the body's length is known and
// fits a buffer (tune.bufsize), as HAProxy retries only a request it
// holds whole.
func (ex *exchange) retryHold() bool {
	req, size := ex.req, ex.hf.s.b.cfg.Global.BufSize
	if !ex.be.cfg.RetryOn.Layer7() || ex.noL7Retry || req.Flags&htx.FlagContentLength == 0 || req.ContentLength > int64(size) {
		return true
	}
	return ex.holdBody(int(req.ContentLength), 0)
}

// bufferRequest holds the body under option http-buffer-request of px
// (the frontend before its rules, the backend before its own): up to a
// buffer less the rewrite reserve, within px's timeout http-request.
func (ex *exchange) bufferRequest(px *config.Proxy) bool {
	if !px.Options.BufferRequest {
		return true
	}
	g := &ex.hf.s.b.cfg.Global
	return ex.holdBody(g.BufSize-rewriteReserve(g), px.Timeouts.HTTPRequest)
}

// rewriteReserve is the room a buffer keeps for header rewrites:
// tune.maxrewrite, 1024 by default, at most half a buffer, as in HAProxy.
func rewriteReserve(g *config.Global) int {
	r := g.MaxRewrite
	if r == 0 {
		r = 1024
	}
	return min(r, g.BufSize/2)
}

// sendRequest writes the request head and starts copying its body. On a
// kept connection that fails before anything is answered, the request
// goes once more on a new connection, as HAProxy retries on reused
// connections.
func (ex *exchange) sendRequest() bool {
	body := hasBody(ex.req) && ex.req.Flags&htx.FlagConnect == 0
	if name := ex.be.cfg.SendNameHeader; name != "" {
		// The server the request goes to, this time (a retry may pick
		// another), replacing whatever the client sent.
		ex.req.Del(name)
		ex.req.Add(name, ex.srv.cfg.Name)
	}
	for attempt := 0; ; attempt++ {
		err := ex.bst.WriteRequest(ex.req)
		if err == nil {
			break
		}
		used := ex.bc.used
		ex.failBack()
		if attempt > 0 || !used || body {
			ex.answerError(ex.bhp, 502, [2]byte{'S', 'H'})
			return false
		}
		if err := ex.reopen(); err != nil {
			ex.answerError(ex.bhp, 503, [2]byte{'S', 'C'})
			return false
		}
	}
	ex.log.treq = time.Now()
	ex.bodyAsync = false
	if !body {
		return true
	}
	if ex.held {
		// What was held goes first (whole on each layer-7 retry); the
		// rest of a body too large to hold follows as it comes.
		if _, err := ex.bst.Write(ex.heldBody); err != nil {
			ex.failBack()
			ex.answerError(ex.bhp, 502, [2]byte{'S', 'H'})
			return false
		}
		if ex.heldAll {
			if err := ex.bst.Finish(ex.req); err != nil {
				ex.failBack()
				ex.answerError(ex.bhp, 502, [2]byte{'S', 'H'})
				return false
			}
			return true
		}
	}
	if ex.body == nil {
		ex.body = make(chan error, 1)
	}
	ex.bodyAsync = true
	go func() { ex.body <- ex.copyRequestBody() }()
	return true
}

// reopen opens a stream on a brand new connection to the same server.
func (ex *exchange) reopen() error {
	bc, err := ex.hf.s.b.dialBack(ex.hf.s.b.ctx, ex.srv, ex.src, ex.dst, ex.ppFacts())
	ex.backErr, ex.backTLS = err, ex.srv.cfg.SSL.Enabled
	if err != nil {
		return err
	}
	if bc.h2 && ex.srv.reuse() != reusePolicyNew && !ex.srv.conns.share(bc) {
		bc.close()
		return ErrClosed
	}
	st, err := bc.m.Open(ex.hf.s.b.ctx)
	if err != nil {
		ex.dropConn(bc)
		return err
	}
	bc.uses.Add(1)
	ex.bc, ex.bst = bc, st.(mux.HTTPStream)
	ex.noteBackSource()
	ex.setServerDeadline()
	return nil
}

// failBack abandons the server stream and, for HTTP/1, its connection.
func (ex *exchange) failBack() {
	if ex.bst != nil {
		_ = ex.bst.Close()
	}
	if ex.bc != nil && !ex.bc.h2 {
		ex.bc.close()
	}
	ex.bc, ex.bst = nil, nil
}

// copyRequestBody copies the request body and its trailers to the server.
func (ex *exchange) copyRequestBody() error {
	bp := reqBufPool.Get().(*[]byte)
	defer reqBufPool.Put(bp)
	buf := *bp
	for {
		n, err := ex.fst.Read(buf)
		if n > 0 {
			ex.bodyIn.Add(int64(n))
			if _, werr := ex.bst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			ex.bodyIn.Add(htxEndSize(ex.req))
			return ex.bst.Finish(ex.req)
		}
		if err != nil {
			ex.cerr = err
			return err
		}
	}
}

// waitBody waits for the request body copy, if one runs.
func (ex *exchange) waitBody() error {
	if !ex.bodyAsync {
		return nil
	}
	ex.bodyAsync = false
	return <-ex.body
}

// retryRequest sends the request again after a layer-7 retry condition,
// on a new connection to the same server or, under option redispatch,
// to another.
func (ex *exchange) retryRequest() bool {
	failed := ex.srv
	if !ex.retryOn(false, false, ex.log.treq) {
		return false
	}
	if ex.srv == failed {
		// HAProxy 2.6 counts a layer-7 retry on the same server twice
		// (do_l7_retry, then stream_choose_redispatch); the statistics
		// read as its do.
		countRetry(ex.be, failed, false)
	}
	if !ex.open() {
		return false
	}
	if ex.srv != failed {
		ex.stickStore(false)
	}
	return true
}

// l7Retry reports whether cond, what the server's answer (or its lack)
// was, sends the request again: retry-on names it, retries are left, no
// rule disabled it, and the request can go again as it went (no body or
// one held whole, no tunnel).
func (ex *exchange) l7Retry(cond config.RetryOn) bool {
	be := ex.be
	return be.cfg.RetryOn&cond != 0 && cond != 0 && !ex.noL7Retry && ex.log.retries < be.cfg.Retries &&
		(ex.heldAll || !hasBody(ex.req)) && ex.req.Flags&htx.FlagConnect == 0 && ex.cerr == nil && ex.hf.s.b.ctx.Err() == nil
}

// forwardResponse reads the response head (passing interim ones on),
// runs the response rules and copies the response to the client. It
// reports true, with the server's stream abandoned, when the request is
// to go again (retry-on).
func (ex *exchange) forwardResponse() (retry bool) {
	l := &ex.log
	resp := &ex.resp
	// The backend's tcp-response rules come first, as HAProxy's first
	// response analyser (http_content_res.go).
	rh, verdict := ex.startTCPResponse()
	if verdict != "" {
		return ex.endByTCPResponse(rh, verdict, 0, false)
	}
	expiry := ex.watchTCPResponse(rh)
	for {
		resp.Reset()
		err := ex.bst.ReadResponse(resp)
		if rh != nil {
			// The rules decided on expiry, before the head came.
			if ran, verdict := expiry.settle(); ran {
				if verdict != "" {
					return ex.endByTCPResponse(rh, verdict, 0, false)
				}
				rh = nil
			}
		}
		if err != nil && ex.resendAfterStale(err) {
			continue
		}
		if err != nil && ex.bst == nil {
			// The request found its kept connection closed and could
			// not go again.
			ex.answerError(ex.bhp, 502, [2]byte{'S', 'H'})
			return false
		}
		if err != nil {
			ex.srv.observeHTTP(0, err)
			ex.failBackAfterAbort()
			timedOut := errors.Is(err, os.ErrDeadlineExceeded)
			cond := config.RetryEmptyResponse
			switch {
			case timedOut:
				cond = config.RetryResponseTimeout
			case errors.Is(err, h1.ErrMalformed):
				cond = config.RetryJunkResponse
			}
			if ex.l7Retry(cond) {
				if cond == config.RetryJunkResponse {
					// HAProxy counts a junk answer as a failed
					// response even when the request goes again.
					ex.be.st.respErr.Add(1)
					ex.srv.st.respErr.Add(1)
				}
				return true
			}
			switch {
			case ex.cerr != nil: // the client failed while sending its body
				l.term = [2]byte{'C', 'D'}
			case timedOut:
				ex.answerError(ex.bhp, 504, [2]byte{'s', 'H'})
			default:
				ex.answerError(ex.bhp, 502, [2]byte{'S', 'H'})
			}
			return false
		}
		ex.unchecked = false // the server answered on it
		if rh != nil {
			verdict, n := ex.headTCPResponse(rh, htxResponseSize(resp)+bodyCame(ex.bst, resp))
			if verdict != "" && !ex.endByTCPResponse(rh, verdict, n, true) {
				return false
			}
			rh = nil
		}
		ex.srv.observeHTTP(resp.Status, nil)
		if resp.Status >= 200 && ex.l7Retry(config.RetryStatus(resp.Status)) {
			ex.failBackAfterAbort()
			return true
		}
		serverAnswered(ex.srv, resp.Status)
		if resp.Status >= 200 || resp.Status == 101 {
			break
		}
		if err := ex.fst.WriteResponse(resp); err != nil {
			l.term = [2]byte{'C', 'H'}
			ex.abortBack()
			return false
		}
	}
	l.trSet, l.trTime = true, time.Since(l.treq)
	l.status = resp.Status
	ex.countStatus(resp.Status)
	if caps := ex.hf.s.fe.cfg.HTTP.CaptureResponse; len(caps) > 0 {
		l.capResp = captureFields(l.capResp, caps, resp)
	}
	if cc := ex.hf.s.fe.cfg.HTTP.CaptureCookie; cc != nil {
		l.cs = captureCookie(resp, "Set-Cookie", cc)
	}
	keepTrailers(resp)
	// Counted as it came from the server, before the rules change it, as
	// HAProxy counts.
	head := htxResponseSize(resp)
	tunnel := resp.Status == 101 || (ex.req.Flags&htx.FlagConnect != 0 && resp.Status < 300)
	if !tunnel {
		ex.inResp = true
		ex.endRequestVars()
		// As in haproxy, store-response reads the response as the
		// server sent it, before the http-response rules.
		ex.stickStore(true)
		ex.applyResponseRules(ex.bhp)
		if ex.hf.s.fe.http != ex.bhp && ex.respAnswer == nil && ex.respDrop == nil {
			ex.applyResponseRules(ex.hf.s.fe.http)
		}
		if r := ex.respDrop; r != nil {
			// http-response silent-drop: the client's connection goes
			// without a word, HTTP/2 streams and all; the line keeps
			// the server's status, as HAProxy's does, ending PR.
			ex.respDrop = nil
			ex.abortBack()
			l.term = [2]byte{'P', 'R'}
			l.trSet = false
			l.bytesOut += head
			ex.hf.s.client.SilentDrop(r.cfg.Status)
			return false
		}
		if a := ex.respAnswer; a != nil {
			// http-response deny, return or redirect: the server's
			// answer goes unread, and the rule's takes its place,
			// after-response rules included; no response time, as in
			// HAProxy.
			ex.respAnswer = nil
			ex.abortBack()
			l.trSet = false
			ex.answer(a)
			return false
		}
		if ex.checkCache() {
			return false
		}
		if c := ex.be.cfg.Cookie; c != nil && resp.Status >= 200 {
			ex.responseCookie(c)
		}
		if ex.hasAfterRules() {
			ex.applyAfterResponse()
		}
		if ex.mode == config.ConnClose || !ex.hf.h2 && ex.hf.stopping.Load() {
			resp.Flags |= htx.FlagClose
		} else {
			// A server closing its connection says nothing about the
			// client's, which stays unless the client asked otherwise.
			resp.Flags &^= htx.FlagClose
		}
	}
	compress := !tunnel && ex.compressResponse(resp)
	bodyless := !hasBody(resp) || ex.req.Flags&htx.FlagHead != 0 || htx.BodylessStatus(resp.Status)
	if bodyless {
		ex.commitStore() // before the client has it all
	}
	if err := ex.fst.WriteResponse(resp); err != nil {
		l.term = [2]byte{'C', 'H'}
		ex.abortBack()
		return false
	}
	l.bytesOut += head
	ex.logASAP()
	if tunnel {
		ex.runTunnel()
		return false
	}
	if !bodyless {
		var cw compressor
		if compress {
			cw = ex.newCompressor()
		}
		out := l.bytesOut
		ok, in := ex.copyResponseBody(cw)
		if cw != nil {
			ex.putCompressor(cw)
		}
		if compress {
			ex.countCompression(cw != nil, in, l.bytesOut-out, ok)
		}
		if !ok {
			return false
		}
	}
	ex.commitStore()
	if ex.bodyAsync && !ex.bc.h2 {
		select {
		case err := <-ex.body:
			ex.bodyAsync = false
			if err != nil {
				ex.abortBack()
				return false
			}
		default:
			// An HTTP/1 server answered in full before taking the whole
			// body (413, 401...): the connection cannot carry another
			// request, and closing it stops the body's copy.
			ex.abortBack()
			return false
		}
	}
	if err := ex.waitBody(); err != nil {
		// The server answered before taking the whole body: the
		// connection cannot carry another request.
		ex.abortBack()
		return false
	}
	ex.endBack()
	return false
}

// failBackAfterAbort abandons the server's stream and connection before
// a response came.
func (ex *exchange) failBackAfterAbort() {
	_ = ex.bst.Close()
	_ = ex.waitBodyAfterAbort()
	ex.dropConn(ex.bc)
	ex.bc, ex.bst = nil, nil
}

// waitBodyAfterAbort collects the request body copy after the server
// stream was closed (which unblocks it).
func (ex *exchange) waitBodyAfterAbort() error { return ex.waitBody() }

// copyResponseBody copies the body and trailers to the client, through
// cw when the response is compressed (nil: as it comes); it reports
// whether the body went whole, and the body bytes read from the server.
func (ex *exchange) copyResponseBody(cw compressor) (ok bool, in int64) {
	l := &ex.log
	srvTimeout := ex.serverTimeout()
	for {
		n, err := ex.readResponse(ex.buf)
		in += int64(n)
		if n > 0 && ex.cstore != nil {
			ex.cstore.Write(ex.buf[:n])
		}
		if ex.cstore != nil && (err == io.EOF || ex.resp.Flags&htx.FlagContentLength != 0 && in >= ex.resp.ContentLength) {
			// The body is whole: the entry is complete before its last
			// bytes reach the client, whose next request then finds it.
			ex.commitStore()
		}
		if n > 0 {
			var werr error
			if cw != nil {
				if _, werr = cw.Write(ex.buf[:n]); werr == nil {
					werr = cw.Flush()
				}
			} else {
				_, werr = ex.fst.Write(ex.buf[:n])
				l.bytesOut += int64(n)
			}
			if werr != nil {
				l.term = [2]byte{'C', 'D'}
				ex.abortBack()
				return false, in
			}
			if srvTimeout > 0 && !ex.bc.h2 {
				_ = ex.bc.c.Transport().SetReadDeadline(time.Now().Add(srvTimeout))
			}
		}
		if err == io.EOF {
			l.bytesOut += htxEndSize(&ex.resp)
			break
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				l.term = [2]byte{'s', 'D'}
			} else {
				l.term = [2]byte{'S', 'D'}
			}
			ex.abortBack()
			return false, in
		}
	}
	if cw != nil {
		if err := cw.Close(); err != nil {
			l.term = [2]byte{'C', 'D'}
			ex.abortBack()
			return false, in
		}
	}
	if err := ex.fst.Finish(&ex.resp); err != nil {
		l.term = [2]byte{'C', 'D'}
		ex.abortBack()
		return false, in
	}
	return true, in
}

// abortBack ends the server side after a failure: the stream is reset
// and an HTTP/1 connection closed.
func (ex *exchange) abortBack() {
	if ex.bst == nil {
		return
	}
	_ = ex.bst.Close()
	_ = ex.waitBodyAfterAbort()
	ex.dropConn(ex.bc)
	ex.bc, ex.bst = nil, nil
}

// endBack ends a completed exchange on the server side and keeps the
// connection for the next request.
func (ex *exchange) endBack() {
	_ = ex.bst.Close()
	bc := ex.bc
	ex.bc, ex.bst = nil, nil
	if bc.h2 {
		bc.srv.conns.streamEnded(bc)
		return
	}
	if t := ex.serverTimeout(); t > 0 {
		_ = bc.c.Transport().SetDeadline(time.Time{})
	}
	if ex.mode != config.ConnKeepAlive || ex.closeBack {
		bc.closeIdle()
		return
	}
	if !ex.hf.h2 && ex.hf.own == nil {
		ex.hf.own = bc
		return
	}
	ex.hf.release(bc)
}

// runTunnel switches both sides to tunnels after a 101 or a successful
// CONNECT and forwards bytes until both close, as in TCP mode.
func (ex *exchange) runTunnel() {
	hf, l := ex.hf, &ex.log
	ft, ferr := ex.fst.Tunnel()
	bt, berr := ex.bst.Tunnel()
	if ferr != nil || berr != nil {
		l.term = [2]byte{'P', 'D'}
		if ft != nil {
			_ = ft.Close()
		}
		ex.abortBack()
		return
	}
	if !hf.h2 {
		hf.tunnel = true
	}
	res, _ := channel.RunTunnel(hf.s.b.ctx, ft, bt, ex.tunnelConfig())
	l.bytesOut += res.Response.Out
	if ts := res.TermState(); len(ts) == 2 {
		l.term = [2]byte{ts[0], ts[1]}
	}
	_ = bt.Close()
	_ = ft.Close()
	if ex.bc.h2 {
		ex.bc.srv.conns.drop(ex.bc) // an HTTP/2 tunnel stream ends; the connection is rebuilt on need
	} else {
		ex.bc.close()
	}
	ex.bc, ex.bst = nil, nil
}

// lastServer is the server option prefer-last-server sends the request
// to: the one the client's kept HTTP/1 server connection goes to, when
// it belongs to this backend, is usable, and the algorithm does not hash.
// As in HAProxy, only a connection kept private to the client counts
// (http-reuse never); one the backend shares goes back to its pool.
func (ex *exchange) lastServer() *Server {
	own, be := ex.hf.own, ex.be
	if own == nil || !be.cfg.Options.PreferLastServer || own.srv.be != be || be.http.reuse != reusePolicyNew {
		return nil
	}
	if _, hashes := be.algo.(*hashAlgo); hashes || !own.srv.inUse() {
		return nil
	}
	if n := be.cfg.KeepAliveQueue - 1; n >= 0 {
		// max-keep-alive-queue: a full server with n requests waiting
		// already is left for the algorithm's choice, as in haproxy.
		be.mu.Lock()
		busy := own.srv.full() && len(own.srv.queue) >= n
		be.mu.Unlock()
		if busy {
			return nil
		}
	}
	return own.srv
}

// noteBackSource keeps the server connection's own address for %bi and
// %bp when the frontend's format reads them.
func (ex *exchange) noteBackSource() {
	ex.lastBack = ex.bc
	if ex.hf.s.fe.keepBSrc {
		ex.log.bsrc = localAddrPort(ex.bc.c.SocketLocal())
	}
}

// HelloCaptureSize is tune.ssl.capture-buffer-size, for the fetches of
// what the client's ClientHello offered.
func (ex *exchange) HelloCaptureSize() int { return ex.hf.s.b.cfg.Global.SSLCaptureSize }

// SSLKeyLog is tune.ssl.keylog, for the TLS 1.3 secret fetches.
func (ex *exchange) SSLKeyLog() bool { return ex.hf.s.b.cfg.Global.SSLKeyLog }
