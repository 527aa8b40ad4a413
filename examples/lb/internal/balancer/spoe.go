package balancer

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/spoe"
	"github.com/proxyblocks/proxyblocks/freq"
)

// spoeEngine is a proxy's "filter spoe" at run time: the messages of
// each event and group, compiled, and the client that carries them to
// the agents of the engine's backend.
type spoeEngine struct {
	cfg    *config.SPOEEngine
	client *spoe.Client
	events map[string]*spoeMsgs
	groups map[string]*spoeMsgs
	// prefix is put before a variable's name: ".PREFIX.".
	prefix string
	// errVar, ptVar and ttVar are the full names of set-on-error,
	// set-process-time and set-total-time, "" for none.
	errVar, ptVar, ttVar string
	// registered are the agent's register-var-names, in full for each
	// scope.
	registered map[string]bool
	// known caches the full names of the variables the agent sets.
	mu    sync.RWMutex
	known map[string]*varNames
	// logs is where the line of each processing goes, nil when the
	// agent logs nothing.
	logs *logSet
	// errRate counts the errors when maxerrrate (maxErr) is set.
	errRate *freq.Counter
	maxErr  uint32
	// errors and processed are the engine's processings that failed and
	// all of them, as its log lines report them.
	errors, processed atomic.Uint64
}

// spoeMsgs are the messages an event or a group sends, and how the
// log line names them ("EVENT:name" or "GROUP:name").
type spoeMsgs struct {
	label string
	list  []spoeMsg
}

type spoeMsg struct {
	name string
	args []spoeArg
	cond *acl.Cond
}

type spoeArg struct {
	name string
	fn   acl.FetchFunc
	// bin sends the sample as binary rather than as a string, as
	// HAProxy types the samples of these fetches.
	bin bool
}

// binaryFetches are the fetches whose samples HAProxy types as binary,
// besides those whose ACLs must name a match method.
var binaryFetches = map[string]bool{
	"req.body": true, "res.body": true, "req.hdrs_bin": true, "res.hdrs_bin": true,
	"req.payload": true, "res.payload": true, "req.payload_lv": true, "res.payload_lv": true,
}

// setupSPOE compiles the SPOE filters of every proxy. Their clients dial
// only when a stream first needs an agent.
func (b *Balancer) setupSPOE() error {
	b.spoe = map[*config.Proxy][]*spoeEngine{}
	for _, px := range b.cfg.Proxies {
		for _, f := range px.Filters {
			if f.Type != "spoe" {
				continue
			}
			e, err := b.compileSPOE(f.Engine)
			if err != nil {
				return fmt.Errorf("%s: SPOE engine '%s': %w", f.Pos, f.Name, err)
			}
			b.spoe[px] = append(b.spoe[px], e)
		}
	}
	return nil
}

