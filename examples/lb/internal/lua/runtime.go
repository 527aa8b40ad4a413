// Package lua runs the Lua scripts of a configuration, as HAProxy's
// lua-load does: a script registers services (core.register_service),
// actions (core.register_action), sample fetches (core.register_fetches),
// converters (core.register_converters), functions run once the
// configuration is read (core.register_init) and background tasks
// (core.register_task), which the balancer then calls.
//
// The interpreter is gopher-lua, a Lua 5.1 written in Go; HAProxy embeds
// Lua 5.3. Scripts written for 5.3 run unchanged as long as they keep to
// what both versions share: 5.1 has no integer subtype (every number is
// a float64; values given to the balancer are truncated to integers), no
// "//" floor division, no bitwise operators, no utf8 library and no goto.
// The runtime adds table.pack and table.unpack, which 5.2 brought.
//
// A file loaded with lua-load runs in one state shared by every callback,
// as in HAProxy: its globals are seen and changed by all. One callback
// runs at a time in a state; a callback that waits (for the client's
// data, a sleep, core.yield) lets the others run meanwhile, as HAProxy's
// callbacks yield. The files loaded with lua-load-per-thread run in a
// second state of their own, which all callbacks share in the same way.
//
// A Lua error in a callback, a panic in the runtime's Go code, or a
// callback running longer than its timeout ends that callback only: the
// balancer logs it and goes on.
package lua

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// Default timeouts, HAProxy's: how long a callback may run.
const (
	DefaultSessionTimeout = 4 * time.Second
	DefaultServiceTimeout = 4 * time.Second
)

// Log levels, syslog's, as core.emerg..core.debug number them.
const (
	LevelEmerg = iota
	LevelAlert
	LevelCrit
	LevelErr
	LevelWarning
	LevelNotice
	LevelInfo
	LevelDebug
)

// levelNames are the syslog level names, by level.
var levelNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// LevelName returns the syslog name of level ("info"), "" when out of
// range.
func LevelName(level int) string {
	if level < 0 || level >= len(levelNames) {
		return ""
	}
	return levelNames[level]
}

// Logger writes a message at a syslog level: one a script logs
// (core.log, txn:Info...), or, failure set, the runtime's report of a
// callback that failed. ctx is the stream the callback runs for, nil for
// messages outside any (core.log, the code of a file being loaded,
// tasks).
type Logger func(ctx acl.Context, level int, msg string, failure bool)

// Kind says what a registered function is.
type Kind uint8

// Kinds of registered functions.
const (
	KindService Kind = iota + 1
	KindAction
	KindFetch
	KindConverter
)

// Action stages, the names core.register_action takes.
const (
	StageHTTPReq = "http-req"
	StageHTTPRes = "http-res"
	StageTCPReq  = "tcp-req"
	StageTCPRes  = "tcp-res"
)

// Verdict is what an action returns, HAProxy's act.* values.
type Verdict int

// Verdicts, in HAProxy's numbering (act.CONTINUE is 0 ... act.INVALID 7).
const (
	Continue Verdict = iota
	Stop
	Yield
	Error
	Done
	Deny
	Abort
	Invalid
)

// Closed is the verdict of an action that called txn:done(): the stream
// ends at once, nothing more answered.
const Closed Verdict = 100

// Runtime is a configuration's Lua: its states, what the scripts
// registered, and the tasks running. Build one with New, load files with
// Load while the configuration is read, then Start it with the balancer
// and Close it when the balancer stops.
type Runtime struct {
	// SessionTimeout bounds the run of an action, fetch or converter
	// (tune.lua.session-timeout); ServiceTimeout a service's
	// (tune.lua.service-timeout); TaskTimeout a task's or an init
	// function's (tune.lua.task-timeout, 0 for none). The time a
	// callback waits for I/O or sleeps is not counted.
	SessionTimeout, ServiceTimeout, TaskTimeout time.Duration

	refs   *acl.Refs
	shared *vm
	per    *vm
	paths  []string // lua-prepend-path, path kind
	cpaths []string

	mu    sync.Mutex
	names map[string]*registered
	// actionNames are the names of the actions, whatever their stages.
	actionNames map[string]bool
	inits       []fnRef
	tasks       []fnRef
	clis        []cliCommand
	logger      Logger

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
}

