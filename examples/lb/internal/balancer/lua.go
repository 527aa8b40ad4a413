package balancer

import (
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/lua"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// The configuration's Lua (lua-load): its actions run among the rules,
// its services answer requests and connections, its fetches and
// converters run inside expressions (the acl package calls them through
// the configuration's pattern references), its init functions and tasks
// run from Start to Close.

// startLua runs the scripts' init functions and starts their tasks; the
// scripts' messages go to the global log servers (or, from a stream, to
// its proxy's) and to standard error, as HAProxy's go.
func (b *Balancer) startLua() {
	rt := b.cfg.Global.Lua
	if rt == nil {
		return
	}
	ids := proxyIDs(b.cfg)
	var pxs []lua.ProxyInfo
	for _, px := range b.cfg.Proxies {
		if px.Kind == config.KindDefaults {
			continue
		}
		p := lua.ProxyInfo{Name: px.Name, UUID: ids[px], Mode: px.Mode, Frontend: px.Kind.IsFrontend(), Backend: px.Kind.IsBackend()}
		if be := b.backends[px.Name]; be != nil && be.cfg == px {
			for _, srv := range be.servers {
				p.Servers = append(p.Servers, lua.ServerInfo{
					Name: srv.cfg.Name, PUID: srv.cfg.ID,
					Addr:   srv.address,
					Weight: func() int { w, _ := srv.Weight(); return w },
					Draining: func() bool {
						srv.be.mu.Lock()
						defer srv.be.mu.Unlock()
						return srv.draining()
					},
					SetWeight: srv.SetWeight,
					SetState:  srv.SetState,
					MaxConn: func() int {
						srv.be.mu.Lock()
						defer srv.be.mu.Unlock()
						return srv.maxconn
					},
					SetMaxConn: srv.agentMaxConn,
					SetAddr: func(addr, port string, withPort bool) string {
						if strings.ContainsAny(addr, " \t;") {
							return "Invalid addr '" + addr + "' by 'Lua script'"
						}
						msg := srv.setAddr(addr, port, withPort)
						return strings.Replace(strings.TrimSuffix(msg, "\n"), " by 'stats socket command'", " by 'Lua script'", 1)
					},
					Admin: func(words ...string) {
						line := make([]string, len(words))
						for i, w := range words {
							if w == "%s" {
								w = px.Name + "/" + srv.cfg.Name
							}
							line[i] = w
						}
						// lb's own command: a script's of the same words
						// would wait for the state this call holds.
						b.runBuiltin(io.Discard, "admin", line, "")
					},
				})
			}
		}
		pxs = append(pxs, p)
	}
	rt.SetProxies(pxs)
	global := b.newLogSet(nil)
	var mu sync.Mutex // one message at a time on standard error
	rt.Start(func(ctx acl.Context, level int, msg string, failure bool) {
		ls := global
		if lt, ok := ctx.(luaLogTarget); ok {
			if own := lt.luaLogs(); own != nil {
				ls = own
			}
		}
		ls.emit(level, msg)
		mu.Lock()
		lua.StderrLog(b.opts.Stderr, level, msg, failure)
		mu.Unlock()
	})
}

// stopLua stops the scripts' tasks.
func (b *Balancer) stopLua() {
	if rt := b.cfg.Global.Lua; rt != nil {
		rt.Close()
	}
}

// luaLogTarget is a stream context whose script messages go to its
// proxy's log servers.
type luaLogTarget interface{ luaLogs() *logSet }

// luaExchange is an HTTP exchange as scripts see it.
type luaExchange struct{ *exchange }

func (l luaExchange) luaLogs() *logSet {
	if l.be != nil && l.be.logs != nil {
		return l.be.logs
	}
	return l.hf.s.fe.logs
}

// LuaPriv implements lua.PrivHolder: the exchange keeps it.
func (l luaExchange) LuaPriv() *any { return &l.luaPriv }

// SetLogLevel implements lua.TxnControl.
func (l luaExchange) SetLogLevel(level int) { l.log.level = level }

// SetTOS implements lua.TxnControl.
func (l luaExchange) SetTOS(tos int) {
	setSockopt(l.hf.s.b, l.hf.s.client, "set-tos", int64(tos))
}

// SetMark implements lua.TxnControl.
func (l luaExchange) SetMark(mark int) {
	setSockopt(l.hf.s.b, l.hf.s.client, "set-mark", int64(mark))
}

// SetPriority implements lua.PriorityControl.
func (l luaExchange) SetPriority(class bool, n int64) {
	l.prio = l.prio.with(class, acl.Int(n))
}

// luaOutcome is what a Lua action tells the rules loop.
type luaOutcome uint8

const (
	luaNext     luaOutcome = iota // on to the next rule
	luaStop                       // the proxy's other rules are skipped
	luaAnswered                   // the exchange is over
)

// luaRequestAction runs an http-request lua.NAME rule, answering as
// HAProxy does for each verdict.
func (ex *exchange) luaRequestAction(r *httpRule) luaOutcome {
	v, reply := ex.hf.s.b.cfg.Global.Lua.RunAction(r.cfg.Name, lua.StageHTTPReq, luaExchange{ex}, r.cfg.Args)
	if reply != nil {
		// txn:done(reply): the script's answer.
		ex.log.term = [2]byte{'L', 'R'}
		ex.answer(replyAnswer(reply))
		return luaAnswered
	}
	switch v {
	case lua.Stop, lua.Done:
		return luaStop
	case lua.Error:
		ex.countErr()
		ex.log.term = [2]byte{'I', 'R'}
		ex.answer(builtinAnswer(500))
		return luaAnswered
	case lua.Deny:
		ex.countErr()
		ex.log.term = [2]byte{'P', 'R'}
		ex.answer(builtinAnswer(403))
		return luaAnswered
	case lua.Abort:
		ex.log.term = [2]byte{'P', 'R'}
		ex.answer(builtinAnswer(503))
		return luaAnswered
	case lua.Invalid:
		ex.countErr()
		ex.log.term = [2]byte{'P', 'R'}
		a := builtinAnswer(400)
		a.head.Flags |= htx.FlagClose
		ex.answer(a)
		return luaAnswered
	case lua.Closed:
		// txn:done(): the connection closes, nothing answered.
		ex.log.term = [2]byte{'L', 'R'}
		ex.log.tr, ex.log.status = -1, 0
		_ = ex.hf.s.client.Close()
		return luaAnswered
	}
	return luaNext
}

// replyAnswer is the answer of a script's txn:done(reply).
func replyAnswer(r *lua.Reply) *localAnswer {
	reason := r.Reason
	if reason == "" {
		reason = statusReason(r.Status)
	}
	return answerWithReason(r.Status, reason, "", []byte(r.Body), r.Headers)
}

// luaResponseAction runs an http-response lua.NAME rule; it reports
// true when the proxy's other response rules are skipped.
func (ex *exchange) luaResponseAction(r *httpRule) bool {
	v, reply := ex.hf.s.b.cfg.Global.Lua.RunAction(r.cfg.Name, lua.StageHTTPRes, luaExchange{ex}, r.cfg.Args)
	// The line logs the status the script may have set.
	ex.log.status = ex.resp.Status
	if reply != nil {
		ex.log.term = [2]byte{'L', 'H'}
		ex.respAnswer = replyAnswer(reply)
		return true
	}
	switch v {
	case lua.Continue, lua.Yield:
		return false
	case lua.Stop, lua.Done:
		return true
	}
	// The server's answer gives way to a 502, as a bad answer would.
	ex.log.term = [2]byte{'P', 'H'}
	ex.respAnswer = ex.hf.s.fe.http.answerFor(ex.bhp, 502)
	return true
}

// luaHTTP is the stream an HTTP Lua service answers.
type luaHTTP struct {
	luaExchange
	held []byte
}

// ReadBody implements lua.HTTPStream: what http-buffer-request or
// wait-for-body held first, then the rest from the client.
func (l *luaHTTP) ReadBody(p []byte) (int, error) {
	if len(l.held) > 0 {
		n := copy(p, l.held)
		l.held = l.held[n:]
		return n, nil
	}
	if l.heldAll || l.req.Flags&htx.FlagBodyless != 0 || (l.req.Flags&(htx.FlagContentLength|htx.FlagChunked) == 0) {
		return 0, io.EOF
	}
	n, err := l.fst.Read(p)
	l.bodyIn.Add(int64(n))
	return n, err
}

// errRespAnswered ends a service whose answer the http-response rules
// replaced.
var errRespAnswered = errors.New("answer replaced by the http-response rules")

// WriteHead implements lua.HTTPStream: the http-response rules (the
// backend's, then the frontend's) and the http-after-response ones run
// on the service's answer, as on a server's, then it goes out.
func (l *luaHTTP) WriteHead(m *htx.Message) error {
	resp := &l.resp
	resp.CopyFrom(m)
	l.countStatus(resp.Status)
	if caps := l.hf.s.fe.cfg.HTTP.CaptureResponse; len(caps) > 0 {
		l.log.capResp = captureFields(l.log.capResp, caps, resp)
	}
	l.inResp = true
	l.endRequestVars()
	fe := l.hf.s.fe.http
	if l.bhp != nil && l.bhp != fe {
		l.applyResponseRules(l.bhp)
	}
	if l.respAnswer == nil {
		l.applyResponseRules(fe)
	}
	if a := l.respAnswer; a != nil {
		l.respAnswer = nil
		l.answer(a)
		return errRespAnswered
	}
	l.log.status = resp.Status
	if l.hasAfterRules() {
		l.inResp = true
		l.applyAfterResponse()
	}
	if err := l.fst.WriteResponse(resp); err != nil {
		return err
	}
	l.log.bytesOut += htxResponseSize(resp)
	return nil
}

// WriteBody implements lua.HTTPStream.
func (l *luaHTTP) WriteBody(p []byte) error {
	if l.req.Flags&htx.FlagHead != 0 || len(p) == 0 {
		return nil
	}
	n, err := l.fst.Write(p)
	l.log.bytesOut += int64(n)
	return err
}

// serveLua answers the request with the Lua service name ("lua.NAME").
func (ex *exchange) serveLua(hp *httpProxy, name string) {
	l := &ex.log
	ex.hf.s.fe.st.intercept.Add(1)
	l.backend, l.server = hp.px.Name, "<"+name+">"
	l.term = [2]byte{'L', 'R'}
	l.twSet, l.tcSet, l.trSet = true, true, true
	s := &luaHTTP{luaExchange: luaExchange{ex}}
	if ex.held {
		s.held = ex.heldBody
	}
	_ = ex.hf.s.b.cfg.Global.Lua.RunHTTPService(strings.TrimPrefix(name, "lua."), s)
	_ = ex.fst.Finish(nil)
}

// luaConn is a TCP session as scripts see it: its rules' context, and
// the client's stream for services.
type luaConn struct {
	*contentCtx
	s      *session
	client mux.Tunnel
	// pending is the request data Lua actions took or changed, which a
	// service reads before the client's next bytes.
	pending []byte
}

func (l *luaConn) luaLogs() *logSet {
	if l.s == nil {
		return nil
	}
	if l.s.be != nil && l.s.be.logs != nil {
		return l.s.be.logs
	}
	return l.s.fe.logs
}

// LuaPriv implements lua.PrivHolder: the session keeps it.
func (l *luaConn) LuaPriv() *any {
	if l.s == nil {
		return nil
	}
	return &l.s.extra().luaPriv
}

// SetLogLevel implements lua.TxnControl.
func (l *luaConn) SetLogLevel(level int) { l.level = level }

// SetTOS implements lua.TxnControl.
func (l *luaConn) SetTOS(tos int) { l.setSockopt("set-tos", int64(tos)) }

// SetMark implements lua.TxnControl.
func (l *luaConn) SetMark(mark int) { l.setSockopt("set-mark", int64(mark)) }

// SetPriority implements lua.PriorityControl.
func (l *luaConn) SetPriority(class bool, n int64) {
	l.prio = l.prio.with(class, acl.Int(n))
}

// Read implements lua.TCPStream.
func (l *luaConn) Read(p []byte) (int, error) {
	if len(l.pending) > 0 {
		n := copy(p, l.pending)
		l.pending = l.pending[n:]
		l.s.bytesIn += int64(n)
		return n, nil
	}
	n, err := l.client.Read(p)
	l.s.bytesIn += int64(n)
	return n, err
}

// Write implements lua.TCPStream.
func (l *luaConn) Write(p []byte) (int, error) {
	n, err := l.client.Write(p)
	l.s.bytesOut += int64(n)
	return n, err
}

// serveLuaTCP serves the session's connection with the Lua service a
// tcp-request content rule chose, then ends the session: logged under
// the frontend, the server "<lua.NAME>".
func (s *session) serveLuaTCP(client mux.Tunnel) {
	name := s.x.luaService
	ctx := &contentCtx{tracked: s.ruleCtx(s.fe.cfg.Name), final: true, sid: s.rt(), sess: s}
	s.fe.st.intercept.Add(1)
	lc := &luaConn{contentCtx: ctx, s: s, client: client}
	if e := s.x.reqEdit; e != nil {
		// The service reads the data as the rules left it.
		s.client.DiscardInput(e.taken)
		lc.pending = append(e.data.Out, e.data.In...)
		s.bytesIn += int64(e.taken) - int64(len(lc.pending))
	}
	_ = s.b.cfg.Global.Lua.RunTCPService(strings.TrimPrefix(name, "lua."), lc)
	s.adoptTracked(ctx.tracked)
	_ = client.Close()
	s.tcpFinish()
}
