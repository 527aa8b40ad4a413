package balancer

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/lua"
)

// TCP-mode content inspection: the "tcp-request content" rules look at
// the client's first bytes (a TLS ClientHello's server name, say) and may
// wait up to "tcp-request inspect-delay" for them; then "use_backend"
// picks the backend. The bytes are peeked, never taken, so they reach the
// server as they came, spliced or copied, with nothing to put back.

// contentCtx is what content rules and TCP-mode use_backend conditions
// read: the session's addresses and tracked entries, and the first bytes.
type contentCtx struct {
	*tracked
	data  []byte
	final bool
	may   bool
	// res marks the tcp-response rules, whose data is the server's.
	res bool
	// level is what a set-log-level rule chose (trafficLine.level).
	level int
	// spoe is the session's SPOE state, nil until an engine runs; sent
	// marks the send-spoe-group rules that ran, which the rules' later
	// runs (on more bytes) do not send again.
	spoe *spoeStream
	sent []bool
	// resolved marks the do-resolve rules that ran, likewise, and luaRan
	// the Lua actions.
	resolved, luaRan []bool
	// luaService is the Lua service a use-service rule chose.
	luaService string
	// sess is the session the rules run for.
	sess *session
	// sid is the session's stream number (%rt).
	sid uint64
	// prio is what set-priority-class and set-priority-offset chose.
	prio Priority
	// switchProto is the multiplexer a switch-mode rule forces ("h1",
	// "h2"; "" for the bind line's), once one ran.
	switchProto string
	// edit is the channel data once a Lua action took or changed it
	// (lua.ChannelEditor), nil until then; taken counts the client's
	// bytes it stands for, in request rules.
	edit  *lua.ChanData
	taken int
	// wait waits for more of the client's bytes while the request rules
	// may (lua.ChannelWaiter), nil when they may not.
	wait func() bool
}

// WaitChannel implements lua.ChannelWaiter.
func (c *contentCtx) WaitChannel(res bool) bool {
	if res != c.res || c.wait == nil {
		return false
	}
	return c.wait()
}

// EditChannel implements lua.ChannelEditor: the rules' data becomes
// theirs, a copy of what they read, which the session delivers in place
// of the client's bytes (the server's, in response rules).
func (c *contentCtx) EditChannel(res bool) *lua.ChanData {
	if res != c.res {
		return nil
	}
	if c.edit == nil {
		c.edit = &lua.ChanData{In: append([]byte(nil), c.data...)}
		c.taken = len(c.data)
	}
	return c.edit
}

// reqEdit is a session's request data that Lua actions own: what to
// send the server in place of the first taken bytes of the client.
type reqEdit struct {
	data  *lua.ChanData
	taken int
}

// QueuePriority is the connection's place in the queues, as the content
// rules' set-priority-class and set-priority-offset set it
// (acl.PriorityContext).
func (c *contentCtx) QueuePriority() (class, offset int) { return c.prio.Class, c.prio.Offset }

// spoeStream is the session's SPOE state, made on first use.
func (c *contentCtx) spoeStream() *spoeStream {
	if c.spoe == nil {
		c.spoe = newSPOEStream(c.sid)
	}
	return c.spoe
}

// serverSessionEvent sends on-server-session's messages, then
// on-tcp-response's, once a TCP session's server connection is up,
// through the frontend's engines and the backend's.
func (s *session) serverSessionEvent() {
	fe, be := s.b.spoe[s.fe.cfg], s.b.spoe[s.be.cfg]
	if s.be.cfg == s.fe.cfg {
		be = nil
	}
	if len(fe) == 0 && len(be) == 0 {
		return
	}
	ctx := &contentCtx{tracked: s.ruleCtx(s.be.cfg.Name), final: true}
	if s.x != nil {
		ctx.spoe = s.x.spoe
	}
	ctx.spoeEvent("on-server-session", fe, be)
	// on-tcp-response goes out next, as haproxy's response inspection
	// starts, once, before any tcp-response rule and whether or not there
	// are any: nothing of the response has come yet.
	ctx.res, ctx.data = true, []byte{}
	ctx.spoeEvent("on-tcp-response", fe, be)
	s.extra().spoe = ctx.spoe
}

// spoeEvent sends an event's messages through the engines' lists in
// order.
func (c *contentCtx) spoeEvent(event string, lists ...[]*spoeEngine) {
	for _, list := range lists {
		for _, e := range list {
			if msgs := e.events[event]; msgs != nil && len(msgs.list) > 0 {
				e.process(c, c.spoeStream(), msgs)
			}
		}
	}
}

