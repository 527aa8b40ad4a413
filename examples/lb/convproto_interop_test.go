package main

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The converters that read binary protocols: protobuf, ungrpc, the FIX
// and MQTT ones, aes_gcm_dec and map_regm. Each case's input comes
// base64 in the X-In header (req.fhdr(x-in),b64dec), and raw outputs
// are shown with hex.

var b64 = base64.StdEncoding.EncodeToString

// pbVarint appends protobuf's varint of v.
func pbVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// pbField appends a field's key and value: a varint (wire 0), fixed 64
// (1), length-delimited (2) or fixed 32 (5) bits.
func pbField(b []byte, num int, wire int, v []byte) []byte {
	b = pbVarint(b, uint64(num<<3|wire))
	if wire == 2 {
		b = pbVarint(b, uint64(len(v)))
	}
	return append(b, v...)
}

func grpcFrame(msg []byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg))), msg...)
}

// TestInteropProtobufConvertersMatchHAProxy: protobuf and ungrpc find
// fields, nested ones by dotted path, raw or as each integer type, and
// leave no sample for what is missing, truncated or mistyped.
func TestInteropProtobufConvertersMatchHAProxy(t *testing.T) {
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	le64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	var sub []byte
	sub = pbField(sub, 1, 0, pbVarint(nil, 7))
	sub = pbField(sub, 2, 5, le32(0xFFFFFFFE))
	var m []byte
	m = pbField(m, 1, 0, pbVarint(nil, 150))
	m = pbField(m, 2, 2, []byte("hello"))
	m = pbField(m, 3, 2, sub)
	m = pbField(m, 4, 1, le64(uint64(math.MaxUint64-1)))
	m = pbField(m, 5, 5, le32(math.Float32bits(-1.5)))
	m = pbField(m, 6, 1, le64(math.Float64bits(2.75)))
	m = pbField(m, 7, 0, pbVarint(nil, 5)) // sint: -3
	m = pbField(m, 8, 1, le64(math.Float64bits(-7.5)))
	m = pbField(m, 9, 0, pbVarint(nil, math.MaxUint64))
	var other []byte
	other = pbField(other, 1, 0, pbVarint(nil, 1))
	grpc := append(grpcFrame(other), grpcFrame(m)...)

	var cases []convCase
	add := func(in []byte, convs ...string) {
		for _, c := range convs {
			cases = append(cases, convCase{expr: "req.fhdr(x-in),b64dec," + c, in: b64(in)})
		}
	}
	add(m, "protobuf(1),hex", "protobuf(1,int32)", "protobuf(1,uint64)", "protobuf(1,sint32)", "protobuf(1,bool)",
		"protobuf(2),hex", "protobuf(2,int32)", "protobuf(3),hex", "protobuf(3.1,enum)", "protobuf(3.2,fixed32)",
		"protobuf(3.2,sfixed32)", "protobuf(3.2),hex", "protobuf(3.3)", "protobuf(4,fixed64)", "protobuf(4,sfixed64)",
		"protobuf(4,double)", "protobuf(5,float)", "protobuf(5,fixed32)", "protobuf(6,double)", "protobuf(7,sint64)",
		"protobuf(8,double)", "protobuf(9,uint64)", "protobuf(9),hex", "protobuf(10)", "protobuf(1.1)",
		"protobuf(2,fixed32)", "protobuf(0)", "protobuf(.1)", "ungrpc(1,int32)")
	add(m[:len(m)-3], "protobuf(9,uint64)", "protobuf(1,int32)")
	add([]byte{0x0b, 1, 2}, "protobuf(1)", "protobuf(1,int32)")
	add([]byte{0xff, 0xff, 0xff}, "protobuf(1)")
	add(grpc, "ungrpc(1,int32)", "ungrpc(2),hex", "ungrpc(3.1,int32)", "ungrpc(7,sint32)", "ungrpc(11)", "protobuf(1)")
	add(grpc[:len(grpc)-2], "ungrpc(2),hex", "ungrpc(1,int32)")
	add(grpcFrame(nil), "ungrpc(1)")
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Contains(t, got, "req.fhdr(x-in),b64dec,protobuf(1,int32) => [150]")
	require.Contains(t, got, "req.fhdr(x-in),b64dec,protobuf(2),hex => [68656C6C6F]")

	for _, e := range []string{"str(a),protobuf", "str(a),protobuf(a)", "str(a),protobuf(1,string)",
		"str(a),protobuf(-1)", "str(a),protobuf(1.)", "str(a),ungrpc(1,Bool)", "str(a),protobuf(1,int32,x)"} {
		require.NotEmpty(t, lbRefused(t, e))
	}
	convRefused(t, []string{"str(a),protobuf(1,string)", "str(a),ungrpc(1.)"})
}

