package lua

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// Reply is the answer an action gives with txn:done(reply): a status,
// its reason ("" for the status's own), fields and a body.
type Reply struct {
	Status  int
	Reason  string
	Headers [][2]string
	Body    string
}

// replyOf reads a reply object (or any table with its fields): status,
// reason, headers (name -> value or list of values), body.
func replyOf(t *glua.LTable) *Reply {
	r := &Reply{Status: 200}
	if n, ok := t.RawGetString("status").(glua.LNumber); ok {
		r.Status = int(n)
	}
	if s, ok := t.RawGetString("reason").(glua.LString); ok {
		r.Reason = string(s)
	}
	if s, ok := t.RawGetString("body").(glua.LString); ok {
		r.Body = string(s)
	}
	if h, ok := t.RawGetString("headers").(*glua.LTable); ok {
		var names []string
		values := map[string][]string{}
		h.ForEach(func(k, v glua.LValue) {
			name := strings.ToLower(k.String())
			if _, seen := values[name]; !seen {
				names = append(names, name)
			}
			switch x := v.(type) {
			case *glua.LTable:
				for i := 1; i <= x.Len(); i++ {
					values[name] = append(values[name], x.RawGetInt(i).String())
				}
			default:
				values[name] = append(values[name], x.String())
			}
		})
		// HAProxy writes them in its table's order, which is no
		// order: lb sorts them.
		sort.Strings(names)
		for _, n := range names {
			for _, v := range values[n] {
				r.Headers = append(r.Headers, [2]string{n, v})
			}
		}
	}
	return r
}

// replyMethods are the methods of txn:reply()'s object.
func replyMethods() map[string]glua.LGFunction {
	headers := func(L *glua.LState) *glua.LTable {
		t := L.CheckTable(1)
		h, ok := t.RawGetString("headers").(*glua.LTable)
		if !ok {
			h = L.NewTable()
			t.RawSetString("headers", h)
		}
		return h
	}
	return map[string]glua.LGFunction{
		"set_status": func(L *glua.LState) int {
			t := L.CheckTable(1)
			t.RawSetString("status", glua.LNumber(L.CheckInt(2)))
			if r := L.OptString(3, ""); r != "" {
				t.RawSetString("reason", glua.LString(r))
			}
			return 0
		},
		"add_header": func(L *glua.LState) int {
			h := headers(L)
			name := strings.ToLower(L.CheckString(2))
			vals, ok := h.RawGetString(name).(*glua.LTable)
			if !ok {
				vals = L.NewTable()
				h.RawSetString(name, vals)
			}
			vals.Append(glua.LString(L.CheckString(3)))
			return 0
		},
		"del_header": func(L *glua.LState) int {
			headers(L).RawSetString(strings.ToLower(L.CheckString(2)), glua.LNil)
			return 0
		},
		"set_body": func(L *glua.LState) int {
			L.CheckTable(1).RawSetString("body", glua.LString(L.CheckString(2)))
			return 0
		},
	}
}

// PrivHolder is a stream context that keeps a script's private data
// (txn:set_priv) from one callback of the stream to the next, as
// HAProxy keeps it for the transaction; without one it lasts the call.
type PrivHolder interface {
	// LuaPriv returns where the data is kept, nil for nowhere.
	LuaPriv() *any
}

// TxnControl is what a stream's context may offer the txn object's
// set_loglevel, set_tos and set_mark.
type TxnControl interface {
	// SetLogLevel sets the level of the stream's log line.
	SetLogLevel(level int)
	// SetTOS sets the TOS (or traffic class) of the client's packets.
	SetTOS(tos int)
	// SetMark sets the firewall mark of the client's packets.
	SetMark(mark int)
}

// PriorityControl is what a stream's context may offer the txn
// object's set_priority_class and set_priority_offset: its place in the
// queues, as the rules of those names set it.
type PriorityControl interface {
	SetPriority(class bool, n int64)
}

// fetchFunc compiles (once per state) the fetch expression expr. The
// caller holds the state's lock.
func (v *vm) fetchFunc(expr string) (acl.FetchFunc, error) {
	if fn, ok := v.fetches[expr]; ok {
		return fn, nil
	}
	if strings.Contains(expr, acl.ScriptPrefix) {
		// A script's fetch would wait for the state its caller holds.
		return nil, errors.New("a script's fetch or converter cannot be called from a script")
	}
	var (
		fn  acl.FetchFunc
		err error
	)
	if refs := v.rt.refs; refs != nil {
		_, fn, err = refs.CompileFetch(expr)
	} else {
		_, fn, err = acl.CompileFetch(expr)
	}
	if err != nil {
		return nil, err
	}
	v.fetches[expr] = fn
	return fn, nil
}

