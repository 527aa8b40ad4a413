package lua

import (
	"bytes"

	glua "github.com/yuin/gopher-lua"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// The channel objects txn.req and txn.res of TCP actions: what the rules
// have received so far, read-only (lb's rules peek at the bytes and
// never take them).

// channelData returns the bytes of the channel the object stands for,
// and whether no more will come.
func (v *vm) channelData(L *glua.LState) (data []byte, final, resp bool) {
	c := v.current(L)
	resp = glua.LVAsBool(L.CheckTable(1).RawGetString("__res"))
	if resp {
		if rc, ok := c.ctx.(acl.ResponseContentContext); ok {
			b, f, in := rc.ResponsePayload()
			if in {
				return b, f, true
			}
		}
		return nil, true, true
	}
	if cc, ok := c.ctx.(acl.ContentContext); ok {
		data, final = cc.Payload()
		return data, final, false
	}
	return nil, true, false
}

// window cuts data at offset (from 0) for length bytes (-1: the rest),
// as Channel.data takes them.
func window(data []byte, offset, length int) []byte {
	if offset < 0 {
		offset += len(data)
	}
	if offset < 0 || offset > len(data) {
		return nil
	}
	data = data[offset:]
	if length >= 0 && length < len(data) {
		data = data[:length]
	}
	return data
}

func channelMethods(v *vm) map[string]glua.LGFunction {
	m := map[string]glua.LGFunction{
		"dup": func(L *glua.LState) int {
			data, _, _ := v.channelData(L)
			L.Push(glua.LString(data))
			return 1
		},
		"data": func(L *glua.LState) int {
			data, _, _ := v.channelData(L)
			L.Push(glua.LString(window(data, L.OptInt(2, 0), L.OptInt(3, -1))))
			return 1
		},
		"line": func(L *glua.LState) int {
			data, _, _ := v.channelData(L)
			data = window(data, L.OptInt(2, 0), L.OptInt(3, -1))
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				data = data[:i+1]
			}
			L.Push(glua.LString(data))
			return 1
		},
		"input": func(L *glua.LState) int {
			data, _, _ := v.channelData(L)
			L.Push(glua.LNumber(len(data)))
			return 1
		},
		"output": func(L *glua.LState) int {
			L.Push(glua.LNumber(0))
			return 1
		},
		"is_resp": func(L *glua.LState) int {
			_, _, resp := v.channelData(L)
			L.Push(glua.LBool(resp))
			return 1
		},
		"is_full": func(L *glua.LState) int {
			L.Push(glua.LFalse)
			return 1
		},
		"may_recv": func(L *glua.LState) int {
			_, final, _ := v.channelData(L)
			L.Push(glua.LBool(!final))
			return 1
		},
	}
	for _, name := range []string{"get", "getline", "set", "append", "prepend", "insert", "remove", "send", "forward"} {
		m[name] = func(L *glua.LState) int {
			L.RaiseError("Channel:%s() is not supported: lb's rules read the data without taking it", name)
			return 0
		}
	}
	return m
}
