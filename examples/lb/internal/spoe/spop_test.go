package spoe

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/stick/peers"
)

func TestVarintBoundaries(t *testing.T) {
	// The sizes the protocol's table gives at each boundary.
	for _, c := range []struct {
		n    uint64
		size int
	}{
		{0, 1}, {239, 1}, {240, 2}, {2287, 2}, {2288, 3}, {264431, 3},
		{264432, 4}, {33818863, 4}, {33818864, 5}, {4328786159, 5}, {4328786160, 6},
		{math.MaxUint32, 5}, {math.MaxUint64, 10},
	} {
		b := peers.AppendVarint(nil, c.n)
		require.Len(t, b, c.size, "size of %d", c.n)
		r := NewReader(b)
		require.Equal(t, c.n, r.Varint(), "round trip of %d", c.n)
		require.NoError(t, r.Err())
		require.Zero(t, r.Len())
		// Cut anywhere, it is a short read, never a wrong value.
		for i := range len(b) {
			r := NewReader(b[:i])
			r.Varint()
			require.ErrorIs(t, r.Err(), ErrShort, "%d cut at %d", c.n, i)
		}
	}
	// The known encoding of 1000: 0xf8 then 0x2f ((1000-240)>>4 = 47).
	require.Equal(t, []byte{0xf8, 0x2f}, peers.AppendVarint(nil, 1000))
}

func TestValueRoundTrip(t *testing.T) {
	for _, v := range []Value{
		{Type: TypeNull},
		Bool(true), Bool(false),
		{Type: TypeInt32, Int: -5}, {Type: TypeInt32, Int: math.MaxInt32},
		{Type: TypeInt64, Int: math.MinInt64}, {Type: TypeInt64, Int: 1 << 40},
		{Type: TypeUint32, Uint: math.MaxUint32}, {Type: TypeUint64, Uint: math.MaxUint64},
		{Type: TypeIPv4, IP: netip.MustParseAddr("192.0.2.7")},
		{Type: TypeIPv6, IP: netip.MustParseAddr("2001:db8::1")},
		Str("hello"), {Type: TypeBinary, Bytes: []byte{0, 1, 2, 255}}, Str(""),
	} {
		b := AppendValue(nil, v)
		r := NewReader(b)
		got := r.Value()
		require.NoError(t, r.Err(), "%s", v.Type)
		require.Zero(t, r.Len(), "%s: trailing bytes", v.Type)
		require.Equal(t, v.Type, got.Type)
		require.Equal(t, v.String(), got.String())
	}
	// The boolean's value is in the flags nibble.
	require.Equal(t, []byte{0x11}, AppendValue(nil, Bool(true)))
	require.Equal(t, []byte{0x01}, AppendValue(nil, Bool(false)))
	r := NewReader([]byte{0x0c})
	r.Value()
	require.ErrorContains(t, r.Err(), "unknown data type 12")
}

func TestFrameRoundTrip(t *testing.T) {
	b := AppendFrameHead(nil, FrameNotify, FlagFin, 300, 7)
	b = AppendMessage(b, "check", []Arg{{Name: "ip", Value: Value{Type: TypeIPv4, IP: netip.MustParseAddr("10.0.0.1")}}, {Value: Str("x")}})
	b = AppendMessage(b, "none", nil)
	b = FinishFrame(b, 0)
	f, _, err := ReadFrame(bytes.NewReader(b), nil, 1024)
	require.NoError(t, err)
	require.Equal(t, FrameNotify, f.Type)
	require.Equal(t, FlagFin, f.Flags)
	require.Equal(t, uint64(300), f.StreamID)
	require.Equal(t, uint64(7), f.FrameID)
	msgs, err := ParseMessages(f.Payload)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	require.Equal(t, "check", msgs[0].Name)
	require.Equal(t, "ip", msgs[0].Args[0].Name)
	require.Equal(t, "10.0.0.1", msgs[0].Args[0].Value.String())
	require.Equal(t, "", msgs[0].Args[1].Name)
	require.Equal(t, "x", msgs[0].Args[1].Value.String())
	require.Empty(t, msgs[1].Args)

	// Too big: refused before the body is read.
	_, _, err = ReadFrame(bytes.NewReader(b), nil, len(b)-5)
	require.ErrorIs(t, err, ErrTooBig)
	// Cut in the body: an unexpected end, never a frame.
	_, _, err = ReadFrame(bytes.NewReader(b[:len(b)-1]), nil, 1024)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	// Cut in a message: the payload is refused.
	_, err = ParseMessages(f.Payload[:len(f.Payload)-3])
	require.ErrorIs(t, err, ErrShort)
	// A head shorter than type and flags.
	_, err = ParseFrame([]byte{3, 0, 0})
	require.ErrorIs(t, err, ErrShort)
}