// convKey names a compiled converter chain: its expression and the type
// of its input.
type convKey struct {
	expr string
	in   acl.Type
}

// convFunc compiles (once per state) the converter expression expr for
// samples of type in. The caller holds the state's lock.
func (v *vm) convFunc(expr string, in acl.Type) (acl.CtxConvFunc, error) {
	k := convKey{expr, in}
	if fn, ok := v.convs[k]; ok {
		return fn, nil
	}
	if strings.Contains(expr, acl.ScriptPrefix) {
		return nil, errors.New("a script's fetch or converter cannot be called from a script")
	}
	refs := v.rt.refs
	if refs == nil {
		refs = acl.NewRefs()
	}
	fn, err := refs.CompileConverter(expr, in)
	if err != nil {
		return nil, err
	}
	v.convs[k] = fn
	return fn, nil
}

// push converts a sample to a Lua value: a string when str is set (the
// .sf and .sc objects), else its own type (an address as its text).
func push(s acl.Sample, str bool) glua.LValue {
	if str {
		return glua.LString(s.String())
	}
	switch s.Type {
	case acl.TypeBool:
		return glua.LBool(s.Int != 0)
	case acl.TypeInt:
		return glua.LNumber(s.Int)
	}
	return glua.LString(s.String())
}

// result is what a fetch or converter call gives a script: the sample,
// or, when there is none, nil (an empty string from the .sf and .sc
// objects, as HAProxy's).
func result(s acl.Sample, ok, str bool) glua.LValue {
	if !ok {
		if str {
			return glua.LString("")
		}
		return glua.LNil
	}
	return push(s, str)
}

// toSample converts a Lua value to a sample; ok is false for nil and
// values with no sample form (tables, functions).
func toSample(v glua.LValue) (acl.Sample, bool) {
	switch x := v.(type) {
	case glua.LString:
		return acl.Str(string(x)), true
	case glua.LNumber:
		return acl.Int(int64(x)), true
	case glua.LBool:
		return acl.Bool(bool(x)), true
	}
	return acl.Sample{}, false
}

// argText writes an argument of a fetch or converter call as the
// configuration would.
func argText(v glua.LValue) string {
	if n, ok := v.(glua.LNumber); ok {
		return strconv.FormatInt(int64(n), 10)
	}
	return v.String()
}

// callExpr builds "name(a,b)" from the arguments from index first on.
func callExpr(L *glua.LState, name string, first int) string {
	n := L.GetTop()
	if n < first {
		return name
	}
	var sb strings.Builder
	sb.WriteString(name)
	sb.WriteByte('(')
	for i := first; i <= n; i++ {
		if i > first {
			sb.WriteByte(',')
		}
		sb.WriteString(argText(L.Get(i)))
	}
	sb.WriteByte(')')
	return sb.String()
}

// openClasses builds the shared objects: the fetch and converter
// objects and the metatables of txn, http and applets.
func (v *vm) openClasses() {
	L := v.L
	v.fetchMT = v.dispatcher(func(name string, str bool) glua.LGFunction {
		return func(L *glua.LState) int {
			c := v.current(L)
			fn, err := v.fetchFunc(callExpr(L, acl.ScriptFetchName(name), 2))
			if err != nil {
				L.RaiseError("%s", err.Error())
			}
			var (
				s  acl.Sample
				ok bool
			)
			if c.ctx != nil {
				s, ok = fn(c.ctx)
			}
			L.Push(result(s, ok, str))
			return 1
		}
	})
	v.convMT = v.dispatcher(func(name string, str bool) glua.LGFunction {
		return func(L *glua.LState) int {
			c := v.current(L)
			in, ok := toSample(L.Get(2))
			if !ok {
				L.Push(result(in, false, str))
				return 1
			}
			fn, err := v.convFunc(callExpr(L, name, 3), in.Type)
			if err != nil {
				L.RaiseError("%s", err.Error())
			}
			s, ok := fn(c.ctx, in)
			L.Push(result(s, ok, str))
			return 1
		}
	})
	v.fObj = v.newObject(L, v.fetchMT, false)
	v.sfObj = v.newObject(L, v.fetchMT, true)
	v.cObj = v.newObject(L, v.convMT, false)
	v.scObj = v.newObject(L, v.convMT, true)
	v.txnMT = v.class(txnMethods(v))
	v.httpMT = v.class(httpMethods(v))
	v.replyMT = v.class(replyMethods())
	v.chanMT = v.class(channelMethods(v))
	v.reqChan, v.resChan = L.NewTable(), L.NewTable()
	v.resChan.RawSetString("__res", glua.LTrue)
	L.SetMetatable(v.reqChan, v.chanMT)
	L.SetMetatable(v.resChan, v.chanMT)
	v.httpObj = L.NewTable()
	L.SetMetatable(v.httpObj, v.httpMT)
	v.httpAppletMT = v.class(httpAppletMethods(v))
	v.appletMT = v.class(tcpAppletMethods(v))
	v.cliMT = v.class(cliAppletMethods(v))
}