// fixMsg builds a FIX message from its fields (after BeginString and
// BodyLength), with the right body length and checksum unless bad.
func fixMsg(version string, bad bool, fields ...string) []byte {
	body := strings.Join(fields, "\x01") + "\x01"
	msg := "8=" + version + "\x019=" + strconv.Itoa(len(body)) + "\x01" + body
	sum := 0
	for i := 0; i < len(msg); i++ {
		sum += int(msg[i])
	}
	if bad {
		sum++
	}
	return []byte(msg + fmt.Sprintf("10=%03d\x01", sum%256))
}

// TestInteropFIXConvertersMatchHAProxy: fix_is_valid and fix_tag_value on
// valid messages, wrong checksums and lengths, tags out of the
// version's range, and messages cut short.
func TestInteropFIXConvertersMatchHAProxy(t *testing.T) {
	logon := []string{"35=A", "49=SERVER", "56=CLIENT", "34=177", "52=20090107-18:15:16", "98=0", "108=30"}
	good := fixMsg("FIX.4.4", false, logon...)
	var cases []convCase
	add := func(in []byte, convs ...string) {
		for _, c := range convs {
			cases = append(cases, convCase{expr: "req.fhdr(x-in),b64dec," + c, in: b64(in)})
		}
	}
	add(good, "fix_is_valid", "fix_tag_value(MsgType)", "fix_tag_value(49)", "fix_tag_value(targetcompid)",
		"fix_tag_value(CheckSum)", "fix_tag_value(BeginString)", "fix_tag_value(108)", "fix_tag_value(11)")
	add(fixMsg("FIX.4.4", true, logon...), "fix_is_valid", "fix_tag_value(MsgType)")
	add(fixMsg("FIX.4.9", false, logon...), "fix_is_valid")
	add(fixMsg("FIX.4.0", false, append(logon, "200=x")...), "fix_is_valid")
	add(fixMsg("FIX.4.0", false, append(logon, "10001=x")...), "fix_is_valid")
	add(fixMsg("FIXT.1.1", false, logon[1:]...), "fix_is_valid")
	add(good[:len(good)-8], "fix_is_valid", "fix_tag_value(MsgType)", "fix_tag_value(10)")
	add(good[:20], "fix_is_valid", "fix_tag_value(MsgType)")
	add([]byte(strings.ReplaceAll(string(good), "49=", "4x=")), "fix_is_valid", "fix_tag_value(56)")
	add([]byte(strings.ReplaceAll(string(good), "9=", "9=0")), "fix_is_valid")
	add([]byte("not a fix message at all, not at all"), "fix_is_valid", "fix_tag_value(8)")
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "req.fhdr(x-in),b64dec,fix_is_valid => [1]", got[0])
	for _, e := range []string{"str(a),fix_tag_value", "str(a),fix_tag_value(foo)", "str(a),fix_tag_value(0)", "str(a),fix_is_valid(1)"} {
		require.NotEmpty(t, lbRefused(t, e))
	}
	convRefused(t, []string{"str(a),fix_tag_value(12a)"})
}

// mqttPkt builds an MQTT packet: the fixed header byte, the remaining
// length, the rest.
func mqttPkt(hdr byte, rest ...[]byte) []byte {
	body := []byte{}
	for _, r := range rest {
		body = append(body, r...)
	}
	return append(pbVarint([]byte{hdr}, uint64(len(body))), body...)
}