// Payload returns the bytes peeked so far, and whether no more will be
// waited for; in response rules, none, which the request's fetches do not
// wait for.
func (c *contentCtx) Payload() ([]byte, bool) {
	if c.res {
		return nil, true
	}
	if c.edit != nil {
		return c.edit.In, c.final
	}
	return c.data, c.final
}

// ResponsePayload returns, in response rules, the bytes the server sent
// so far, and whether no more will be waited for.
func (c *contentCtx) ResponsePayload() ([]byte, bool, bool) {
	if !c.res {
		return nil, true, false
	}
	if c.edit != nil {
		return c.edit.In, c.final, true
	}
	return c.data, c.final, true
}

// MayChange notes that a fetch needs more bytes than there are.
func (c *contentCtx) MayChange() { c.may = true }

var _ acl.ResponseContentContext = (*contentCtx)(nil)

// capture runs a content rule's capture: the sample, as a string cut to
// the slot's length, goes into the session's request capture slot, where
// %hr and capture.req.hdr find it; no sample leaves the slot as it was.
func (c *contentCtx) capture(slot int, expr acl.FetchFunc) {
	s := c.s
	if s == nil || s.x == nil || slot < 0 || slot >= len(s.x.caps) {
		return
	}
	smp, ok := expr(c)
	if !ok {
		return
	}
	v := smp.String()
	if n := s.fe.cfg.HTTP.CaptureRequest[slot].Len; len(v) > n {
		v = v[:n]
	}
	s.x.caps[slot] = appendCapture(s.x.caps[slot][:0], v)
}

// trackSample runs a content rule's track-sc: unless the slot is tracked
// already, the key expression's sample, converted to the table's key
// type, names the entry (created when absent) tracked from now on, which
// counts a connection. No sample, or one that cannot be a key of the
// table, tracks nothing.
func (c *contentCtx) trackSample(slot int, table string, key acl.FetchFunc) {
	if c.sc[slot] != nil {
		return
	}
	t := c.Table(table)
	if t == nil {
		return
	}
	smp, ok := key(c)
	if !ok {
		return
	}
	k, ok := acl.SampleKey(nil, t, smp)
	if !ok {
		return
	}
	e, err := t.GetOrCreate(k)
	if err != nil {
		c.b.log.Debug("cannot track connection", "table", t.Name(), "key", smp.String(), "err", err)
		return
	}
	e.StartConn()
	c.sc[slot] = e
}

// contentRules are a proxy's "tcp-request content" rules with their
// sample expressions compiled (track-sc's key, set-var's value), by rule.
type contentRules struct {
	rules []config.ConnRule
	expr  []acl.FetchFunc
	delay time.Duration // tcp-request inspect-delay
	// spoe and groups are the engines and messages of send-spoe-group
	// rules, by rule.
	spoe   []*spoeEngine
	groups []*spoeMsgs
}

// compileContent compiles px's content rules; nil when it has none.
func (b *Balancer) compileContent(px *config.Proxy) (*contentRules, error) {
	return b.compileRules(px, "tcp-request content", px.Stick.ContentRules, px.Stick.InspectDelay)
}

// compileRules compiles rules, content rules of either direction; nil
// when there are none.
func (b *Balancer) compileRules(px *config.Proxy, kind string, rules []config.ConnRule, delay time.Duration) (*contentRules, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	cr := &contentRules{rules: rules, expr: make([]acl.FetchFunc, len(rules)), delay: delay}
	for i, r := range rules {
		if r.Action == "send-spoe-group" {
			if cr.spoe == nil {
				cr.spoe, cr.groups = make([]*spoeEngine, len(rules)), make([]*spoeMsgs, len(rules))
			}
			cr.spoe[i], cr.groups[i] = b.spoeGroup(px, r.Var, r.Key)
			continue
		}
		if r.Key == "" || r.Action == "switch-mode" || r.Action == "sc-set-gpt0" || r.Action == "sc-set-gpt" || r.Action == "set-var-fmt" {
			continue // in the balancer's scExprs and connFmts
		}
		_, fn, err := px.ACLs.Refs.CompileFetch(r.Key)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", kind, r.Pos, err)
		}
		cr.expr[i] = fn
	}
	return cr, nil
}