// class returns a metatable whose __index is a table of methods.
func (v *vm) class(methods map[string]glua.LGFunction) *glua.LTable {
	mt := v.L.NewTable()
	idx := v.L.NewTable()
	for n, f := range methods {
		idx.RawSetString(n, v.L.NewFunction(f))
	}
	mt.RawSetString("__index", idx)
	return mt
}

// dispatcher returns the metatable of a fetch or converter object: any
// method name is the fetch or converter of that name; the object's
// field str says whether values come back as strings.
func (v *vm) dispatcher(mk func(name string, str bool) glua.LGFunction) *glua.LTable {
	mt := v.L.NewTable()
	mt.RawSetString("__index", v.L.NewFunction(func(L *glua.LState) int {
		t := L.CheckTable(1)
		name := L.CheckString(2)
		str := glua.LVAsBool(t.RawGetString("__str"))
		f := L.NewFunction(mk(name, str))
		t.RawSetString(name, f)
		L.Push(f)
		return 1
	}))
	return mt
}

// newObject returns an object of the dispatcher metatable mt.
func (v *vm) newObject(L *glua.LState, mt *glua.LTable, str bool) *glua.LTable {
	t := L.NewTable()
	if str {
		t.RawSetString("__str", glua.LTrue)
	}
	L.SetMetatable(t, mt)
	return t
}

// fillSamplers sets the f, sf, c and sc fields of a txn or applet: the
// state's objects, which serve whichever callback runs.
func (v *vm) fillSamplers(t *glua.LTable) {
	t.RawSetString("f", v.fObj)
	t.RawSetString("sf", v.sfObj)
	t.RawSetString("c", v.cObj)
	t.RawSetString("sc", v.scObj)
}

// newTxn returns the txn object of a call.
func (v *vm) newTxn(L *glua.LState, c *callState) *glua.LTable {
	t := L.NewTable()
	v.fillSamplers(t)
	if _, ok := c.ctx.(acl.HTTPContext); ok {
		// The channels are there too, as haproxy's, whose data methods
		// refuse HTTP messages.
		t.RawSetString("http", v.httpObj)
		t.RawSetString("req", v.reqChan)
		t.RawSetString("res", v.resChan)
	} else if _, ok := c.ctx.(acl.ContentContext); ok {
		t.RawSetString("req", v.reqChan)
		t.RawSetString("res", v.resChan)
	}
	L.SetMetatable(t, v.txnMT)
	return t
}