func mqttStr(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

// TestInteropMQTTConvertersMatchHAProxy: mqtt_is_valid and
// mqtt_field_value on CONNECT and CONNACK packets of MQTT 3.1.1 and
// 5.0, with and without will, user name and properties, and on packets
// that are cut short, of another type or malformed.
func TestInteropMQTTConvertersMatchHAProxy(t *testing.T) {
	connect3 := mqttPkt(0x10, mqttStr("MQTT"), []byte{4, 0xC2, 0, 60}, mqttStr("client1"), mqttStr("alice"), mqttStr("secret"))
	props := []byte{0x11, 0, 0, 0, 30, 0x21, 0, 10, 0x15}
	props = append(props, mqttStr("SCRAM")...)
	props = append(props, 0x26)
	props = append(append(props, mqttStr("k")...), mqttStr("v")...)
	willProps := append([]byte{0x18, 0, 0, 0, 5, 0x01, 1, 0x03}, mqttStr("text/plain")...)
	connect5 := mqttPkt(0x10, mqttStr("MQTT"), []byte{5, 0x06, 0, 30}, pbVarint(nil, uint64(len(props))), props,
		mqttStr("c5"), pbVarint(nil, uint64(len(willProps))), willProps, mqttStr("will/topic"), mqttStr("bye"))
	connack3 := []byte{0x20, 2, 1, 0}
	ackProps := append([]byte{0x24, 1, 0x12}, mqttStr("assigned")...)
	ackProps = append(ackProps, 0x13, 0, 99)
	connack5 := mqttPkt(0x20, []byte{0, 0x87}, pbVarint(nil, uint64(len(ackProps))), ackProps)
	var cases []convCase
	add := func(in []byte, convs ...string) {
		for _, c := range convs {
			cases = append(cases, convCase{expr: "req.fhdr(x-in),b64dec," + c, in: b64(in)})
		}
	}
	add(connect3, "mqtt_is_valid", "mqtt_field_value(connect,protocol_name)", "mqtt_field_value(CONNECT,protocol_version)",
		"mqtt_field_value(1,flags)", "mqtt_field_value(connect,keepalive)", "mqtt_field_value(connect,client_identifier)",
		"mqtt_field_value(connect,username)", "mqtt_field_value(connect,password)", "mqtt_field_value(connect,will_topic)",
		"mqtt_field_value(connect,17)", "mqtt_field_value(connack,flags)")
	add(connect5, "mqtt_is_valid", "mqtt_field_value(connect,protocol_version)", "mqtt_field_value(connect,17)",
		"mqtt_field_value(connect,33)", "mqtt_field_value(connect,39)", "mqtt_field_value(connect,21)",
		"mqtt_field_value(connect,22)", "mqtt_field_value(connect,24)", "mqtt_field_value(connect,1)",
		"mqtt_field_value(connect,3)", "mqtt_field_value(connect,will_topic)", "mqtt_field_value(connect,will_payload)",
		"mqtt_field_value(connect,username)", "mqtt_field_value(connect,38)", "mqtt_field_value(connect,client_identifier)")
	add(connack3, "mqtt_is_valid", "mqtt_field_value(connack,reason_code)", "mqtt_field_value(2,flags)",
		"mqtt_field_value(connack,protocol_version)", "mqtt_field_value(connack,36)")
	add(connack5, "mqtt_is_valid", "mqtt_field_value(connack,reason_code)", "mqtt_field_value(connack,protocol_version)",
		"mqtt_field_value(connack,36)", "mqtt_field_value(connack,18)", "mqtt_field_value(connack,19)",
		"mqtt_field_value(connack,33)")
	add(connect3[:len(connect3)-4], "mqtt_is_valid", "mqtt_field_value(connect,username)")
	add(append(append([]byte{}, connect3...), 0), "mqtt_is_valid")
	add([]byte{0x30, 3, 0, 1, 'a'}, "mqtt_is_valid", "mqtt_field_value(publish,1)")
	add([]byte{0x3F, 3, 0, 1, 'a'}, "mqtt_is_valid")
	add([]byte{0x11, 0}, "mqtt_is_valid")
	add([]byte{0x20, 3, 0, 0, 0x50}, "mqtt_is_valid")
	add(mqttPkt(0x20, []byte{0, 0, 2, 0x7F, 0}), "mqtt_is_valid", "mqtt_field_value(connack,reason_code)")
	add(mqttPkt(0x10, mqttStr("MQIsdp"), []byte{3, 0x02, 0, 60}, mqttStr("x")), "mqtt_is_valid", "mqtt_field_value(connect,protocol_version)")
	add(mqttPkt(0x10, mqttStr("XXXX"), []byte{4, 0x02, 0, 60}, mqttStr("x")), "mqtt_is_valid")
	add(mqttPkt(0x10, mqttStr("mqtt"), []byte{6, 0x02, 0, 60}, mqttStr("")), "mqtt_is_valid")
	add([]byte{0x10, 0xff, 0xff, 0xff, 0xff, 1}, "mqtt_is_valid")
	add([]byte{0x10}, "mqtt_is_valid")
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "req.fhdr(x-in),b64dec,mqtt_is_valid => [1]", got[0])
	for _, e := range []string{"str(a),mqtt_field_value(connect)", "str(a),mqtt_field_value(foo,flags)",
		"str(a),mqtt_field_value(connect,foo)", "str(a),mqtt_field_value(publish,flags)", "str(a),mqtt_field_value(16,flags)",
		"str(a),mqtt_field_value(pingreq,1)", "str(a),mqtt_field_value(1a,flags)", "str(a),mqtt_is_valid(1)"} {
		require.NotEmpty(t, lbRefused(t, e))
	}
	convRefused(t, []string{"str(a),mqtt_field_value(0,flags)", "str(a),mqtt_field_value(connack,username)"})
}