// verdict runs the content rules on what ctx holds, in order: a rule
// whose condition holds runs its action (track-sc tracks, unless its
// slot is tracked already; set-var and unset-var set and unset), and the
// first accept or reject decides. A condition that does not hold on too
// few bytes makes the verdict wait, unless the bytes are final; the next
// run starts again from the first rule, as HAProxy's does. With no rule
// deciding, the connection is accepted.
func (cr *contentRules) verdict(ctx *contentCtx) (verdict string, wait bool) {
	for i := range cr.rules {
		r := &cr.rules[i]
		ctx.may = false
		if !r.Cond.Eval(ctx) {
			if ctx.may && !ctx.final {
				return "", true
			}
			continue
		}
		switch r.Action {
		case "accept", "reject", "close":
			return r.Action, false
		case "switch-mode":
			// Final, as accept: the connection goes on as HTTP.
			ctx.switchProto = r.Key
			return r.Action, false
		case "track-sc":
			ctx.trackSample(r.Slot, r.Table, cr.expr[i])
		case "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0", "sc-inc-gpc", "sc-set-gpt":
			if e := ctx.Tracked(r.Slot); e != nil {
				applySCAt(e, r.Action, r.Index, ctx.b.scExprs[r.Key], ctx, nil)
			}
		case "set-var":
			if smp, ok := cr.expr[i](ctx); ok {
				ctx.SetVar(r.Var, smp)
			}
		case "set-var-fmt":
			ctx.SetVar(r.Var, acl.Str(string(ctx.b.connFmts[r.Key].appendTo(nil, ctx))))
		case "unset-var":
			ctx.UnsetVar(r.Var)
		case "do-resolve":
			// Once per stream: a later run, on more bytes, keeps
			// what the first one found.
			if ctx.resolved == nil {
				ctx.resolved = make([]bool, len(cr.rules))
			}
			if !ctx.resolved[i] {
				ctx.resolved[i] = true
				ctx.b.doResolve(r.Resolve, r.Var, cr.expr[i], ctx)
			}
		case "capture":
			ctx.capture(r.Slot, cr.expr[i])
		case "set-log-level":
			ctx.level = r.LogLevel
		case "set-mark", "set-tos":
			ctx.setSockopt(r.Action, r.Num)
		case "set-src", "set-src-port", "set-dst", "set-dst-port":
			if smp, ok := cr.expr[i](ctx); ok {
				ctx.setAddr(r.Action, smp)
			}
		case "set-priority-class", "set-priority-offset":
			if smp, ok := cr.expr[i](ctx); ok {
				ctx.prio = ctx.prio.with(r.Action == "set-priority-class", smp)
			}
		case "silent-drop":
			ctx.dropTTL = r.RSTTTL
			return r.Action, false
		case "use-service":
			ctx.luaService = r.Var
			return r.Action, false
		case "lua":
			// Once per stream, as do-resolve.
			if ctx.luaRan == nil {
				ctx.luaRan = make([]bool, len(cr.rules))
			}
			if ctx.luaRan[i] {
				continue
			}
			ctx.luaRan[i] = true
			stage := lua.StageTCPReq
			if ctx.res {
				stage = lua.StageTCPRes
			}
			v, _ := ctx.b.cfg.Global.Lua.RunAction(r.Var, stage, &luaConn{contentCtx: ctx, s: ctx.sess}, r.Args)
			if ctx.edit != nil {
				ctx.data = ctx.edit.In
			}
			switch v {
			case lua.Stop, lua.Done:
				return "accept", false
			case lua.Error, lua.Deny, lua.Abort, lua.Invalid, lua.Closed:
				return "reject", false
			}
		case "send-spoe-group":
			if ctx.sent == nil {
				ctx.sent = make([]bool, len(cr.rules))
			}
			if e := cr.spoe[i]; e != nil && !ctx.sent[i] {
				ctx.sent[i] = true
				e.process(ctx, ctx.spoeStream(), cr.groups[i])
			}
		}
	}
	return "accept", false
}