// varMethods are the variable and private-data methods txn and applets
// share.
func varMethods(v *vm, m map[string]glua.LGFunction) {
	m["set_var"] = func(L *glua.LState) int {
		c := v.current(L)
		name := L.CheckString(2)
		if _, _, err := acl.ParseVarName(name); err != nil {
			L.RaiseError("%s", err.Error())
		}
		s, ok := toSample(L.Get(3))
		vc, isVC := c.ctx.(acl.VarContext)
		if !ok || !isVC {
			return 0
		}
		if L.OptBool(4, false) {
			if _, exists := vc.Var(name); !exists {
				return 0
			}
		}
		vc.SetVar(name, s)
		return 0
	}
	m["unset_var"] = func(L *glua.LState) int {
		c := v.current(L)
		name := L.CheckString(2)
		if vc, ok := c.ctx.(acl.VarContext); ok {
			vc.UnsetVar(name)
		}
		return 0
	}
	m["get_var"] = func(L *glua.LState) int {
		c := v.current(L)
		name := L.CheckString(2)
		vc, ok := c.ctx.(acl.VarContext)
		if !ok {
			L.Push(glua.LNil)
			return 1
		}
		s, ok := vc.Var(name)
		if !ok || s.Type == 0 {
			L.Push(glua.LNil)
			return 1
		}
		L.Push(push(s, false))
		return 1
	}
	m["get_priv"] = func(L *glua.LState) int {
		c := v.current(L)
		if h, ok := c.ctx.(PrivHolder); ok {
			if p := h.LuaPriv(); p != nil {
				if lv, ok := (*p).(glua.LValue); ok {
					L.Push(lv)
					return 1
				}
				L.Push(glua.LNil)
				return 1
			}
		}
		L.Push(c.priv)
		return 1
	}
	m["set_priv"] = func(L *glua.LState) int {
		c := v.current(L)
		if h, ok := c.ctx.(PrivHolder); ok {
			if p := h.LuaPriv(); p != nil {
				*p = L.Get(2)
				return 0
			}
		}
		c.priv = L.Get(2)
		return 0
	}
}

func txnMethods(v *vm) map[string]glua.LGFunction {
	m := map[string]glua.LGFunction{}
	varMethods(v, m)
	logAt := func(level int) glua.LGFunction {
		return func(L *glua.LState) int {
			c := v.current(L)
			v.rt.log(c.ctx, level, L.CheckString(2))
			return 0
		}
	}
	m["log"] = func(L *glua.LState) int {
		c := v.current(L)
		level := L.CheckInt(2)
		if LevelName(level) == "" {
			L.ArgError(2, "Invalid loglevel.")
		}
		v.rt.log(c.ctx, level, L.CheckString(3))
		return 0
	}
	m["Debug"], m["Info"], m["Warning"], m["Alert"] = logAt(LevelDebug), logAt(LevelInfo), logAt(LevelWarning), logAt(LevelAlert)
	m["deflog"] = logAt(LevelInfo)
	ctl := func(set func(TxnControl, int)) glua.LGFunction {
		return func(L *glua.LState) int {
			c := v.current(L)
			n := L.CheckInt(2)
			if tc, ok := c.ctx.(TxnControl); ok {
				set(tc, n)
			}
			return 0
		}
	}
	m["set_loglevel"] = ctl(TxnControl.SetLogLevel)
	m["set_tos"] = ctl(TxnControl.SetTOS)
	m["set_mark"] = ctl(TxnControl.SetMark)
	prio := func(class bool) glua.LGFunction {
		return func(L *glua.LState) int {
			n := L.CheckInt64(2)
			if pc, ok := v.current(L).ctx.(PriorityControl); ok {
				pc.SetPriority(class, n)
			}
			return 0
		}
	}
	m["set_priority_class"] = prio(true)
	m["set_priority_offset"] = prio(false)
	m["done"] = func(L *glua.LState) int {
		c := v.current(L)
		if t, ok := L.Get(2).(*glua.LTable); ok {
			c.reply = replyOf(t)
		}
		c.done = true
		L.RaiseError("done")
		return 0
	}
	m["reply"] = func(L *glua.LState) int {
		r := L.NewTable()
		r.RawSetString("status", glua.LNumber(200))
		r.RawSetString("headers", L.NewTable())
		r.RawSetString("body", glua.LString(""))
		if t, ok := L.Get(2).(*glua.LTable); ok {
			for _, k := range []string{"status", "reason", "body"} {
				if x := t.RawGetString(k); x != glua.LNil {
					r.RawSetString(k, x)
				}
			}
			if h, ok := t.RawGetString("headers").(*glua.LTable); ok {
				r.RawSetString("headers", h)
			}
		}
		L.SetMetatable(r, v.replyMT)
		L.Push(r)
		return 1
	}
	m["get_headers"] = func(L *glua.LState) int {
		c := v.current(L)
		L.Push(headersTable(L, reqOf(c)))
		return 1
	}
	return m
}

func reqOf(c *callState) *htx.Message {
	if h, ok := c.ctx.(acl.HTTPContext); ok {
		return h.HTTPRequest()
	}
	return nil
}

