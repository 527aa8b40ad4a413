package lua

import (
	"regexp"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Tracebacks as haproxy writes them after a callback's error: " from "
// and the frames from the one that failed to the callback, each as
// "FILE:LINE: in KIND 'NAME'" ("[C]: " for a function of the host), or
// "in function line N" for a function called without a name (the
// callback itself, N the line it starts at), joined by ", ".

// traceFn is the error handler of the callbacks' calls: it keeps the
// traceback of the error in the callback's state, the stack still as
// the error left it, and passes the error on unchanged.
func (v *vm) traceFn() *glua.LFunction {
	return v.L.NewFunction(func(L *glua.LState) int {
		if c := v.calls[L]; c != nil {
			c.trace = traceback(L, c.fn)
		}
		L.Push(L.Get(1))
		return 1
	})
}

// traceback describes L's frames from the one below the handler's to
// the callback's, whose function is top. gopher-lua reuses a frame for
// a tail call and its GetStack answers the levels such a frame stands
// for with the bottom frame: that one is kept for the end, and a frame a
// tail call reused is written as Lua 5.3 writes it, without a name and
// with " ..." after it.
func traceback(L *glua.LState, top *glua.LFunction) string {
	var parts []string
	var bottom *glua.Debug
	var bottomFn *glua.LFunction
	for level := 1; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		fv, err := L.GetInfo("Slnf", dbg, nil)
		fn, isFn := fv.(*glua.LFunction)
		if err != nil || !isFn {
			break
		}
		if dbg.What == "main" {
			bottom, bottomFn = dbg, fn
			continue
		}
		kind := ""
		if caller, ok := L.GetStack(level + 1); ok && dbg.What != "tail" {
			kind = callKind(L, caller, dbg.Name)
		}
		parts = append(parts, frameText(dbg, fn, kind, dbg.What == "tail"))
	}
	if bottom != nil {
		parts = append(parts, frameText(bottom, bottomFn, "", bottomFn != top))
	}
	return strings.Join(parts, ", ")
}

// frameText is one frame of a traceback.
func frameText(dbg *glua.Debug, fn *glua.LFunction, kind string, tail bool) string {
	var b strings.Builder
	switch {
	case fn.IsG:
		b.WriteString("[C]: ")
	case dbg.CurrentLine > 0:
		b.WriteString(dbg.Source + ":" + strconv.Itoa(dbg.CurrentLine) + ": ")
	default:
		b.WriteString(dbg.Source + ": ")
	}
	switch {
	case kind != "":
		b.WriteString("in " + kind + " '" + dbg.Name + "'")
	case !fn.IsG:
		b.WriteString("in function line " + strconv.Itoa(dbg.LineDefined))
	default:
		b.WriteString("?")
	}
	if tail {
		b.WriteString(" ...")
	}
	return b.String()
}

// callKind says how the Lua function of frame caller named the function
// it called as name at its current line, as Lua 5.3 does: "global",
// "local", "method", "field" or "upvalue", by the instruction that
// loaded the function; "" when it cannot tell.
func callKind(L *glua.LState, caller *glua.Debug, name string) string {
	fv, err := L.GetInfo("lf", caller, nil)
	fn, ok := fv.(*glua.LFunction)
	if err != nil || !ok || fn.IsG || fn.Proto == nil || name == "" {
		return ""
	}
	p := fn.Proto
	pc := -1
	for _, call := range p.DbgCalls {
		if call.Name == name && call.Pc >= 0 && call.Pc < len(p.DbgSourcePositions) && p.DbgSourcePositions[call.Pc] == caller.CurrentLine {
			pc = call.Pc
			break
		}
	}
	if pc < 0 || pc >= len(p.Code) {
		return ""
	}
	reg := argA(p.Code[pc])
	for j := pc - 1; j >= 0 && j >= pc-256; j-- {
		in := p.Code[j]
		if argA(in) != reg {
			continue
		}
		switch int(in >> 26) {
		case glua.OP_GETGLOBAL:
			return "global"
		case glua.OP_SELF:
			return "method"
		case glua.OP_GETTABLE, glua.OP_GETTABLEKS:
			return "field"
		case glua.OP_GETUPVAL:
			return "upvalue"
		case glua.OP_MOVE:
			return "local"
		case glua.OP_LOADK, glua.OP_LOADNIL, glua.OP_LOADBOOL, glua.OP_CALL, glua.OP_CLOSURE, glua.OP_NEWTABLE, glua.OP_VARARG:
			return ""
		}
	}
	return ""
}

// argA is an instruction's A operand.
func argA(in uint32) int { return int(in>>18) & 0xff }

// Lua 5.1's words for the common runtime errors of gopher-lua, and Lua
// 5.3's, which haproxy logs: a bad argument's function name is quoted,
// an operation on a wrong type names the type. What 5.3 adds about the
// variable involved (" (local 'x')") is not known here.
var (
	badArgRE = regexp.MustCompile(`bad argument #(\d+) to ([A-Za-z_][A-Za-z0-9_.]*) \(`)
	concatRE = regexp.MustCompile(`cannot perform concat operation between (\w+) and (\w+)`)
	arithRE  = regexp.MustCompile(`cannot perform (?:add|sub|mul|div|mod|pow|unm) operation between (\w+) and (\w+)`)
	indexRE  = regexp.MustCompile(`attempt to index a non-table object\((\w+)\) with key '[^']*'`)
)

// lua53Words rewrites msg's gopher-lua runtime error words as Lua 5.3
// writes them.
func lua53Words(msg string) string {
	if !strings.Contains(msg, "bad argument") && !strings.Contains(msg, "cannot perform") && !strings.Contains(msg, "attempt to index") {
		return msg
	}
	msg = badArgRE.ReplaceAllString(msg, "bad argument #$1 to '$2' (")
	msg = concatRE.ReplaceAllStringFunc(msg, func(m string) string {
		p := concatRE.FindStringSubmatch(m)
		bad := p[1]
		if bad == "string" || bad == "number" {
			bad = p[2]
		}
		return "attempt to concatenate a " + bad + " value"
	})
	msg = arithRE.ReplaceAllStringFunc(msg, func(m string) string {
		p := arithRE.FindStringSubmatch(m)
		bad := p[1]
		if bad == "number" {
			bad = p[2]
		}
		return "attempt to perform arithmetic on a " + bad + " value"
	})
	return indexRE.ReplaceAllString(msg, "attempt to index a $1 value")
}
