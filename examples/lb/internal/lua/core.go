package lua

import (
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// openCore sets the globals core and act.
func (v *vm) openCore() {
	L := v.L
	core := L.NewTable()
	for i, n := range levelNames {
		core.RawSetString(n, glua.LNumber(i))
	}
	fns := map[string]glua.LGFunction{
		"register_service":    v.registerService,
		"register_action":     v.registerAction,
		"register_fetches":    v.registerFunc(KindFetch),
		"register_converters": v.registerFunc(KindConverter),
		"register_init":       v.registerInit,
		"register_task":       v.registerTask,
		"register_cli":        v.registerCLI,
		"http_date":           dateFn(httpDate),
		"imf_date":            dateFn(imfDate),
		"rfc850_date":         dateFn(rfc850Date),
		"asctime_date":        dateFn(asctimeDate),
		"log": func(L *glua.LState) int {
			v.logFrom(L, L.CheckInt(1), L.CheckString(2))
			return 0
		},
		"Debug":   v.logAt(LevelDebug),
		"Info":    v.logAt(LevelInfo),
		"Warning": v.logAt(LevelWarning),
		"Alert":   v.logAt(LevelAlert),
		"msleep": func(L *glua.LState) int {
			v.sleep(L, time.Duration(L.CheckInt64(1))*time.Millisecond)
			return 0
		},
		"sleep": func(L *glua.LState) int {
			v.sleep(L, time.Duration(L.CheckInt64(1))*time.Second)
			return 0
		},
		"yield": func(L *glua.LState) int {
			v.block(L, runtime.Gosched)
			return 0
		},
		"now": func(L *glua.LState) int {
			now := time.Now()
			t := L.NewTable()
			t.RawSetString("sec", glua.LNumber(now.Unix()))
			t.RawSetString("usec", glua.LNumber(now.Nanosecond()/1000))
			L.Push(t)
			return 1
		},
		"get_info": func(L *glua.LState) int {
			t := L.NewTable()
			t.RawSetString("Name", glua.LString("HAProxy"))
			t.RawSetString("Version", glua.LString("2.6.12"))
			t.RawSetString("Pid", glua.LString(itoa(os.Getpid())))
			t.RawSetString("Nbthread", glua.LString(itoa(runtime.GOMAXPROCS(0))))
			L.Push(t)
			return 1
		},
		"done": func(L *glua.LState) int {
			if c := v.calls[L]; c != nil {
				c.done = true
			}
			L.RaiseError("done")
			return 0
		},
		"set_map": v.patternOp(func(r *acl.Ref, key, value string) { r.SetOrAdd(key, value) }, acl.RefMap, true),
		"del_map": v.patternOp(func(r *acl.Ref, key, _ string) { r.DeleteKey(key) }, acl.RefMap, false),
		"add_acl": v.patternOp(func(r *acl.Ref, key, _ string) { r.AddOnce(key) }, acl.RefACL, false),
		"del_acl": v.patternOp(func(r *acl.Ref, key, _ string) { r.DeleteKey(key) }, acl.RefACL, false),
		"concat": func(L *glua.LState) int {
			L.Push(newConcat(L))
			return 1
		},
		"tokenize":   coreTokenize,
		"parse_addr": coreParseAddr,
		"match_addr": coreMatchAddr,
	}
	for n, f := range fns {
		core.RawSetString(n, L.NewFunction(f))
	}
	v.openSocket(core)
	v.openHTTPClient(core)
	L.SetGlobal("core", core)
	act := L.NewTable()
	for i, n := range []string{"CONTINUE", "STOP", "YIELD", "ERROR", "DONE", "DENY", "ABORT", "INVALID"} {
		act.RawSetString(n, glua.LNumber(i))
	}
	act.RawSetString("wake_time", L.NewFunction(func(*glua.LState) int { return 0 }))
	L.SetGlobal("act", act)
}

func itoa(n int) string { return glua.LNumber(n).String() }

func (v *vm) logAt(level int) glua.LGFunction {
	return func(L *glua.LState) int {
		v.logFrom(L, level, L.CheckString(1))
		return 0
	}
}

// logFrom logs msg for the callback running on L, if any.
func (v *vm) logFrom(L *glua.LState, level int, msg string) {
	if level < 0 || level >= len(levelNames) {
		L.ArgError(1, "Invalid loglevel.")
	}
	v.rt.log(nil, level, msg)
}

// sleep waits d with the state unlocked, or until the runtime closes.
func (v *vm) sleep(L *glua.LState, d time.Duration) {
	stopped := false
	v.block(L, func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-v.rt.ctx.Done():
			stopped = true
		}
	})
	if stopped {
		L.RaiseError("stopped")
	}
}

// patternOp is core.set_map and its kin: an operation on the pattern
// reference of a file the configuration names.
func (v *vm) patternOp(op func(r *acl.Ref, key, value string), kind int, withValue bool) glua.LGFunction {
	return func(L *glua.LState) int {
		file, key := L.CheckString(1), L.CheckString(2)
		value := ""
		if withValue {
			value = L.CheckString(3)
		}
		if v.rt.refs == nil {
			return 0
		}
		r := v.rt.refs.Lookup(file, kind)
		if r == nil {
			L.RaiseError("'%s' is not a known file", file)
		}
		op(r, key, value)
		return 0
	}
}