func (b *Balancer) compileSPOE(ec *config.SPOEEngine) (*spoeEngine, error) {
	a := &ec.Agent
	e := &spoeEngine{cfg: ec, events: map[string]*spoeMsgs{}, groups: map[string]*spoeMsgs{}, prefix: "." + a.VarPrefix + ".", known: map[string]*varNames{}}
	compile := func(ms []*config.SPOEMessage) ([]spoeMsg, error) {
		out := make([]spoeMsg, 0, len(ms))
		for _, m := range ms {
			sm := spoeMsg{name: m.Name, cond: m.Cond}
			for _, arg := range m.Args {
				f, fn, err := ec.ACLs.Refs.CompileFetch(arg.Expr)
				if err != nil {
					return nil, fmt.Errorf("%s: message '%s': '%s': %w", m.Pos, m.Name, arg.Expr, err)
				}
				plain := arg.Expr == f.Name || strings.HasSuffix(arg.Expr, ")") && !strings.Contains(arg.Expr, "),")
				bin := plain && f.Type == acl.TypeStr && (binaryFetches[f.Name] || f.Match == acl.MatchRequired)
				sm.args = append(sm.args, spoeArg{name: arg.Name, fn: fn, bin: bin})
			}
			out = append(out, sm)
		}
		return out, nil
	}
	for ev, ms := range ec.Events {
		c, err := compile(ms)
		if err != nil {
			return nil, err
		}
		e.events[ev] = &spoeMsgs{label: "EVENT:" + ev, list: c}
	}
	for name, g := range ec.Groups {
		c, err := compile(g.Messages)
		if err != nil {
			return nil, err
		}
		e.groups[name] = &spoeMsgs{label: "GROUP:" + name, list: c}
	}
	full := func(v string) string {
		if v == "" {
			return ""
		}
		return "txn" + e.prefix + v
	}
	e.errVar, e.ptVar, e.ttVar = full(a.SetOnError), full(a.SetProcessTime), full(a.SetTotalTime)
	e.registered = map[string]bool{}
	for _, v := range a.RegisterVarNames {
		for s := range acl.VarScopes {
			e.registered[s+e.prefix+v] = true
		}
	}
	if a.MaxErrRate > 0 {
		e.errRate, e.maxErr = freq.NewCounter(nil), uint32(a.MaxErrRate)
	}
	if (a.LogGlobal || len(a.Logs) > 0) && b.writers != nil {
		// The agent logs as a proxy of its own would, to its targets.
		e.logs = newLogSet(b.cfg, &config.Proxy{LogGlobal: a.LogGlobal, Logs: a.Logs}, nil, b.logWriter)
	}
	maxFrame := a.MaxFrameSize
	if maxFrame == 0 {
		maxFrame = b.cfg.Global.BufSize - 4
	}
	backend := a.Backend
	e.client = spoe.NewClient(spoe.ClientConfig{
		EngineID:     engineID(),
		MaxFrameSize: maxFrame,
		Pipelining:   a.Pipelining,
		Async:        a.Async,
		MaxWaiting:   a.MaxWaiting,
		HelloTimeout: a.HelloTimeout,
		IdleTimeout:  a.IdleTimeout,
		MaxConnRate:  a.MaxConnRate,
		// As HAProxy, no connection is tried while no server of the
		// agents' backend is up.
		Available: func() bool { return b.agentsUp(backend) },
		Dial: func(ctx context.Context) (net.Conn, error) {
			return b.dialAgent(ctx, backend)
		},
	})
	return e, nil
}

// engineID is a random UUID (version 4), as HAProxy names its engines.
func engineID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// agentConn is a connection to an agent, which holds its server's slot
// until it closes.
type agentConn struct {
	net.Conn
	be     *Backend
	srv    *Server
	closed atomic.Bool
}

func (c *agentConn) Close() error {
	err := c.Conn.Close()
	if !c.closed.Swap(true) {
		c.be.release(c.srv)
	}
	return err
}