func resOf(c *callState) *htx.Message {
	if h, ok := c.ctx.(acl.HTTPResponseContext); ok {
		return h.HTTPResponse()
	}
	return nil
}

// headersTable returns a message's fields as HAProxy gives them to
// scripts: lowercase name -> values indexed from 0.
func headersTable(L *glua.LState, m *htx.Message) *glua.LTable {
	t := L.NewTable()
	if m == nil {
		return t
	}
	count := map[string]int{}
	for i := 0; i < m.NumFields(); i++ {
		name, value := m.Field(i)
		n := strings.ToLower(string(name))
		vals, ok := t.RawGetString(n).(*glua.LTable)
		if !ok {
			vals = L.NewTable()
			t.RawSetString(n, vals)
		}
		vals.RawSet(glua.LNumber(count[n]), glua.LString(value))
		count[n]++
	}
	return t
}

// replaceValues applies a replace-header (whole) or replace-value (per
// comma-separated value) to the fields of m named name.
func replaceValues(m *htx.Message, name string, re *regexp.Regexp, repl string, perValue bool) {
	tmpl := strings.NewReplacer(`\0`, "${0}", `\1`, "${1}", `\2`, "${2}", `\3`, "${3}", `\4`, "${4}", `\5`, "${5}", `\6`, "${6}", `\7`, "${7}", `\8`, "${8}", `\9`, "${9}").Replace(repl)
	rep := func(s string) string {
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			return s
		}
		return string(re.ExpandString(nil, tmpl, s, m))
	}
	for i := 0; i < m.NumFields(); i++ {
		n, val := m.Field(i)
		if !htx.EqualFold(n, name) {
			continue
		}
		if !perValue {
			m.SetFieldValue(i, []byte(rep(string(val))))
			continue
		}
		parts := strings.Split(string(val), ",")
		for j, p := range parts {
			trimmed := strings.TrimSpace(p)
			lead := p[:strings.Index(p, trimmed)]
			parts[j] = lead + rep(trimmed)
		}
		m.SetFieldValue(i, []byte(strings.Join(parts, ",")))
	}
}

func httpMethods(v *vm) map[string]glua.LGFunction {
	m := map[string]glua.LGFunction{}
	for _, side := range []string{"req", "res"} {
		msg := reqOf
		if side == "res" {
			msg = resOf
		}
		get := func(L *glua.LState) *htx.Message {
			hm := msg(v.current(L))
			if hm == nil {
				L.RaiseError("no %s message here", map[string]string{"req": "request", "res": "response"}[side])
			}
			return hm
		}
		m[side+"_get_headers"] = func(L *glua.LState) int {
			L.Push(headersTable(L, msg(v.current(L))))
			return 1
		}
		m[side+"_add_header"] = func(L *glua.LState) int {
			get(L).Add(L.CheckString(2), L.CheckString(3))
			return 0
		}
		m[side+"_set_header"] = func(L *glua.LState) int {
			hm := get(L)
			name := L.CheckString(2)
			hm.Del(name)
			hm.Add(name, L.CheckString(3))
			return 0
		}
		m[side+"_del_header"] = func(L *glua.LState) int {
			get(L).Del(L.CheckString(2))
			return 0
		}
		replace := func(perValue bool) glua.LGFunction {
			return func(L *glua.LState) int {
				hm := get(L)
				re, err := regexp.Compile(L.CheckString(3))
				if err != nil {
					L.RaiseError("%s", err.Error())
				}
				replaceValues(hm, L.CheckString(2), re, L.CheckString(4), perValue)
				return 0
			}
		}
		m[side+"_replace_header"] = replace(false)
		m[side+"_rep_header"] = replace(false)
		m[side+"_replace_value"] = replace(true)
		m[side+"_rep_value"] = replace(true)
	}
	m["req_set_method"] = func(L *glua.LState) int {
		if hm := reqOf(v.current(L)); hm != nil {
			hm.SetMethod([]byte(L.CheckString(2)))
		}
		L.Push(glua.LTrue)
		return 1
	}
	m["req_set_path"] = func(L *glua.LState) int {
		if hm := reqOf(v.current(L)); hm != nil {
			hm.SetPath(L.CheckString(2))
		}
		L.Push(glua.LTrue)
		return 1
	}
	m["req_set_query"] = func(L *glua.LState) int {
		if hm := reqOf(v.current(L)); hm != nil {
			q := strings.TrimPrefix(L.CheckString(2), "?")
			p := string(hm.PathOnly())
			if q != "" {
				p += "?" + q
			}
			hm.SetURI(p)
		}
		L.Push(glua.LTrue)
		return 1
	}
	m["req_set_uri"] = func(L *glua.LState) int {
		if hm := reqOf(v.current(L)); hm != nil {
			hm.SetURI(L.CheckString(2))
		}
		L.Push(glua.LTrue)
		return 1
	}
	m["res_set_status"] = func(L *glua.LState) int {
		if hm := resOf(v.current(L)); hm != nil {
			code := L.CheckInt(2)
			hm.SetResponse(code, L.OptString(3, ""))
		}
		return 0
	}
	return m
}