// registerService is core.register_service(name, "http"|"tcp", fn).
func (v *vm) registerService(L *glua.LState) int {
	name, mode, fn := L.CheckString(1), L.CheckString(2), L.CheckFunction(3)
	if mode != "http" && mode != "tcp" {
		L.ArgError(2, "'"+mode+"' is not a known service mode; 'tcp' or 'http' are expected.")
	}
	v.rt.register(name, &registered{kind: KindService, fn: fnRef{v, fn}, http: mode == "http"})
	return 0
}

// registerAction is core.register_action(name, {stages}, fn[, nb_args]).
func (v *vm) registerAction(L *glua.LState) int {
	name, tbl, fn := L.CheckString(1), L.CheckTable(2), L.CheckFunction(3)
	nargs := L.OptInt(4, 0)
	// One action per stage: a script may register a name for the
	// requests and the same name, another function, for the responses.
	var stages []string
	tbl.ForEach(func(_, s glua.LValue) {
		st := glua.LVAsString(s)
		switch st {
		case StageHTTPReq, StageHTTPRes, StageTCPReq, StageTCPRes:
			stages = append(stages, st)
		default:
			L.ArgError(2, "'"+st+"' is not a known action type; 'tcp-req', 'tcp-res', 'http-req' or 'http-res' are expected.")
		}
	})
	for _, st := range stages {
		v.rt.register(actionKey(name, st), &registered{kind: KindAction, fn: fnRef{v, fn}, nargs: nargs})
	}
	v.rt.mu.Lock()
	v.rt.actionNames[name] = true
	v.rt.mu.Unlock()
	return 0
}

// registerFunc is core.register_fetches and core.register_converters.
func (v *vm) registerFunc(k Kind) glua.LGFunction {
	return func(L *glua.LState) int {
		name, fn := L.CheckString(1), L.CheckFunction(2)
		v.rt.register(name, &registered{kind: k, fn: fnRef{v, fn}})
		return 0
	}
}

func (v *vm) registerInit(L *glua.LState) int {
	fn := L.CheckFunction(1)
	v.rt.mu.Lock()
	v.rt.inits = append(v.rt.inits, fnRef{v, fn})
	v.rt.mu.Unlock()
	return 0
}

// registerTask is core.register_task(fn): at start, or at once when the
// runtime runs already (a task started from a callback).
func (v *vm) registerTask(L *glua.LState) int {
	fn := L.CheckFunction(1)
	v.rt.mu.Lock()
	started := v.rt.started
	if !started {
		v.rt.tasks = append(v.rt.tasks, fnRef{v, fn})
	}
	v.rt.mu.Unlock()
	if started {
		v.rt.startTask(fnRef{v, fn})
	}
	return 0
}

// newConcat returns a core.concat() object: add(s) appends, dump()
// returns the whole.
func newConcat(L *glua.LState) *glua.LTable {
	var sb strings.Builder
	t := L.NewTable()
	t.RawSetString("add", L.NewFunction(func(L *glua.LState) int {
		sb.WriteString(L.CheckString(2))
		return 0
	}))
	t.RawSetString("dump", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LString(sb.String()))
		return 1
	}))
	return t
}

// coreTokenize is core.tokenize(str, separators[, noblank]).
func coreTokenize(L *glua.LState) int {
	s, seps := L.CheckString(1), L.CheckString(2)
	noblank := L.OptBool(3, false)
	t := L.NewTable()
	i := 1
	for _, p := range splitAny(s, seps) {
		if noblank && p == "" {
			continue
		}
		t.RawSetInt(i, glua.LString(p))
		i++
	}
	L.Push(t)
	return 1
}

func splitAny(s, seps string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(seps, s[i]) >= 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// addrUD is the userdata core.parse_addr returns.
type addrUD struct{ p netip.Prefix }

func coreParseAddr(L *glua.LState) int {
	p, err := acl.ParsePrefix(L.CheckString(1))
	if err != nil {
		L.Push(glua.LNil)
		return 1
	}
	ud := L.NewUserData()
	ud.Value = addrUD{p}
	L.Push(ud)
	return 1
}

func coreMatchAddr(L *glua.LState) int {
	a, ok1 := L.CheckUserData(1).Value.(addrUD)
	b, ok2 := L.CheckUserData(2).Value.(addrUD)
	if !ok1 || !ok2 {
		L.ArgError(1, "addresses expected")
	}
	match := func(net, host netip.Prefix) bool {
		return net.Contains(host.Addr())
	}
	if a.p.Bits() <= b.p.Bits() {
		L.Push(glua.LBool(match(a.p, b.p)))
	} else {
		L.Push(glua.LBool(match(b.p, a.p)))
	}
	return 1
}
