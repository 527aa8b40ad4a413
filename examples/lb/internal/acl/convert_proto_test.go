package acl

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProtobufField(t *testing.T) {
	// field 1 varint 150; field 2 "hi"; field 3 {field 1 varint 7}
	msg := []byte{0x08, 0x96, 0x01, 0x12, 2, 'h', 'i', 0x1a, 2, 0x08, 7}
	path := func(s string) []uint32 { p, ok := parseDottedUints(s); require.True(t, ok, s); return p }
	s, ok := protobufField(msg, path("1"), pbTypes["int32"])
	require.True(t, ok)
	require.Equal(t, Int(150), s)
	s, ok = protobufField(msg, path("2"), pbRaw)
	require.True(t, ok)
	require.Equal(t, Str("hi"), s)
	s, ok = protobufField(msg, path("3.1"), pbTypes["uint64"])
	require.True(t, ok)
	require.Equal(t, Int(7), s)
	_, ok = protobufField(msg, path("4"), pbRaw)
	require.False(t, ok)
	_, ok = protobufField(msg[:5], path("2"), pbRaw)
	require.False(t, ok, "a length past the end")
	_, ok = protobufField(msg, path("2"), pbTypes["int32"])
	require.False(t, ok, "a length-delimited field has no integer")
	frame := append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg))), msg...)
	s, ok = ungrpcField(frame, path("3.1"), pbTypes["int32"])
	require.True(t, ok)
	require.Equal(t, Int(7), s)
	_, ok = ungrpcField(frame[:len(frame)-1], path("1"), pbRaw)
	require.False(t, ok, "a frame longer than the body")
}

func TestParseDottedUints(t *testing.T) {
	for in, want := range map[string][]uint32{"1": {1}, "1.2.3": {1, 2, 3}, ".1": {0, 1}, "1..2": {1, 0, 2}, "4294967297": {1}} {
		got, ok := parseDottedUints(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"a", "1.", "-1", "1.a"} {
		_, ok := parseDottedUints(in)
		require.False(t, ok, in)
	}
}

func TestFIXValidate(t *testing.T) {
	msg := "8=FIX.4.4\x019=20\x0135=A\x0149=S\x0156=CLIENT\x0110=%s\x01"
	sum := 0
	head := "8=FIX.4.4\x019=20\x0135=A\x0149=S\x0156=CLIENT\x01"
	for i := 0; i < len(head); i++ {
		sum += int(head[i])
	}
	good := []byte(head + fmt.Sprintf("10=%03d\x01", sum%256))
	require.Equal(t, fixValid, fixValidate(good))
	require.Equal(t, fixNeedMore, fixValidate(good[:20]))
	require.Equal(t, fixNeedMore, fixValidate(good[:len(good)-8]))
	require.Equal(t, fixInvalid, fixValidate([]byte(msg)))
	v, ok := fixTagValue(good, 49)
	require.True(t, ok)
	require.Equal(t, "S", string(v))
	_, ok = fixTagValue(good, 11)
	require.False(t, ok)
	n, ok := fixTagID("SenderCompID")
	require.True(t, ok)
	require.Equal(t, uint32(49), n)
}

func TestMQTTParse(t *testing.T) {
	str := func(s string) []byte { return append([]byte{0, byte(len(s))}, s...) }
	body := append(append(str("MQTT"), 4, 0x82, 0, 60), append(str("id"), str("bob")...)...)
	pkt := append([]byte{0x10, byte(len(body))}, body...)
	var p mqttPacket
	require.Equal(t, mqttValid, p.parse(pkt))
	v, ok := mqttFieldValue(pkt, mqttConnect, mfUsername)
	require.True(t, ok)
	require.Equal(t, "bob", v)
	v, ok = mqttFieldValue(pkt, mqttConnect, mfKeepalive)
	require.True(t, ok)
	require.Equal(t, "60", v)
	require.Equal(t, mqttNeedMore, (&mqttPacket{}).parse(pkt[:len(pkt)-1]))
	require.Equal(t, mqttInvalid, (&mqttPacket{}).parse([]byte{0x30, 0}))
	require.Equal(t, mqttValid, (&mqttPacket{}).parse([]byte{0x20, 2, 0, 0}))
	require.Equal(t, 1, mqttTypeID("connect"))
	require.Equal(t, 15, mqttTypeID("15"))
	require.Equal(t, 0, mqttTypeID("1a"))
}

func TestExpReplace(t *testing.T) {
	m := []int{0, 5, 1, 3}
	out, ok := expReplace(nil, `<\1>\x41\q\9`, "abcde", m)
	require.True(t, ok)
	require.Equal(t, "<bc>Aq", string(out))
	_, ok = expReplace(nil, `x\`, "abcde", m)
	require.False(t, ok)
}

func TestAESGCMDecryptShortTag(t *testing.T) {
	_, ok := AESGCMDecrypt(128, []byte("n"), []byte("short"), []byte("t"), nil)
	require.False(t, ok, "a key shorter than its size")
}

// The parsers take any bytes without panicking, and agree with
// themselves on what they find.
func FuzzProtocolParsers(f *testing.F) {
	f.Add([]byte{0x08, 0x96, 0x01, 0x12, 2, 'h', 'i'}, "1.2")
	f.Add([]byte{0, 0, 0, 0, 3, 0x08, 0x01, 0x10}, "1")
	f.Add([]byte("8=FIX.4.4\x019=5\x0135=A\x0110=000\x01"), "35")
	f.Add([]byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 5, 0, 0, 60, 0, 0, 0}, "17")
	f.Add([]byte{0x20, 5, 0, 0, 2, 0x24, 1}, "36")
	f.Fuzz(func(t *testing.T, b []byte, path string) {
		p, ok := parseDottedUints(path)
		if ok && len(p) > 0 {
			for _, typ := range []pbType{pbRaw, pbVarint, pbZigzag, pbFixed32, pbSfixed32, pbFloat, pbFixed64, pbDouble} {
				protobufField(b, p, typ)
				ungrpcField(b, p, typ)
			}
		}
		fixValidate(b)
		if id, ok := fixTagID(path); ok {
			if v, found := fixTagValue(b, id); found && len(v) > len(b) {
				t.Fatalf("value longer than the message")
			}
		}
		var pk mqttPacket
		res := pk.parse(b)
		for typ := 1; typ < mqttTypes; typ++ {
			for field := 1; field < mqttFieldCount; field++ {
				if _, ok := mqttFieldValue(b, typ, field); ok && res != mqttValid {
					t.Fatalf("a field of a packet that is not valid")
				}
			}
		}
	})
}
