package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropIntConvertersMatchHAProxy: and, or, xor, neg, cpl, even,
// odd, bool and iif answer as in haproxy 2.6, strings and addresses
// read as integers the way haproxy casts them, overflows saturated.
func TestInteropIntConvertersMatchHAProxy(t *testing.T) {
	cases := []convCase{
		{"int(12),and(10)", ""}, {"int(12),or(3)", ""}, {"int(12),xor(10)", ""},
		{"int(-5),and(3)", ""}, {"int(5),and(-3)", ""}, {"int(5),and", ""}, {"int(5),or()", ""},
		{"int(7),and(99999999999999999999)", ""}, {"int(7),or(+8)", ""},
		{"str(12abc),and(15)", ""}, {"str(abc),and(15)", ""}, {"str(),and(15)", ""},
		{"str( 12),xor(1)", ""}, {"req.fhdr(x-in),or(0)", "99999999999999999999"},
		{"req.fhdr(x-in),or(0)", "-99999999999999999999"}, {"ipv4(1.2.3.4),and(255)", ""},
		{"str(+7),neg", ""}, {"str(-),neg", ""}, {"int(5),neg", ""},
		{"int(-9223372036854775808),neg", ""}, {"int(0),cpl", ""}, {"int(5),cpl,cpl", ""}, {"str(5),cpl", ""},
		{"int(4),even", ""}, {"int(4),odd", ""}, {"int(-3),odd", ""}, {"int(-3),even", ""},
		{"str(abc),even", ""}, {"str(),odd", ""},
		{"int(0),bool", ""}, {"int(-2),bool", ""}, {"str(x),bool", ""}, {"ipv4(0.0.0.1),bool", ""},
		{"bool(1),iif(yes,no)", ""}, {"bool(0),iif(yes,no)", ""}, {"int(7),iif(yes,no)", ""},
		{"str(1x),iif(yes,no)", ""}, {"str(),iif(yes,no)", ""}, {"str(0),iif(yes,no)", ""},
		{"int(3),iif(,)", ""}, {"int(3),even,iif(e,o)", ""},
	}
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	for i, v := range []string{"[8]", "[15]", "[6]", "[3]", "[5]", "[0]", "[5]", "[7]", "[15]",
		"[12]", "[0]", "[]", "[1]", "[9223372036854775807]", "[-9223372036854775808]", "[4]",
		"[-7]", "[0]", "[-5]", "[9223372036854775807]", "[-1]", "[5]", "[-6]",
		"[1]", "[0]", "[1]", "[0]", "[1]", "[]", "[0]", "[1]", "[0]", "[1]",
		"[yes]", "[no]", "[yes]", "[yes]", "[]", "[no]", "[]", "[o]"} {
		require.Equal(t, cases[i].expr+" => "+v, got[i])
	}
	errs := convRefused(t, []string{"int(5),and(foo)", "int(5),and(1x)", "int(5),and(1,2)", "int(5),neg(1)", "int(5),iif(a)", "int(5),iif(a,b,c)"})
	require.Contains(t, errs[0], "converter 'and': 'foo': expects an integer or a variable name")
	require.Contains(t, errs[2], "expects one integer")
	require.Contains(t, errs[3], "converter 'neg' takes no argument")
	require.Contains(t, errs[4], "converter 'iif': expects <true>,<false>")
}