func TestActions(t *testing.T) {
	var b []byte
	b = AppendAction(b, Action{Type: ActionSetVar, Scope: ScopeTxn, Name: []byte("a"), Value: Str("v")})
	// An action of a later protocol, skipped whole.
	b = append(b, 9, 2)
	b = AppendValue(b, Str("x"))
	b = AppendValue(b, Value{Type: TypeInt64, Int: 3})
	b = AppendAction(b, Action{Type: ActionUnsetVar, Scope: ScopeSess, Name: []byte("b")})
	acts, err := ParseActions(nil, b)
	require.NoError(t, err)
	require.Equal(t, []Action{
		{Type: ActionSetVar, Scope: ScopeTxn, Name: []byte("a"), Value: Value{Type: TypeString, Bytes: []byte("v")}},
		{Type: ActionUnsetVar, Scope: ScopeSess, Name: []byte("b")},
	}, acts)
	_, err = ParseActions(nil, []byte{ActionSetVar, 2, ScopeTxn, 1, 'a'})
	require.ErrorContains(t, err, "action 1 with 2 arguments")
	_, err = ParseActions(nil, b[:len(b)-1])
	require.True(t, errors.Is(err, ErrShort))
	require.Equal(t, "txn", ScopeName(ScopeTxn))
	require.Equal(t, "", ScopeName(9))
}

func TestKVList(t *testing.T) {
	b := AppendKV(nil, "status-code", Uint32(3))
	b = AppendKV(b, "message", Str("frame is too big"))
	kvs, err := ParseKVList(b)
	require.NoError(t, err)
	v, ok := Lookup(kvs, "status-code")
	require.True(t, ok)
	require.Equal(t, uint64(3), v.Uint)
	_, ok = Lookup(kvs, "nope")
	require.False(t, ok)
	_, err = ParseKVList(b[:len(b)-2])
	require.ErrorIs(t, err, ErrShort)
	require.Equal(t, "frame is too big", StatusText(StatusTooBig))
	require.Equal(t, "status 77", StatusText(77))
}

func FuzzParse(f *testing.F) {
	b := AppendMessage(nil, "m", []Arg{{Name: "a", Value: Str("x")}})
	f.Add(b)
	f.Add(AppendAction(nil, Action{Type: ActionSetVar, Scope: 2, Name: []byte("v"), Value: Bool(true)}))
	f.Add(AppendKV(nil, "k", Value{Type: TypeIPv6, IP: netip.IPv6Loopback()}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, p []byte) {
		// Any input decodes or is refused; the decoded parts re-encode
		// to what they were read from.
		if msgs, err := ParseMessages(p); err == nil {
			var out []byte
			for _, m := range msgs {
				out = AppendMessage(out, m.Name, m.Args)
			}
			again, err := ParseMessages(out)
			if err != nil || len(again) != len(msgs) {
				t.Fatalf("messages do not survive a round trip: %v", err)
			}
		}
		if acts, err := ParseActions(nil, p); err == nil {
			var out []byte
			for _, a := range acts {
				out = AppendAction(out, a)
			}
			if again, err := ParseActions(nil, out); err != nil || len(again) != len(acts) {
				t.Fatalf("actions do not survive a round trip: %v", err)
			}
		}
		_, _ = ParseKVList(p)
		_, _ = ParseFrame(p)
	})
}