// runFailed logs the failure of a callback as HAProxy does.
func (rt *Runtime) runFailed(ctx acl.Context, what, name string, err error) {
	rt.logFailure(ctx, fmt.Sprintf("Lua %s '%s': %s.", what, name, err.Error()))
}

// serviceFailed logs the failure of a service as HAProxy does.
func (rt *Runtime) serviceFailed(ctx acl.Context, kind, name string, err error) {
	rt.logFailure(ctx, fmt.Sprintf("Lua applet %s '<lua.%s>': %s.", kind, name, err.Error()))
}

// ScriptFetch implements acl.Scripts: the fetch registered as name,
// called with the txn object and args.
func (rt *Runtime) ScriptFetch(name string, args []string) (acl.FetchFunc, bool) {
	r := rt.lookup(KindFetch, name)
	if r == nil {
		return nil, false
	}
	return func(ctx acl.Context) (acl.Sample, bool) {
		rets, err := rt.run(r.fn, ctx, rt.SessionTimeout, func(c *callState) []glua.LValue {
			a := []glua.LValue{c.vm.newTxn(c.L, c)}
			for _, x := range args {
				a = append(a, glua.LString(x))
			}
			return a
		})
		if err != nil {
			rt.runFailed(ctx, "sample-fetch", name, err)
			return acl.Sample{}, false
		}
		if len(rets) == 0 {
			return acl.Sample{}, false
		}
		return toSample(rets[0])
	}, true
}

// ScriptConverter implements acl.Scripts: the converter registered as
// name, called with the sample and args.
func (rt *Runtime) ScriptConverter(name string, args []string) (acl.CtxConvFunc, bool) {
	r := rt.lookup(KindConverter, name)
	if r == nil {
		return nil, false
	}
	return func(ctx acl.Context, s acl.Sample) (acl.Sample, bool) {
		rets, err := rt.run(r.fn, ctx, rt.SessionTimeout, func(c *callState) []glua.LValue {
			a := []glua.LValue{push(s, false)}
			for _, x := range args {
				a = append(a, glua.LString(x))
			}
			return a
		})
		if err != nil {
			rt.runFailed(ctx, "converter", name, err)
			return acl.Sample{}, false
		}
		if len(rets) == 0 {
			return acl.Sample{}, false
		}
		return toSample(rets[0])
	}, true
}

// RunAction runs the action registered as name for stage (StageHTTPReq
// ...) for the stream ctx, with the rule's arguments, and returns its
// verdict, and the reply txn:done(reply) gave with Closed (nil for
// none). An error or timeout is logged (to the stream's proxy) and gives
// Continue, as in HAProxy.
func (rt *Runtime) RunAction(name, stage string, ctx acl.Context, args []string) (Verdict, *Reply) {
	r := rt.lookup(KindAction, actionKey(name, stage))
	if r == nil {
		return Continue, nil
	}
	res, err := rt.runCall(r.fn, ctx, rt.SessionTimeout, func(c *callState) []glua.LValue {
		a := []glua.LValue{c.vm.newTxn(c.L, c)}
		for _, x := range args {
			a = append(a, glua.LString(x))
		}
		return a
	}, nil)
	if err != nil {
		rt.runFailed(ctx, "function", name, err)
		return Continue, nil
	}
	if res.done {
		return Closed, res.reply
	}
	if len(res.rets) > 0 {
		if n, ok := res.rets[0].(glua.LNumber); ok {
			vd := Verdict(n)
			if vd < Continue || vd > Invalid {
				return Continue, nil
			}
			return vd, nil
		}
	}
	return Continue, nil
}