// inspect runs the frontend's content rules and its use_backend rules,
// and sets the session's backend, then runs that backend's content
// rules. It reports false when a rule rejects the connection (or the
// client left while it waited), with term set.
func (s *session) inspect() bool {
	fe := s.fe
	uses := fe.cfg.HTTP.UseBackends
	feSPOE := s.b.spoe[fe.cfg]
	var st *spoeStream
	if fe.content != nil || len(uses) > 0 || len(feSPOE) > 0 {
		ctx := &contentCtx{tracked: s.ruleCtx(fe.cfg.Name), final: true, sid: s.rt(), sess: s}
		ctx.spoeEvent("on-client-session", feSPOE)
		ctx.spoeEvent("on-frontend-tcp-request", feSPOE)
		verdict, ok := s.runContent(fe.content, ctx, s.accepted)
		if !ok {
			// Rejected or gone before a backend was chosen: the line
			// names the frontend, as HAProxy's does.
			s.be = nil
			return false
		}
		if verdict == "use-service" {
			// A Lua service serves the connection (session.run).
			s.extra().luaService = ctx.luaService
			s.be = nil
			return true
		}
		if verdict == "switch-mode" {
			// The connection goes on as HTTP in the frontend, whose
			// HTTP rules, then use_backend rules, run on each request
			// (runHTTP), as haproxy's switch-mode http does.
			x := s.extra()
			x.switched, x.switchProto = true, ctx.switchProto
			s.be = nil
			if ctx.spoe != nil {
				x.spoe = ctx.spoe
			}
			return true
		}
		// As in HAProxy, use_backend runs once, on what the rules waited
		// for; a dynamic name that names no backend leaves the default
		// one.
		for i, u := range uses {
			if !u.Cond.Eval(ctx) {
				continue
			}
			if fe.useDyn == nil || fe.useDyn[i] == nil {
				s.be = s.b.backends[u.Backend]
			} else if be, _ := s.b.dynamicBackend(fe.useDyn[i], ctx, nil, "tcp"); be != nil {
				s.be = be
			}
			break
		}
		st = ctx.spoe
	}
	defer func() {
		if st != nil {
			s.extra().spoe = st
		}
	}()
	// A backend's own rules run once it is chosen, on its own inspect
	// delay from then; a listen section's rules ran as a frontend's. A
	// connection they reject is logged under the backend. The backend
	// event goes through the frontend's engines and the backend's.
	be := s.be
	if be == nil || be.cfg == fe.cfg {
		return true
	}
	beSPOE := s.b.spoe[be.cfg]
	if be.content != nil || len(feSPOE) > 0 || len(beSPOE) > 0 {
		ctx := &contentCtx{tracked: s.ruleCtx(be.cfg.Name), final: true, spoe: st, sid: s.rt(), prio: s.prio(), sess: s}
		ctx.spoeEvent("on-backend-tcp-request", feSPOE, beSPOE)
		st = ctx.spoe
		if _, ok := s.runContent(be.content, ctx, time.Now()); !ok {
			// The backend counts the session it was given, as haproxy's
			// counts it on the switch (tcpConnect does for the others).
			be.st.session(s.accepted)
			return false
		}
	}
	return true
}

// runContent runs one proxy's content rules on ctx, the inspect delay
// counting from since. Entries the rules track join the session's,
// which end them. It reports false, with term set, when a rule rejects
// the connection or the client left while the rules waited; verdict is
// the rule that decided ("accept" with none, "switch-mode").
func (s *session) runContent(cr *contentRules, ctx *contentCtx, since time.Time) (verdict string, ok bool) {
	if cr == nil {
		return "accept", true
	}
	if s.x != nil && s.x.reqEdit != nil {
		// A frontend's Lua action changed the data: the backend's rules
		// read what it left.
		ctx.edit, ctx.taken = s.x.reqEdit.data, s.x.reqEdit.taken
		ctx.data = ctx.edit.In
	}
	// Only a raw socket shows the client's own bytes; through TLS the
	// content fetches find nothing, at once.
	if rc, raw := s.client.Raw(); raw {
		verdict = s.runContentRules(rc, cr, ctx, since)
	} else {
		verdict, _ = cr.verdict(ctx)
	}
	if ctx.edit != nil {
		s.extra().reqEdit = &reqEdit{data: ctx.edit, taken: ctx.taken}
	}
	s.adoptTracked(ctx.tracked)
	if ctx.prio != s.prio() {
		s.extra().prio = ctx.prio
	}
	if ctx.level != 0 {
		s.logLevel = int8(ctx.level)
	}
	switch verdict {
	case "":
		s.term = [2]byte{'C', 'R'}
		return verdict, false
	case "silent-drop":
		// Logged as a reject, as haproxy logs it; the client learns
		// nothing.
		s.term = [2]byte{'P', 'R'}
		s.client.SilentDrop(ctx.dropTTL)
		return verdict, false
	case "reject":
		s.b.log.Debug("content rejected", "proxy", ctx.own, "client", ctx.src)
		s.term = [2]byte{'P', 'R'}
		// The bytes the rules looked at go, so that the close ends with
		// a FIN, not a reset, as HAProxy's does: it has read them by then.
		s.client.DiscardInput(s.b.bufSize())
		return verdict, false
	}
	return verdict, true
}

