package acl

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// ssl_fc_cipherlist_xxh hashes the list as haproxy 2.6 does.
func TestCipherListXXH(t *testing.T) {
	// haproxy 2.6's ssl_fc_cipherlist_xxh for curl's list.
	list, err := hex.DecodeString("130213031301C02CC030009FCCA9CCA8CCAAC02BC02F009EC024C028006BC023C0270067C00AC0140039C009C0130033009D009C003D003C0035002F00FF")
	require.NoError(t, err)
	require.Equal(t, int64(-8670171557397906448), int64(XXH64(list, 0)))
}

// helloMsg builds a ClientHello message offering ciphers and extensions.
func helloMsg(ciphers []uint16, exts [][]byte) []byte {
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...)
	body = append(body, 0) // no session id
	body = binary.BigEndian.AppendUint16(body, uint16(2*len(ciphers)))
	for _, c := range ciphers {
		body = binary.BigEndian.AppendUint16(body, c)
	}
	body = append(body, 1, 0)
	var e []byte
	for _, x := range exts {
		e = append(e, x...)
	}
	body = binary.BigEndian.AppendUint16(body, uint16(len(e)))
	body = append(body, e...)
	return append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
}

func ext(t uint16, data ...byte) []byte {
	return append(binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, t), uint16(len(data))), data...)
}

// The capture cuts the suites, the extension types, the groups and the
// point formats to the buffer in that order, and the filter leaves out
// GREASE values.
func TestCaptureHello(t *testing.T) {
	msg := helloMsg([]uint16{0x0a0a, 0x1301, 0xc02f}, [][]byte{
		ext(0x1a1a), ext(10, 0, 6, 0x2a, 0x2a, 0, 0x1d, 0, 0x17), ext(11, 1, 0), ext(0),
	})
	hc, ok := captureHello(msg, 64)
	require.True(t, ok)
	require.Equal(t, 0x0303, hc.version)
	require.Equal(t, "0A0A1301C02F", strings.ToUpper(hex.EncodeToString(hc.ciphers)))
	require.Equal(t, "1A1A000A000B0000", strings.ToUpper(hex.EncodeToString(hc.exts)))
	require.Equal(t, "2A2A001D0017", strings.ToUpper(hex.EncodeToString(hc.groups)))
	require.Equal(t, []byte{0}, hc.formats)
	require.Equal(t, "1301C02F", strings.ToUpper(hex.EncodeToString(noGrease(hc.ciphers))))
	require.Equal(t, "001D0017", strings.ToUpper(hex.EncodeToString(noGrease(hc.groups))))

	// A buffer of 8 bytes: the 6 of the suites, then 2 of the types.
	hc, ok = captureHello(msg, 8)
	require.True(t, ok)
	require.Len(t, hc.ciphers, 6)
	require.Equal(t, []byte{0x1a, 0x1a}, hc.exts)
	require.Empty(t, hc.groups)
	require.Equal(t, XXH64([]byte{0x0a, 0x0a, 0x13, 0x01, 0xc0, 0x2f}, 0), hc.xxh, "the hash covers every suite")

	// Cut before its last extension ends, the message is refused.
	for cut := range len(msg) {
		_, ok := captureHello(msg[:cut], 64)
		require.False(t, ok, "cut at %d", cut)
	}
	_, ok = captureHello([]byte{2, 0, 0, 0}, 64)
	require.False(t, ok, "a ServerHello")
}
