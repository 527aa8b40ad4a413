package lua

import (
	glua "github.com/yuin/gopher-lua"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// mapMatches are the match methods Map.new takes, by HAProxy's numbers
// (Map._found is 0 ... Map._reg 12); "" for those a map cannot use.
var mapMatches = []struct{ field, method string }{
	{"_found", ""}, {"_bool", ""}, {"_int", "int"}, {"_ip", "ip"}, {"_bin", ""}, {"_len", ""},
	{"_str", "str"}, {"_beg", "beg"}, {"_sub", "sub"}, {"_dir", "dir"}, {"_dom", "dom"}, {"_end", "end"}, {"_reg", "reg"},
}

// openMaps sets the global Map: Map.new(file, method) returns an object
// whose lookup(key) gives the file's value for key (nil for none) and
// slookup(key) the same as a string ("" for none), through the
// configuration's pattern references, as the map converters read them.
func (v *vm) openMaps() {
	L := v.L
	m := L.NewTable()
	for i, mm := range mapMatches {
		m.RawSetString(mm.field, glua.LNumber(i))
	}
	mt := v.class(map[string]glua.LGFunction{
		"lookup":  v.mapLookup(false),
		"slookup": v.mapLookup(true),
	})
	m.RawSetString("new", L.NewFunction(func(L *glua.LState) int {
		file := L.CheckString(1)
		n := L.OptInt(2, 6)
		if n < 0 || n >= len(mapMatches) || mapMatches[n].method == "" {
			L.ArgError(2, "unknown match method")
		}
		refs := v.rt.refs
		if refs == nil {
			refs = acl.NewRefs()
		}
		conv, err := refs.CompileConverter("map_"+mapMatches[n].method+"("+file+")", acl.TypeStr)
		if err != nil {
			L.RaiseError("'new': %s", err.Error())
		}
		t := L.NewTable()
		ud := L.NewUserData()
		ud.Value = conv
		t.RawSetString("__map", ud)
		L.SetMetatable(t, mt)
		L.Push(t)
		return 1
	}))
	L.SetGlobal("Map", m)
}

func (v *vm) mapLookup(str bool) glua.LGFunction {
	return func(L *glua.LState) int {
		ud, ok := L.CheckTable(1).RawGetString("__map").(*glua.LUserData)
		conv, isConv := ud.Value.(acl.CtxConvFunc)
		if !ok || !isConv {
			L.ArgError(1, "map expected")
		}
		var ctx acl.Context
		if c := v.calls[L]; c != nil {
			ctx = c.ctx
		}
		s, found := conv(ctx, acl.Str(L.CheckString(2)))
		L.Push(result(s, found, str))
		return 1
	}
}