// agentsUp reports whether a server of the agents' backend is usable.
func (b *Balancer) agentsUp(backend string) bool {
	be := b.backends[backend]
	if be == nil {
		return false
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	active, backup := be.usableCounts()
	return active+backup > 0
}

// dialAgent connects to a server of the agents' backend, chosen by its
// algorithm as for any connection.
func (b *Balancer) dialAgent(ctx context.Context, backend string) (net.Conn, error) {
	be := b.backends[backend]
	if be == nil {
		return nil, fmt.Errorf("no backend '%s'", backend)
	}
	// Each connection to an agent is a stream of its own, and takes a
	// stream number, as in HAProxy.
	b.streams.Add(1)
	a, err := be.assign(ctx, netip.Addr{}, nil, nil, nil, false, nil, Priority{})
	if err != nil {
		return nil, err
	}
	dctx := ctx
	if t := be.cfg.Timeouts.Connect; t > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	c, err := b.dialServer(dctx, a.srv, netip.AddrPort{}, netip.AddrPort{}, ppFacts{})
	if err != nil {
		be.release(a.srv)
		return nil, err
	}
	return &agentConn{Conn: c, be: be, srv: a.srv}, nil
}

// closeSPOE closes the engines' connections to their agents.
func (b *Balancer) closeSPOE() {
	for _, es := range b.spoe {
		for _, e := range es {
			_ = e.client.Close()
		}
	}
}

// spoeStream is what a stream (an HTTP request and its response, or a
// TCP session) keeps of its SPOE exchanges.
type spoeStream struct {
	// sid is the stream's number in the process (%rt), which names the
	// stream to the agents and in the log lines.
	sid uint64
	// ctxs are the stream's state with each engine that ran.
	ctxs []spoeCtx
}

// spoeCtx is a stream's state with one engine, as HAProxy keeps one per
// filter.
type spoeCtx struct {
	e *spoeEngine
	// fid is the next frame's ID, which only a processing that got its
	// ACK moves on.
	fid   uint64
	total time.Duration
	// off is set by an error, without option continue-on-error: the
	// engine is done with the stream.
	off bool
	// last is the latest processing that reached an agent or failed
	// (valid: hasLast), which a processing skipped under maxerrrate
	// logs again, as HAProxy does.
	last    spoeLast
	hasLast bool
}

// spoeLast is a processing's outcome, as its log line reports it.
type spoeLast struct {
	status int
	// times are reqT, qT, wT, resT and pT in milliseconds, -1 for a
	// step not reached.
	times [5]int64
}

// reset starts the state of a new stream, number sid.
func (st *spoeStream) reset(sid uint64) {
	st.sid, st.ctxs = sid, st.ctxs[:0]
}

func newSPOEStream(sid uint64) *spoeStream {
	st := &spoeStream{}
	st.reset(sid)
	return st
}

// ctx returns the stream's state with engine e, begun on first use.
func (st *spoeStream) ctx(e *spoeEngine) *spoeCtx {
	for i := range st.ctxs {
		if st.ctxs[i].e == e {
			return &st.ctxs[i]
		}
	}
	st.ctxs = append(st.ctxs, spoeCtx{e: e, fid: 1})
	return &st.ctxs[len(st.ctxs)-1]
}

// spoeScratch is what one exchange with an agent builds and reads:
// pooled, so that an exchange allocates only the variables it sets.
type spoeScratch struct {
	payload, ack []byte
	args         []spoe.Arg
	acts         []spoe.Action
	line         []byte
}

var spoeScratchPool = sync.Pool{New: func() any { return new(spoeScratch) }}

// process sends the messages to the engine's agent in one NOTIFY frame
// and applies the variables its ACK sets; event messages whose
// condition fails are left out, and nothing is sent when none is left.
// Once the engine's errors reach maxerrrate, it skips the processing.
func (e *spoeEngine) process(ctx acl.VarContext, st *spoeStream, set *spoeMsgs) {
	sx := st.ctx(e)
	if sx.off {
		return
	}
	if e.errRate != nil && e.errRate.Remaining(e.maxErr) == 0 {
		// HAProxy skips the processing but, within a stream that
		// processed before, logs that processing's line again.
		if sx.hasLast {
			e.log(st, set, &sx.last)
		}
		return
	}
	start := time.Now()
	sc := spoeScratchPool.Get().(*spoeScratch)
	defer spoeScratchPool.Put(sc)
	sc.payload = sc.payload[:0]
	sent := 0
	for i := range set.list {
		m := &set.list[i]
		if m.cond != nil && !m.cond.Eval(ctx) {
			continue
		}
		sc.args = sc.args[:0]
		for _, a := range m.args {
			sc.args = append(sc.args, spoe.Arg{Name: a.name, Value: sampleValue(a, ctx)})
		}
		sc.payload = spoe.AppendMessage(sc.payload, m.name, sc.args)
		sent++
	}
	clear(sc.args) // the samples' bytes
	if sent == 0 {
		e.processed.Add(1)
		sx.hasLast = false
		return
	}
	var deadline time.Time
	if t := e.cfg.Agent.ProcessingTimeout; t > 0 {
		deadline = start.Add(t)
	}
	var tm spoe.Timing
	ack, err := e.client.Notify(deadline, st.sid, sx.fid, sc.payload, sc.ack, &tm)
	sc.ack = ack[:0]
	if err == nil {
		sx.fid++
		if sc.acts, err = spoe.ParseActions(sc.acts[:0], ack); err == nil {
			e.apply(ctx, sc.acts)
			clear(sc.acts)
		} else {
			err = &spoe.Error{Code: 256 + spoe.StatusInvalid, Err: err}
		}
	}
	done := time.Now()
	e.processed.Add(1)
	elapsed := done.Sub(start)
	sx.total += elapsed
	if e.ptVar != "" {
		ctx.SetVar(e.ptVar, acl.Int(elapsed.Milliseconds()))
	}
	if e.ttVar != "" {
		ctx.SetVar(e.ttVar, acl.Int(sx.total.Milliseconds()))
	}
	l := spoeLast{times: [5]int64{
		spanMs(start, tm.Queued), spanMs(tm.Queued, tm.Sent), spanMs(tm.Sent, tm.Acked), spanMs(tm.Acked, done), elapsed.Milliseconds(),
	}}
	if err != nil {
		l.status = spoe.ErrCodeUnknown
		if se, ok := err.(*spoe.Error); ok {
			l.status = se.Code
		}
		e.errors.Add(1)
		if e.errRate != nil {
			e.errRate.Add(1)
		}
		if e.errVar != "" {
			ctx.SetVar(e.errVar, acl.Int(int64(l.status)))
		}
		sx.off = !e.cfg.Agent.ContinueOnError
	}
	sx.last, sx.hasLast = l, true
	if e.logs != nil {
		e.logLine(sc, st, set, &l)
	}
}

// spanMs is the time from a to b in milliseconds, -1 when the step at b
// was not reached.
func spanMs(a, b time.Time) int64 {
	if a.IsZero() || b.IsZero() {
		return -1
	}
	return b.Sub(a).Milliseconds()
}

// log emits the line of a processing, if the agent logs.
func (e *spoeEngine) log(st *spoeStream, set *spoeMsgs, l *spoeLast) {
	if e.logs == nil {
		return
	}
	sc := spoeScratchPool.Get().(*spoeScratch)
	defer spoeScratchPool.Put(sc)
	e.logLine(sc, st, set, l)
}

// logLine emits the line HAProxy logs of a processing: "SPOE: [agent]
// <EVENT|GROUP:name> sid=N st=STATUS reqT/qT/wT/resT/pT idle/conns
// sending/waiting errors/processed", at notice level, or warning for an
// error; option dontlog-normal leaves out the successes.
func (e *spoeEngine) logLine(sc *spoeScratch, st *spoeStream, set *spoeMsgs, l *spoeLast) {
	level := levelNotice
	if l.status != 0 {
		level = levelWarning
	} else if e.cfg.Agent.DontLogNormal {
		return
	}
	cs := e.client.Stats()
	b := append(sc.line[:0], "SPOE: ["...)
	b = append(b, e.cfg.Agent.Name...)
	b = append(b, "] <"...)
	b = append(b, set.label...)
	b = append(b, "> sid="...)
	b = strconv.AppendUint(b, st.sid, 10)
	b = append(b, " st="...)
	b = strconv.AppendInt(b, int64(l.status), 10)
	for i, t := range l.times {
		if i == 0 {
			b = append(b, ' ')
		} else {
			b = append(b, '/')
		}
		b = strconv.AppendInt(b, t, 10)
	}
	b = fmt.Appendf(b, " %d/%d %d/%d %d/%d", cs.Idle, cs.Conns, cs.Sending, cs.Waiting, e.errors.Load(), e.processed.Load())
	sc.line = b
	e.logs.emit(level, string(b))
}

// varNames are an agent's variable name in full, by scope, "" for one
// it may not set.
type varNames [5]string

// names returns the full names of an agent's variable name, worked out
// once per name: only those the configuration reads (or registers), but
// any under option force-set-var, which are then not kept.
func (e *spoeEngine) names(name []byte) *varNames {
	e.mu.RLock()
	n := e.known[string(name)]
	e.mu.RUnlock()
	if n != nil {
		return n
	}
	n = new(varNames)
	allowed := false
	for i := range n {
		full := spoe.ScopeName(byte(i)) + e.prefix + string(name)
		if e.cfg.Agent.ForceSetVar || e.registered[full] || acl.VarKnown(full) {
			n[i], allowed = full, true
		}
	}
	if e.cfg.Agent.ForceSetVar {
		return n // any name goes: none is kept
	}
	e.mu.Lock()
	if allowed || len(e.known) < maxKnownVarNames {
		e.known[string(name)] = n
	}
	e.mu.Unlock()
	return n
}

// maxKnownVarNames bounds the names an agent may make the engine
// remember without being allowed to set them.
const maxKnownVarNames = 1024

// apply runs the ACK's actions: variables under the engine's prefix,
// only those the configuration names (or registers) unless the agent
// may set any (option force-set-var).
func (e *spoeEngine) apply(ctx acl.VarContext, acts []spoe.Action) {
	for _, a := range acts {
		if int(a.Scope) >= len(varNames{}) || len(a.Name) == 0 {
			continue
		}
		name := e.names(a.Name)[a.Scope]
		if name == "" {
			continue
		}
		if a.Type == spoe.ActionUnsetVar {
			ctx.UnsetVar(name)
			continue
		}
		if s, ok := valueSample(a.Value); ok {
			ctx.SetVar(name, s)
		}
	}
}

// sampleValue fetches an argument as a typed datum; no sample is NULL.
func sampleValue(a spoeArg, ctx acl.Context) spoe.Value {
	s, ok := a.fn(ctx)
	if !ok {
		return spoe.Value{}
	}
	switch s.Type {
	case acl.TypeBool:
		return spoe.Bool(s.Int != 0)
	case acl.TypeInt:
		return spoe.Value{Type: spoe.TypeInt64, Int: s.Int}
	case acl.TypeIP:
		if s.IP.Is4() || s.IP.Is4In6() {
			return spoe.Value{Type: spoe.TypeIPv4, IP: s.IP.Unmap()}
		}
		return spoe.Value{Type: spoe.TypeIPv6, IP: s.IP}
	}
	v := spoe.Value{Type: spoe.TypeString, Text: s.Str}
	if a.bin {
		v.Type = spoe.TypeBinary
	}
	return v
}

// valueSample turns an agent's datum into a variable's sample; NULL sets
// nothing.
func valueSample(v spoe.Value) (acl.Sample, bool) {
	switch v.Type {
	case spoe.TypeBool:
		return acl.Bool(v.Int != 0), true
	case spoe.TypeInt32, spoe.TypeInt64:
		return acl.Int(v.Int), true
	case spoe.TypeUint32, spoe.TypeUint64:
		return acl.Int(int64(v.Uint)), true
	case spoe.TypeIPv4, spoe.TypeIPv6:
		return acl.IP(v.IP), true
	case spoe.TypeString, spoe.TypeBinary:
		return acl.Str(string(v.Bytes)), true
	}
	return acl.Sample{}, false
}

// spoeGroup finds the engine and the messages of a send-spoe-group rule
// (the configuration checked that both exist).
func (b *Balancer) spoeGroup(px *config.Proxy, engine, group string) (*spoeEngine, *spoeMsgs) {
	for _, e := range b.spoe[px] {
		if e.cfg.Name == engine {
			return e, e.groups[group]
		}
	}
	return nil, nil
}

// spoeEvent sends an event's messages through the stream's engines: a
// frontend event through the frontend's, a backend or response event
// through the frontend's and, when it is another proxy, the backend's.
func (ex *exchange) spoeEvent(front bool, event string) {
	fe := ex.hf.s.fe.http.spoe
	var be []*spoeEngine
	if !front && ex.bhp != nil && ex.bhp != ex.hf.s.fe.http {
		be = ex.bhp.spoe
	}
	if len(fe) == 0 && len(be) == 0 {
		return
	}
	for _, list := range [2][]*spoeEngine{fe, be} {
		for _, e := range list {
			if msgs := e.events[event]; msgs != nil && len(msgs.list) > 0 {
				e.process(ex, ex.spoeStream(), msgs)
			}
		}
	}
}

// spoeStream is the exchange's SPOE state, begun on first use.
func (ex *exchange) spoeStream() *spoeStream {
	if !ex.spoeOn {
		ex.spoeOn = true
		ex.spoe.reset(ex.log.rt)
	}
	return &ex.spoe
}

// sendSPOEGroup runs a send-spoe-group rule.
func (ex *exchange) sendSPOEGroup(r *httpRule) {
	if r.spoe != nil {
		r.spoe.process(ex, ex.spoeStream(), r.group)
	}
}