// registered is a function a script registered under a name.
type registered struct {
	kind  Kind
	fn    fnRef
	nargs int  // actions: the arguments the rule passes
	http  bool // services: "http" (else "tcp")
}

// actionKey is the name an action is registered under for one stage.
func actionKey(name, stage string) string { return stage + " " + name }

// fnRef is a Lua function and the state it lives in.
type fnRef struct {
	vm *vm
	fn *glua.LFunction
}

// New returns a runtime whose scripts compile their fetch and converter
// calls (txn.f, txn.c...) with the patterns of refs (nil: none).
func New(refs *acl.Refs) *Runtime {
	ctx, cancel := context.WithCancel(context.Background())
	return &Runtime{
		SessionTimeout: DefaultSessionTimeout,
		ServiceTimeout: DefaultServiceTimeout,
		refs:           refs,
		names:          map[string]*registered{},
		actionNames:    map[string]bool{},
		ctx:            ctx,
		cancel:         cancel,
	}
}

// SetLogger sets where the scripts' messages go; without one they go to
// standard error.
func (rt *Runtime) SetLogger(l Logger) {
	rt.mu.Lock()
	rt.logger = l
	rt.mu.Unlock()
}

// PrependPath adds path in front of package.path (kind "path" or "") or
// package.cpath ("cpath") of the states, as lua-prepend-path does.
func (rt *Runtime) PrependPath(path, kind string) error {
	switch kind {
	case "", "path":
		rt.paths = append(rt.paths, path)
	case "cpath":
		rt.cpaths = append(rt.cpaths, path)
	default:
		return fmt.Errorf("'%s' unknown path type (expects 'path' or 'cpath')", kind)
	}
	for _, v := range []*vm{rt.shared, rt.per} {
		if v != nil {
			v.setPaths()
		}
	}
	return nil
}

// Load compiles file and runs it in the shared state (perThread false,
// lua-load) or in the per-thread one (lua-load-per-thread). An error
// reads as HAProxy's: "error in Lua file 'F': F:LINE: ..." for a file
// that cannot be read or compiled, "Lua runtime error: ..." for one that
// fails while running.
func (rt *Runtime) Load(file string, perThread bool) error {
	src, err := os.ReadFile(file)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("error in Lua file '%s': cannot open %s: %s", file, file, capital(err.Error()))
	}
	proto, err := compile(string(src), chunkID(file))
	if err != nil {
		return fmt.Errorf("error in Lua file '%s': %w", file, err)
	}
	v := rt.shared
	if perThread {
		v = rt.per
	}
	if v == nil {
		v = newVM(rt)
		if perThread {
			rt.per = v
		} else {
			rt.shared = v
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	L := v.L
	fn := L.NewFunctionFromProto(proto)
	L.SetContext(rt.ctx)
	defer L.RemoveContext()
	if err := protect(func() error { return L.CallByParam(glua.P{Fn: fn, NRet: 0, Protect: true}) }); err != nil {
		//lint:ignore ST1005 haproxy's words
		return fmt.Errorf("Lua runtime error: %s", errText(err))
	}
	return nil
}

// capital writes a system error as C's strerror does ("No such file or
// directory").
func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// chunkID is the name a file's chunk goes by in error messages, as Lua
// 5.3 shortens it: a name longer than 59 bytes keeps its last 56, after
// "...".
func chunkID(file string) string {
	const idSize = 60 // LUA_IDSIZE, with the '@' and the NUL
	if len(file)+1 <= idSize {
		return file
	}
	return "..." + file[len(file)-(idSize-4):]
}

// compile parses and compiles a chunk, reporting a syntax error as
// "file:line: message".
func compile(src, name string) (*glua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			msg := strings.TrimSpace(pe.Message)
			if pe.Token != "" {
				msg += " near '" + pe.Token + "'"
			}
			if pe.Pos.Line == parse.EOF {
				return nil, fmt.Errorf("%s: %s at end of file", name, msg)
			}
			return nil, fmt.Errorf("%s:%d: %s", name, pe.Pos.Line, msg)
		}
		return nil, fmt.Errorf("%s: %s", name, strings.TrimSpace(err.Error()))
	}
	proto, err := glua.Compile(chunk, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", name, strings.TrimSpace(err.Error()))
	}
	return proto, nil
}