// TestInteropArithmeticConvertersMatchHAProxy: add, sub, mul, div and
// mod saturate at the 64-bit bounds, divide by zero as haproxy 2.6 does
// (div gives the largest integer, mod 0) and read strings by their
// leading digits and IPv4 addresses as 32 bits.
func TestInteropArithmeticConvertersMatchHAProxy(t *testing.T) {
	exprs := []string{"int(9223372036854775807),add(1)", "int(-9223372036854775808),add(-1)", "int(-9223372036854775808),sub(1)",
		"int(9223372036854775807),sub(-1)", "int(0),sub(-9223372036854775808)", "int(-1),sub(-9223372036854775808)",
		"int(-2),sub(9223372036854775807)", "int(9223372036854775807),mul(2)", "int(-9223372036854775808),mul(-1)",
		"int(-9223372036854775808),mul(2)", "int(4611686018427387904),mul(-2)", "int(3037000500),mul(3037000500)",
		"int(-3037000500),mul(3037000500)", "int(0),mul(-9223372036854775808)", "int(-1),mul(-9223372036854775808)",
		"int(-9223372036854775808),div(-1)", "int(5),div(0)", "int(-5),div(0)", "int(5),mod(0)", "int(-9223372036854775808),mod(-1)",
		"int(-7),div(2)", "int(-7),mod(2)", "int(7),mod(-2)", "str(12abc),add(1)", "str(abc),add(1)", "str(),add(1)",
		"ipv4(1.2.3.4),add(1)", "int(5),add", "int(5),mul()", "bool(1),add(1)", "int(5),sub(99999999999999999999)"}
	var cases []convCase
	for _, e := range exprs {
		cases = append(cases, convCase{e, ""})
	}
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	for i, v := range []string{"9223372036854775807", "-9223372036854775808", "-9223372036854775808", "9223372036854775807",
		"9223372036854775807", "9223372036854775807", "-9223372036854775808", "9223372036854775807", "9223372036854775807",
		"-9223372036854775808", "-9223372036854775808", "9223372036854775807", "-9223372036854775808", "0", "9223372036854775807",
		"9223372036854775807", "9223372036854775807", "9223372036854775807", "0", "0", "-3", "-1", "1", "13", "1", "", "16909061",
		"5", "0", "2", "-9223372036854775802"} {
		require.Equal(t, exprs[i]+" => ["+v+"]", got[i])
	}
	require.Contains(t, convRefused(t, []string{"int(5),add(x1)"})[0], "converter 'add': 'x1': expects an integer or a variable name")
}

// TestInteropNotAndBytesCastsMatchHAProxy: not leaves no sample for an
// empty string, and bytes cuts integers and addresses as binary, as
// haproxy 2.6 casts them, past the end giving an empty sample.
func TestInteropNotAndBytesCastsMatchHAProxy(t *testing.T) {
	exprs := []string{"str(),not,concat(<,,>)", "str(0),not", "str(2x),not", "int(1),bytes(6,2),hex", "int(1),bytes(7),hex",
		"ipv4(1.2.3.4),bytes(1,2),hex", "ipv6(2001:db8::1),bytes(14),hex", "str(abcdef),bytes(2,3)", "int(1),bytes(8),concat(<,,>)",
		"str(abc),bytes(4),concat(<,,>)", "str(abc),bytes(1,0),concat(<,,>)"}
	var cases []convCase
	for _, e := range exprs {
		cases = append(cases, convCase{e, ""})
	}
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	for i, v := range []string{"[]", "[1]", "[0]", "[0001]", "[01]", "[0203]", "[0001]", "[cde]", "[<>]", "[<>]", "[<>]"} {
		require.Equal(t, exprs[i]+" => "+v, got[i])
	}
}

// TestInteropIpmaskCastsMatchHAProxy: ipmask reads a string holding an
// address, and an integer as IPv4's 32 bits, as haproxy 2.6 casts them.
func TestInteropIpmaskCastsMatchHAProxy(t *testing.T) {
	exprs := []string{"str(1.2.3.4),ipmask(24)", "str(::1),ipmask(24,64)", "str(x),ipmask(24)", "int(16909060),ipmask(24)",
		"int(-1),ipmask(24)", "int(4294967297),ipmask(32)", "str(::ffff:1.2.3.4),ipmask(24)", "str(1.2.3),ipmask(24)",
		"str(2001:db8::1),ipmask(24)", "str(1.2.3.4),ipmask(24),hex"}
	var cases []convCase
	for _, e := range exprs {
		cases = append(cases, convCase{e, ""})
	}
	want, got := convAnswers(t, cases, "")
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	for i, v := range []string{"[1.2.3.0]", "[::]", "[]", "[1.2.3.0]", "[255.255.255.0]", "[0.0.0.1]", "[1.2.3.0]", "[]", "[]", "[01020300]"} {
		require.Equal(t, exprs[i]+" => "+v, got[i])
	}
}
