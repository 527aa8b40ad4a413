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
	// haproxy reads a variable there; lb's converters cannot.
	require.Contains(t, lbRefused(t, "int(5),and(txn.x)"), "converter 'and': 'txn.x': not supported: a variable as argument")
}
