package lua

import (
	"bytes"

	glua "github.com/yuin/gopher-lua"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// The channel objects txn.req and txn.res of TCP actions: what the rules
// have received so far, which the methods that take or change data turn
// into data the rules own (ChanData), as haproxy's buffer is.

// ChanData is a TCP channel's data once an action took or changed it:
// Out goes to the other side ahead of anything else (what Channel:send
// and Channel:forward moved there), In is the input the rules see from
// then on, and ToForward counts the bytes still to come that go on
// unseen (a Channel:forward beyond the input).
type ChanData struct {
	Out, In   []byte
	ToForward int64
}

// ChannelEditor is a rules context whose channel data actions may take
// and change: EditChannel returns the request's (res false) or the
// response's data, made from what the rules see on its first call, or
// nil when that channel is not the one the rules read.
type ChannelEditor interface {
	EditChannel(res bool) *ChanData
}

// ChannelWaiter is a rules context that can wait for more of a
// channel's data: WaitChannel waits until more came into the data
// EditChannel returned, reporting whether some did; false at once when
// none will come.
type ChannelWaiter interface {
	WaitChannel(res bool) bool
}

// waitData waits, the state unlocked, for more of the channel's data.
func (v *vm) waitData(L *glua.LState) bool {
	w, ok := v.current(L).ctx.(ChannelWaiter)
	if !ok {
		return false
	}
	res := glua.LVAsBool(L.CheckTable(1).RawGetString("__res"))
	more := false
	v.block(L, func() { more = w.WaitChannel(res) })
	return more
}

// errHTTPChannel is haproxy's refusal of the data methods where the
// channel holds HTTP messages.
const errHTTPChannel = "Cannot manipulate HAProxy channels in HTTP mode."

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

// readable returns the channel's input for the methods that read it,
// raising haproxy's error where the channel holds HTTP messages.
func (v *vm) readable(L *glua.LState) []byte {
	if _, ok := v.current(L).ctx.(ChannelEditor); !ok {
		L.Error(glua.LString(errHTTPChannel), 0)
	}
	data, _, _ := v.channelData(L)
	return data
}

// editable returns the channel's data for the methods that take or
// change it.
func (v *vm) editable(L *glua.LState, name string) *ChanData {
	ed, ok := v.current(L).ctx.(ChannelEditor)
	if !ok {
		L.Error(glua.LString(errHTTPChannel), 0)
	}
	d := ed.EditChannel(glua.LVAsBool(L.CheckTable(1).RawGetString("__res")))
	if d == nil {
		L.RaiseError("Channel:%s(): this channel's data is not there in this rule", name)
	}
	return d
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

// span resolves an offset and a length in an input of n bytes as
// haproxy's set and remove do: a negative offset counts from the end
// (and stops at the start), a negative length means the rest; an offset
// past the end or a length past it is an error.
func span(L *glua.LState, n, offset, length int) (int, int) {
	if offset < 0 {
		offset = max(offset+n, 0)
	}
	if offset > n {
		L.Error(glua.LString("offset out of range."), 0)
	}
	if length < 0 {
		length = n - offset
	}
	if offset+length > n {
		L.Error(glua.LString("length out of range."), 0)
	}
	return offset, length
}

// splice replaces the n bytes at off of b by p.
func splice(b []byte, off, n int, p []byte) []byte {
	out := make([]byte, 0, len(b)-n+len(p))
	out = append(append(append(out, b[:off]...), p...), b[off+n:]...)
	return out
}

// lineEnd is the length of data's first line, its newline included, or
// all of data without one.
func lineEnd(data []byte) int {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1
	}
	return len(data)
}

// toFront is the Channel method name that puts its string at the front
// of the input and returns its length.
func (v *vm) toFront(name string) glua.LGFunction {
	return func(L *glua.LState) int {
		d := v.editable(L, name)
		s := L.CheckString(2)
		d.In = splice(d.In, 0, 0, []byte(s))
		L.Push(glua.LNumber(len(s)))
		return 1
	}
}

func channelMethods(v *vm) map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"dup": func(L *glua.LState) int {
			data := v.readable(L)
			L.Push(glua.LString(data))
			return 1
		},
		"data": func(L *glua.LState) int {
			data := v.readable(L)
			L.Push(glua.LString(window(data, L.OptInt(2, 0), L.OptInt(3, -1))))
			return 1
		},
		"line": func(L *glua.LState) int {
			data := window(v.readable(L), L.OptInt(2, 0), L.OptInt(3, -1))
			L.Push(glua.LString(data[:lineEnd(data)]))
			return 1
		},
		"get": func(L *glua.LState) int {
			d := v.editable(L, "get")
			// An empty input waits for data, as haproxy's yields.
			for len(d.In) == 0 && v.waitData(L) {
			}
			L.Push(glua.LString(d.In))
			d.In = d.In[:0]
			return 1
		},
		"getline": func(L *glua.LState) int {
			d := v.editable(L, "getline")
			// A line not ended yet waits for the rest.
			for bytes.IndexByte(d.In, '\n') < 0 && v.waitData(L) {
			}
			n := lineEnd(d.In)
			L.Push(glua.LString(d.In[:n]))
			d.In = splice(d.In, 0, n, nil)
			return 1
		},
		"set": func(L *glua.LState) int {
			d := v.editable(L, "set")
			s := L.CheckString(2)
			off, n := span(L, len(d.In), L.OptInt(3, 0), L.OptInt(4, -1))
			d.In = splice(d.In, off, n, []byte(s))
			L.Push(glua.LNumber(len(s)))
			return 1
		},
		// haproxy 2.6.12's append puts the data at the input's front, as
		// prepend does, and so does lb.
		"append":  v.toFront("append"),
		"prepend": v.toFront("prepend"),
		"insert": func(L *glua.LState) int {
			if L.GetTop() > 3 {
				L.RaiseError("'insert' expects at least 1 argument and at most 2 arguments")
			}
			d := v.editable(L, "insert")
			s := L.CheckString(2)
			off, _ := span(L, len(d.In), L.OptInt(3, 0), 0)
			d.In = splice(d.In, off, 0, []byte(s))
			L.Push(glua.LNumber(len(s)))
			return 1
		},
		"remove": func(L *glua.LState) int {
			d := v.editable(L, "remove")
			off, n := span(L, len(d.In), L.OptInt(2, 0), L.OptInt(3, -1))
			d.In = splice(d.In, off, n, nil)
			L.Push(glua.LNumber(n))
			return 1
		},
		"send": func(L *glua.LState) int {
			d := v.editable(L, "send")
			s := L.CheckString(2)
			d.Out = append(d.Out, s...)
			L.Push(glua.LNumber(len(s)))
			return 1
		},
		"forward": func(L *glua.LState) int {
			d := v.editable(L, "forward")
			n := L.CheckInt64(2)
			if n <= 0 {
				L.Push(glua.LNumber(0))
				return 1
			}
			moved := min(n, int64(len(d.In)))
			d.Out = append(d.Out, d.In[:moved]...)
			d.In = splice(d.In, 0, int(moved), nil)
			d.ToForward += n - moved
			L.Push(glua.LNumber(moved))
			return 1
		},
		"input": func(L *glua.LState) int {
			data, _, _ := v.channelData(L)
			L.Push(glua.LNumber(len(data)))
			return 1
		},
		"output": func(L *glua.LState) int {
			n := 0
			if ed, ok := v.current(L).ctx.(ChannelEditor); ok {
				if d := ed.EditChannel(glua.LVAsBool(L.CheckTable(1).RawGetString("__res"))); d != nil {
					n = len(d.Out)
				}
			}
			L.Push(glua.LNumber(n))
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
}