// errText is the message of a Lua error, without the traceback.
func errText(err error) string {
	var ae *glua.ApiError
	if errors.As(err, &ae) && ae.Object != nil {
		return ae.Object.String()
	}
	return err.Error()
}

// protect runs f, turning a panic into an error.
func protect(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("runtime panic: %v", r)
		}
	}()
	return f()
}

// register records a function a script registers.
func (rt *Runtime) register(name string, r *registered) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.names[keyOf(r.kind, name)] = r
	switch r.kind {
	case KindFetch:
		acl.NoteScriptName(name, false)
	case KindConverter:
		acl.NoteScriptName(name, true)
	}
}

func keyOf(k Kind, name string) string { return string(rune('0'+k)) + name }

func (rt *Runtime) lookup(k Kind, name string) *registered {
	if rt == nil {
		return nil
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.names[keyOf(k, name)]
}

// HasService reports whether a service name was registered, and whether
// it is an HTTP one (else TCP).
func (rt *Runtime) HasService(name string) (ok, http bool) {
	r := rt.lookup(KindService, name)
	if r == nil {
		return false, false
	}
	return true, r.http
}

// HasAction reports whether an action name was registered for stage
// (StageHTTPReq...), and how many arguments it expects from the rule.
func (rt *Runtime) HasAction(name, stage string) (ok bool, nargs int) {
	r := rt.lookup(KindAction, actionKey(name, stage))
	if r == nil {
		return false, 0
	}
	return true, r.nargs
}

// ActionRegistered reports whether an action name was registered, for
// any stage.
func (rt *Runtime) ActionRegistered(name string) bool {
	if rt == nil {
		return false
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.actionNames[name]
}

// Start runs the functions registered with core.register_init, then
// starts the tasks registered with core.register_task, each on a
// goroutine of its own until it returns or Close is called. logger, when
// not nil, receives the scripts' messages from then on.
func (rt *Runtime) Start(logger Logger) {
	if logger != nil {
		rt.SetLogger(logger)
	}
	rt.mu.Lock()
	if rt.started {
		rt.mu.Unlock()
		return
	}
	rt.started = true
	inits, tasks := rt.inits, rt.tasks
	rt.mu.Unlock()
	for _, f := range inits {
		if _, err := rt.run(f, nil, rt.TaskTimeout, nil); err != nil {
			rt.logFailure(nil, "Lua init: "+err.Error()+".")
		}
	}
	for _, f := range tasks {
		rt.startTask(f)
	}
}

// startTask runs f on a goroutine until it returns or the runtime closes.
func (rt *Runtime) startTask(f fnRef) {
	if rt.ctx.Err() != nil {
		return
	}
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		if _, err := rt.run(f, nil, rt.TaskTimeout, nil); err != nil && rt.ctx.Err() == nil {
			rt.logFailure(nil, "Lua task: "+err.Error()+".")
		}
	}()
}

// Close stops the tasks and waits for them to end. Callbacks running
// then end with an error.
func (rt *Runtime) Close() {
	if rt == nil {
		return
	}
	rt.cancel()
	rt.wg.Wait()
}

// log writes a message a script logs.
func (rt *Runtime) log(ctx acl.Context, level int, msg string) { rt.emit(ctx, level, msg, false) }

// logFailure reports a callback's failure, at level err.
func (rt *Runtime) logFailure(ctx acl.Context, msg string) { rt.emit(ctx, LevelErr, msg, true) }

func (rt *Runtime) emit(ctx acl.Context, level int, msg string, failure bool) {
	rt.mu.Lock()
	l := rt.logger
	rt.mu.Unlock()
	if l != nil {
		l(ctx, level, msg, failure)
		return
	}
	StderrLog(os.Stderr, level, msg, failure)
}

// StderrLog writes msg to w (standard error) as HAProxy writes there
// what scripts log, "[info] DDD/HHMMSS (PID) : msg" (nothing at level
// debug), and a callback's failure, "[ALERT]    (PID) : msg".
func StderrLog(w io.Writer, level int, msg string, failure bool) {
	switch {
	case failure:
		fmt.Fprintf(w, "[ALERT]    (%d) : %s\n", os.Getpid(), msg)
	case level < LevelDebug:
		now := time.Now()
		fmt.Fprintf(w, "[%s] %03d/%02d%02d%02d (%d) : %s\n", LevelName(level), now.YearDay()-1, now.Hour(), now.Minute(), now.Second(), os.Getpid(), msg)
	}
}

// callState is one callback's run on a thread of a state.
type callState struct {
	rt      *Runtime
	vm      *vm
	L       *glua.LState
	ctx     acl.Context
	timeout time.Duration
	cancel  context.CancelFunc
	priv    glua.LValue
	// done says txn:done() or core.done() ended the callback.
	done bool
	// http is the stream of an HTTP service, tcp of a TCP one.
	http  *httpApplet
	tcp   TCPStream
	tcpIn *reader
	// reply is what txn:done(reply) answers.
	reply *Reply
	// sockets are the connections core.tcp() opened.
	sockets []*socket
	// fn is the callback's function; trace is the traceback of the
	// error that ended it.
	fn    *glua.LFunction
	trace string
}

// arm gives the thread a fresh deadline: the timeout counts the time the
// callback runs, not what it waits for.
func (c *callState) arm() {
	if c.cancel != nil {
		c.cancel()
	}
	var cctx context.Context
	if c.timeout > 0 {
		cctx, c.cancel = context.WithTimeout(c.rt.ctx, c.timeout)
	} else {
		cctx, c.cancel = context.WithCancel(c.rt.ctx)
	}
	c.L.SetContext(cctx)
}

// run calls f on a thread of its state with the arguments args builds,
// and returns what it returned. ctx is the stream it runs for.
func (rt *Runtime) run(f fnRef, ctx acl.Context, timeout time.Duration, args func(c *callState) []glua.LValue) ([]glua.LValue, error) {
	res, err := rt.runCall(f, ctx, timeout, args, nil)
	return res.rets, err
}

// callResult is what runCall returns.
type callResult struct {
	*callState
	rets []glua.LValue
}

// runCall is run, with setup to prepare the call state (the stream of a
// service) before the arguments are built.
func (rt *Runtime) runCall(f fnRef, ctx acl.Context, timeout time.Duration, args func(c *callState) []glua.LValue, setup func(c *callState)) (res callResult, err error) {
	v := f.vm
	v.mu.Lock()
	defer v.mu.Unlock()
	L := v.thread()
	c := &callState{rt: rt, vm: v, L: L, ctx: ctx, timeout: timeout, priv: glua.LNil, fn: f.fn}
	res.callState = c
	if setup != nil {
		setup(c)
	}
	v.calls[L] = c
	c.arm()
	ok := false
	defer func() {
		for _, s := range c.sockets {
			if s.conn != nil {
				_ = s.conn.Close()
				s.conn = nil
			}
		}
		delete(v.calls, L)
		if c.cancel != nil {
			c.cancel()
		}
		L.RemoveContext()
		if ok {
			L.SetTop(0)
			v.free = append(v.free, L)
		}
	}()
	err = protect(func() error {
		var a []glua.LValue
		if args != nil {
			a = args(c)
		}
		L.Push(f.fn)
		for _, x := range a {
			L.Push(x)
		}
		return L.PCall(len(a), glua.MultRet, v.trace)
	})
	if err != nil {
		if c.done {
			ok = true
			return res, nil
		}
		switch {
		case errors.Is(c.rt.ctx.Err(), context.Canceled):
			return res, errors.New("stopped")
		case strings.Contains(errText(err), context.DeadlineExceeded.Error()):
			return res, errors.New("[state-id 0] runtime error: execution timeout")
		}
		// As HAProxy words a script's error (with one state: id 0).
		msg := "[state-id 0] runtime error: " + lua53Words(errText(err))
		if c.trace != "" {
			msg += " from " + c.trace
		}
		return res, errors.New(msg)
	}
	ok = true
	n := L.GetTop()
	res.rets = make([]glua.LValue, n)
	for i := range n {
		res.rets[i] = L.Get(i + 1)
	}
	return res, nil
}

// vm is one Lua state and the threads callbacks run on.
type vm struct {
	rt    *Runtime
	mu    sync.Mutex
	L     *glua.LState
	free  []*glua.LState
	calls map[*glua.LState]*callState
	// classes are the metatables of the objects given to callbacks.
	txnMT, fetchMT, convMT, httpMT, appletMT, httpAppletMT, replyMT, chanMT, cliMT *glua.LTable
	// reqChan and resChan are txn.req and txn.res.
	reqChan, resChan *glua.LTable
	// fObj, sfObj, cObj, scObj and httpObj are the objects txn.f,
	// txn.sf, txn.c, txn.sc and txn.http: one each per state, serving
	// whichever callback runs.
	fObj, sfObj, cObj, scObj, httpObj *glua.LTable
	// fetches and convs are the expressions the scripts called,
	// compiled.
	fetches map[string]acl.FetchFunc
	convs   map[convKey]acl.CtxConvFunc
	// trace is the error handler that keeps a failing callback's
	// traceback.
	trace *glua.LFunction
}

func newVM(rt *Runtime) *vm {
	// Small stacks that grow as a callback needs: each callback running
	// at once has a thread of its own, and most need little.
	L := glua.NewState(glua.Options{CallStackSize: 1024, RegistrySize: 1024, RegistryMaxSize: 1 << 20, RegistryGrowStep: 1024, MinimizeStackMemory: true})
	v := &vm{rt: rt, L: L, calls: map[*glua.LState]*callState{}, fetches: map[string]acl.FetchFunc{}, convs: map[convKey]acl.CtxConvFunc{}}
	v.trace = v.traceFn()
	v.openCompat()
	v.openCore()
	v.openClasses()
	v.openMaps()
	v.setPaths()
	return v
}

// thread returns an idle thread of the state.
func (v *vm) thread() *glua.LState {
	if n := len(v.free); n > 0 {
		L := v.free[n-1]
		v.free = v.free[:n-1]
		return L
	}
	L, _ := v.L.NewThread()
	return L
}

// setPaths prepends lua-prepend-path's paths to package.path and cpath.
func (v *vm) setPaths() {
	v.mu.Lock()
	defer v.mu.Unlock()
	pkg, ok := v.L.GetGlobal("package").(*glua.LTable)
	if !ok {
		return
	}
	set := func(field string, add []string) {
		if len(add) == 0 {
			return
		}
		base := glua.LVAsString(pkg.RawGetString(field + "_base"))
		if base == "" {
			base = glua.LVAsString(pkg.RawGetString(field))
			pkg.RawSetString(field+"_base", glua.LString(base))
		}
		p := base
		for _, a := range add {
			p = a + ";" + p
		}
		pkg.RawSetString(field, glua.LString(p))
	}
	set("path", v.rt.paths)
	set("cpath", v.rt.cpaths)
}

// block runs wait with the state unlocked, so that other callbacks run
// meanwhile, then gives the callback a fresh deadline.
func (v *vm) block(L *glua.LState, wait func()) {
	c := v.calls[L]
	v.mu.Unlock()
	// Locked again even when wait panics: the call's end unlocks.
	defer func() {
		v.mu.Lock()
		if c != nil {
			c.arm()
		}
	}()
	wait()
}

// current returns the call running on thread L.
func (v *vm) current(L *glua.LState) *callState {
	c := v.calls[L]
	if c == nil {
		L.RaiseError("not in a callback")
	}
	return c
}

// openCompat adds the Lua 5.2+ functions scripts written for HAProxy
// commonly use.
func (v *vm) openCompat() {
	L := v.L
	tbl, ok := L.GetGlobal("table").(*glua.LTable)
	if !ok {
		return
	}
	tbl.RawSetString("pack", L.NewFunction(func(L *glua.LState) int {
		n := L.GetTop()
		t := L.CreateTable(n, 1)
		for i := 1; i <= n; i++ {
			t.RawSetInt(i, L.Get(i))
		}
		t.RawSetString("n", glua.LNumber(n))
		L.Push(t)
		return 1
	}))
	if u := L.GetGlobal("unpack"); u != glua.LNil {
		tbl.RawSetString("unpack", u)
	}
}
