package acl

import (
	"strings"
	"sync"
)

// scriptNames are the fetch ("f"+name) and converter ("c"+name) names
// any configuration's scripts registered (NoteScriptName), which
// expressions compiled without a Refs holding the scripts accept, for
// checking only: they find no sample there.
var scriptNames sync.Map

// NoteScriptName records that a script registered a fetch (conv false)
// or a converter (conv true) named name (without ScriptPrefix).
func NoteScriptName(name string, conv bool) {
	k := "f" + name
	if conv {
		k = "c" + name
	}
	scriptNames.Store(k, true)
}

func scriptNameKnown(name string, conv bool) bool {
	k := "f" + name
	if conv {
		k = "c" + name
	}
	_, ok := scriptNames.Load(k)
	return ok
}

// ScriptPrefix starts the names of the fetches and converters that a
// configuration's scripts register ("lua.NAME"), as HAProxy names them.
const ScriptPrefix = "lua."

// Scripts gives the fetches and converters a configuration's scripts
// registered, by name without ScriptPrefix. A Refs holding one (see
// SetScripts) resolves "lua.NAME" through it; without one, such names are
// unknown.
type Scripts interface {
	// ScriptFetch returns the fetch registered as name, called with
	// args; ok is false when there is none.
	ScriptFetch(name string, args []string) (fn FetchFunc, ok bool)
	// ScriptConverter returns the converter registered as name, called
	// with args; ok is false when there is none.
	ScriptConverter(name string, args []string) (fn CtxConvFunc, ok bool)
}

// SetScripts makes the fetches and converters of s usable in the
// expressions rs compiles. It is called once, while the configuration is
// read, before any expression naming them.
func (rs *Refs) SetScripts(s Scripts) {
	rs.mu.Lock()
	rs.scripts = s
	rs.mu.Unlock()
}

func (rs *Refs) getScripts() Scripts {
	if rs == nil {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.scripts
}

// scriptArgs splits the argument of "lua.NAME(a,b)".
func scriptArgs(arg string) []string {
	if arg == "" {
		return nil
	}
	return strings.Split(arg, ",")
}

// scriptFetch resolves "lua.NAME" with rs's scripts.
func (rs *Refs) scriptFetch(name, arg string) (Fetch, FetchFunc, bool) {
	if !strings.HasPrefix(name, ScriptPrefix) {
		return Fetch{}, nil, false
	}
	s := rs.getScripts()
	var fn FetchFunc
	switch {
	case s != nil:
		var ok bool
		if fn, ok = s.ScriptFetch(name[len(ScriptPrefix):], scriptArgs(arg)); !ok {
			return Fetch{}, nil, false
		}
	case scriptNameKnown(name[len(ScriptPrefix):], false):
		fn = func(Context) (Sample, bool) { return Sample{}, false }
	default:
		return Fetch{}, nil, false
	}
	// HAProxy declares the samples of scripts' fetches strings, whatever
	// their values turn out to be.
	return Fetch{Name: name, Type: TypeStr, Arg: ArgOptional, Compile: func(string) (FetchFunc, error) { return fn, nil }}, fn, true
}

// CompileConverter compiles a chain of converters ("lower,field(1,:)")
// to apply to samples of type in, for callers that hold a value rather
// than a fetch (scripts calling converters).
func (rs *Refs) CompileConverter(expr string, in Type) (CtxConvFunc, error) {
	_, convs, err := splitConverters("x," + expr)
	if err != nil {
		return nil, err
	}
	conv, _, err := compileConverters(convs, Fetch{Name: "", Type: in}, rs)
	if err != nil {
		return nil, err
	}
	if conv == nil {
		return func(_ Context, s Sample) (Sample, bool) { return s, true }, nil
	}
	return conv, nil
}

// scriptFetchNames maps the names scripts call fetches by (txn.f:NAME)
// to the fetches': HAProxy gives scripts each fetch under its name with
// its dots made underscores (req.hdr is req_hdr).
var scriptFetchNames = sync.OnceValue(func() map[string]string {
	registry.RLock()
	defer registry.RUnlock()
	m := map[string]string{}
	for n := range registry.fetches {
		if strings.Contains(n, ".") {
			m[strings.ReplaceAll(n, ".", "_")] = n
		}
	}
	return m
})

// ScriptFetchName returns the fetch a script calls name: the fetch of
// that name, or the one whose dots name's underscores stand for.
func ScriptFetchName(name string) string {
	if _, ok := LookupFetch(name); ok {
		return name
	}
	if n, ok := scriptFetchNames()[name]; ok {
		return n
	}
	return name
}
