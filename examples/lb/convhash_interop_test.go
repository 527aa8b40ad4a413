package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropHashConvertersMatchHAProxy: crc32, crc32c, djb2, sdbm, wt6,
// xxh32, xxh64, sha1, sha2, digest, hmac, hex2i, htonl, be2dec and
// be2hex answer as in haproxy 2.6, on strings (bytes past ASCII, long
// ones), integers (8 bytes) and addresses.
func TestInteropHashConvertersMatchHAProxy(t *testing.T) {
	long := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 3)
	var cases []convCase
	for _, conv := range []string{"crc32", "crc32(1)", "crc32c", "crc32c(1)", "djb2", "djb2(1)", "sdbm", "sdbm(1)", "wt6", "wt6(1)",
		"xxh32", "xxh32(5)", "xxh32(-1)", "xxh64", "xxh64(5)", "xxh64(-1)", "sha1,hex", "sha2,hex", "sha2(224),hex",
		"sha2(384),hex", "sha2(512),hex", "digest(md5),hex", "digest(SHA256),hex", "digest(sha3-256),hex", "digest(sha512-256),hex",
		"hmac(sha256,a2V5),hex", "hmac(md5,a2V5),hex", "be2dec(:,3)", "be2hex(:,5,1)"} {
		for _, in := range []string{"hello", "", "é~ÿ", long} {
			cases = append(cases, convCase{"req.fhdr(x-in)," + conv, in})
		}
		cases = append(cases, convCase{"int(1)," + conv, ""}, convCase{"ipv4(1.2.3.4)," + conv, ""}, convCase{"ipv6(2001:db8::1)," + conv, ""})
	}
	first := len(cases)
	cases = append(cases,
		convCase{"str(ff),hex2i", ""}, convCase{"str(FF),hex2i", ""}, convCase{"str(-ff),hex2i", ""}, convCase{"str(fffffffffffffffff),hex2i", ""},
		convCase{"str(12g4),hex2i", ""}, convCase{"str(),hex2i", ""}, convCase{"str(8000000000000000),hex2i", ""},
		convCase{"int(1),htonl,hex", ""}, convCase{"int(-1),htonl,hex", ""}, convCase{"int(4294967296),htonl,hex", ""}, convCase{"str(1),htonl,hex", ""},
		convCase{"str(abcdefg),be2dec(:,2)", ""}, convCase{"str(abcdefg),be2dec(:,2,1)", ""}, convCase{"str(abcdefghij),be2dec(,8)", ""},
		convCase{"str(a),be2dec(:,2,1),length", ""}, convCase{"int(1),be2dec(:,4)", ""}, convCase{"str(abc),be2dec(:,4,1),length", ""},
		convCase{"str(abcdefg),be2hex", ""}, convCase{"str(abcdefg),be2hex(:,2)", ""}, convCase{"str(abcdefg),be2hex(::,2,1)", ""},
		convCase{"str(abcdefg),be2hex(,0)", ""}, convCase{"str(abcdefg),be2hex(,5,1)", ""}, convCase{"str(abcdefg),be2hex(:,8,1),length", ""},
		convCase{"str(),be2hex(:,2),length", ""}, convCase{"str(abcdefg),be2hex(,-1)", ""},
	)
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "req.fhdr(x-in),crc32 => [907060870]", got[0])
	require.Equal(t, "req.fhdr(x-in),crc32(1) => [3902247103]", got[7])
	for i, v := range []string{"[255]", "[255]", "[]", "[-1]", "[]", "[0]", "[-9223372036854775808]",
		"[00000001]", "[FFFFFFFF]", "[00000000]", "[00000001]", "[24930:25444:25958:103]", "[24930:25444:25958]",
		"[701728045224574346426986]", "[0]", "[0:1]", "[0]", "[61626364656667]", "[6162:6364:6566:67]", "[6162::6364::6566]",
		"[61626364656667]", "[6162636465]", "[0]", "[0]", "[61626364656667]"} {
		require.Equal(t, cases[first+i].expr+" => "+v, got[first+i])
	}
	errs := convRefused(t, []string{"str(a),crc32(x)", "str(a),sha2(100)", "str(a),sha1(1)", "str(a),digest(nosuch)", "str(a),digest",
		"str(a),hmac(sha256)", "str(a),hmac(nosuch,a2V5)", "str(a),hmac(sha256,notb64!)", "str(a),hex2i(1)",
		"str(a),be2dec", "str(a),be2dec(:,9)", "str(a),be2dec(:,2,x)", "str(a),be2hex(:,0)", "str(a),be2hex(:,-1)", "str(a),be2hex(:,1,2)"})
	require.Contains(t, errs[0], "converter 'crc32': failed to parse 'x' as type 'integer'")
	require.Contains(t, errs[1], "converter 'sha2': unsupported number of bits: '100'")
	require.Contains(t, errs[3], "converter 'digest': algorithm 'nosuch' unknown or not supported")
	require.Contains(t, errs[7], "converter 'hmac': key 'notb64!' is not base64 encoded")
	require.Contains(t, errs[9], "converter 'be2dec': chunk_size out of [1..8] range (0)")
	require.Contains(t, errs[12], "converter 'be2hex': chunk_size needs to be positive (0)")
	require.Contains(t, errs[14], "converter 'be2hex': unsupported truncate value (2)")
}

// TestInteropHexAndBase64OfNumbersMatchHAProxy: hex and base64 read
// integers and addresses as haproxy casts them to binary (8 bytes, 4
// or 16), so "src,hex" gives the address's bytes, as in haproxy 2.6.
func TestInteropHexAndBase64OfNumbersMatchHAProxy(t *testing.T) {
	var cases []convCase
	for _, in := range []string{"int(1)", "int(-2)", "bool(1)", "ipv4(1.2.3.4)", "ipv6(2001:db8::1)", "src", "str(abc)"} {
		cases = append(cases, convCase{in + ",hex", ""}, convCase{in + ",base64", ""})
	}
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, []string{"int(1),hex => [0000000000000001]", "int(1),base64 => [AAAAAAAAAAE=]"}, got[:2])
	require.Equal(t, "src,hex => [7F000001]", got[10])
}