// TestInteropAESGCMDecMatchesHAProxy: aes_gcm_dec with base64 text and
// with variables as nonce, key and tag, for each key size, a short tag,
// a wrong key or tag, an unset variable and one that is not base64.
func TestInteropAESGCMDecMatchesHAProxy(t *testing.T) {
	seal := func(key, nonce []byte, pt string) (ct, tag []byte) {
		b, err := aes.NewCipher(key)
		require.NoError(t, err)
		g, err := cipher.NewGCMWithNonceSize(b, len(nonce))
		require.NoError(t, err)
		out := g.Seal(nil, nonce, []byte(pt), nil)
		return out[:len(pt)], out[len(pt):]
	}
	k16, k24, k32 := []byte("0123456789abcdef"), []byte("0123456789abcdef01234567"), []byte("0123456789abcdef0123456789abcdef")
	n12, n8 := []byte("abcdefghijkl"), []byte("noncenon")
	ct, tag := seal(k16, n12, "hello, world")
	ct24, tag24 := seal(k24, n12, "twenty-four")
	ct32, tag32 := seal(k32, n8, "thirty-two bytes key")
	var vcs []convCase
	lit := func(bits int, n, k, tg, c []byte) {
		vcs = append(vcs, convCase{fmt.Sprintf("req.fhdr(x-in),b64dec,aes_gcm_dec(%d,%s,%s,%s),hex", bits, b64(n), b64(k), b64(tg)), b64(c)})
	}
	lit(128, n12, k16, tag, ct)
	lit(192, n12, k24, tag24, ct24)
	lit(256, n8, k32, tag32, ct32)
	lit(128, n12, k16, tag[:8], ct)
	lit(128, n12, k16, append([]byte{tag[0] ^ 1}, tag[1:]...), ct)
	lit(128, n12, []byte("fedcba9876543210"), tag, ct)
	lit(128, n12, k32, tag, ct)
	lit(128, n12, k16, tag, ct[:5])
	vcs = append(vcs,
		convCase{"req.fhdr(x-in),b64dec,aes_gcm_dec(128,txn.n,txn.k,txn.t),hex", b64(ct)},
		convCase{"req.fhdr(x-in),b64dec,aes_gcm_dec(128,txn.n,txn.k,txn.unset),hex", b64(ct)},
		convCase{"req.fhdr(x-in),b64dec,aes_gcm_dec(128,txn.n,txn.bad,txn.t),hex", b64(ct)},
		convCase{"req.fhdr(x-in),b64dec,aes_gcm_dec(128," + b64(n12) + ",txn.k," + b64(tag) + "),hex", b64(ct)},
		convCase{"req.fhdr(x-in),aes_gcm_dec(128,txn.n,txn.k,txn.t)", "not the cipher text"},
	)
	want, got := convAnswersAfter(t, vcs, "", fmt.Sprintf("    http-request set-var(txn.n) str(%s)\n    http-request set-var(txn.k) str(%s)\n    http-request set-var(txn.t) str(%s)\n    http-request set-var(txn.bad) str(x!)\n", b64(n12), b64(k16), b64(tag)))
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Contains(t, got[0], "=> [68656C6C6F2C20776F726C64]")
	require.Contains(t, got[8], "=> [68656C6C6F2C20776F726C64]")

	for _, e := range []string{"str(a),aes_gcm_dec(100,YWJj,YWJj,YWJj)", "str(a),aes_gcm_dec(abc,YWJj,YWJj,YWJj)",
		"str(a),aes_gcm_dec(128,YWJj!,YWJj,YWJj)", "str(a),aes_gcm_dec(128,YWJj,Y,YWJj)", "str(a),aes_gcm_dec(128,YWJj,YWJj)",
		"str(a),aes_gcm_dec(128,foo.a,YWJj,YWJj)", "str(a),aes_gcm_dec"} {
		require.NotEmpty(t, lbRefused(t, e))
	}
	convRefused(t, []string{"str(a),aes_gcm_dec(128,YWJj,YWJj,str(x))"})
}

// TestInteropMapRegmMatchesHAProxy: map_regm replaces the value's \N by
// the key regex's groups, \xHH by a byte, and falls back to the
// default.
func TestInteropMapRegmMatchesHAProxy(t *testing.T) {
	m := writeFile(t, "regm.map", "^/api/v([0-9]+)/(.*)$ api-\\1:\\2\n^/static/(.*)\\.(css|js)$ \\2/\\1\\x21\n^/same$ \\0-\\9-x\n^/esc$ a\\\\b\\qc\n")
	var cases []convCase
	for _, p := range []string{"/api/v2/users", "/static/site.css", "/same", "/esc", "/none"} {
		cases = append(cases, convCase{expr: "req.fhdr(x-in),map_regm(" + m + ")", in: p},
			convCase{expr: "req.fhdr(x-in),map_regm(" + m + ",dflt)", in: p})
	}
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "req.fhdr(x-in),map_regm("+m+") => [api-2:users]", got[0])
	convRefused(t, []string{"req.fhdr(x-in),map_regm"})
}