// runContentRules peeks at the client's bytes through rc and runs the
// content rules on them, waiting for more (up to the inspect delay from
// since) while a rule cannot decide yet. It returns the verdict, or ""
// when the client failed meanwhile.
func (s *session) runContentRules(rc syscall.RawConn, cr *contentRules, ctx *contentCtx, since time.Time) string {
	buf := make([]byte, s.b.bufSize())
	var deadline time.Time
	if d := cr.delay; d > 0 {
		deadline = since.Add(d)
		_ = s.client.SetReadDeadline(deadline)
		defer func() { _ = s.client.SetReadDeadline(time.Time{}) }()
	}
	expired := false
	if ctx.b.cfg.Global.Lua != nil {
		// A Lua action's getline or get waits for the client's bytes
		// here, up to the inspect delay, as haproxy's yield.
		ctx.wait = func() bool {
			if ctx.final || ctx.edit == nil {
				return false
			}
			have := ctx.taken
			if err := waitMore(rc, buf, have); err != nil {
				expired = errors.Is(err, os.ErrDeadlineExceeded)
				ctx.final = true
				return false
			}
			n, ended, err := peekNow(rc, buf)
			if err != nil {
				ctx.final = true
				return false
			}
			ctx.takeMore(buf[:n])
			ctx.final = ended || n == len(buf)
			return n > have
		}
		defer func() { ctx.wait = nil }()
	}
	for {
		n, ended, err := peekNow(rc, buf)
		if err != nil {
			return ""
		}
		ctx.data = buf[:n]
		if ctx.edit != nil {
			ctx.takeMore(buf[:n])
		}
		ctx.final = ended || expired || n == len(buf) || deadline.IsZero()
		verdict, wait := cr.verdict(ctx)
		if !wait {
			return verdict
		}
		if err := waitMore(rc, buf, n); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return ""
			}
			expired = true
		}
	}
}

// takeMore adds to the data a Lua action owns the client's bytes that
// came since, peeked into data: those a forward still covers go on to
// the server unseen, the others join the input.
func (c *contentCtx) takeMore(data []byte) {
	d := c.edit
	defer func() { c.data = d.In }()
	if len(data) <= c.taken {
		return
	}
	fresh := data[c.taken:]
	c.taken = len(data)
	if d.ToForward > 0 {
		n := min(d.ToForward, int64(len(fresh)))
		d.Out = append(d.Out, fresh[:n]...)
		d.ToForward -= n
		fresh = fresh[n:]
	}
	d.In = append(d.In, fresh...)
	c.data = d.In
}

// peekNow peeks at what the socket holds, without taking it or waiting,
// into buf, and returns the count; ended reports the client's end of
// stream with nothing before it, or with bytes before it (CLOSE_WAIT).
func peekNow(rc syscall.RawConn, buf []byte) (n int, ended bool, err error) {
	cerr := rc.Control(func(fd uintptr) {
		n, ended, err = peekFD(fd, buf)
	})
	if err == nil {
		err = cerr
	}
	return n, ended, err
}

// waitMore waits until the socket holds more than have bytes, its end,
// an error, or the read deadline.
func waitMore(rc syscall.RawConn, buf []byte, have int) error {
	return rc.Read(func(fd uintptr) bool {
		n, ended, err := peekFD(fd, buf)
		return err != nil || ended || n > have
	})
}

func peekFD(fd uintptr, buf []byte) (n int, ended bool, err error) {
	m, _, e := unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	switch {
	case e == unix.EAGAIN:
		return 0, false, nil
	case e != nil:
		return 0, false, e
	case m == 0:
		return 0, true, nil
	}
	// Bytes queued before a FIN: the socket says so by its state.
	return m, peerSentFIN(fd), nil
}

// useServer runs the backend's use-server rules on what the client has
// sent so far, peeked, as HAProxy reads its buffer then.
func (s *session) useServer(be *Backend, force bool) *Server {
	if len(be.useSrv) == 0 {
		return nil
	}
	var srv *Server
	s.peekFirst(func(data []byte) {
		srv = be.useServer(&contentCtx{tracked: s.ruleCtx(be.cfg.Name), data: data, final: true}, force)
	})
	return srv
}

// peekFirst calls fn with what the client has sent so far, peeked (not
// taken) into a pooled buffer that fn must not keep; nil when the socket
// shows nothing (a transport that is not raw, no buffer, an error).
func (s *session) peekFirst(fn func(data []byte)) {
	rc, raw := s.client.Raw()
	if !raw {
		fn(nil)
		return
	}
	buf, err := s.b.pool.Get()
	if err != nil {
		fn(nil)
		return
	}
	defer s.b.pool.Put(buf)
	area, _ := buf.Free()
	n, _, err := peekNow(rc, area)
	if err != nil {
		fn(nil)
		return
	}
	fn(area[:n])
}
