package acl

import (
	"math"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// convOn runs the converters of expr (a constant fetch and its
// converters) and returns its sample as text, or "<none>".
func convOn(t *testing.T, expr string) string {
	t.Helper()
	s, ok := fetchOn(t, expr, reqCtx{})
	if !ok {
		return "<none>"
	}
	return s.String()
}

func TestSmpInt(t *testing.T) {
	for in, want := range map[string]int64{
		"12abc": 12, "abc": 0, "-": 0, "+7": 7, "-42": -42, " 1": 0,
		"99999999999999999999": math.MaxInt64, "-99999999999999999999": math.MinInt64,
		"9223372036854775808": math.MaxInt64, "-9223372036854775808": math.MinInt64,
	} {
		n, ok := smpInt(Str(in))
		require.True(t, ok, in)
		require.Equal(t, want, n, in)
	}
	_, ok := smpInt(Str(""))
	require.False(t, ok, "an empty string has no integer")
	n, ok := smpInt(IP(netip.MustParseAddr("1.2.3.4")))
	require.True(t, ok)
	require.Equal(t, int64(0x01020304), n)
	_, ok = smpInt(IP(netip.MustParseAddr("::1")))
	require.False(t, ok, "an IPv6 address has no integer")
}

func TestIntConverters(t *testing.T) {
	for expr, want := range map[string]string{
		"int(12),and(10)": "8", "int(12),or(3)": "15", "int(12),xor(10)": "6", "int(5),and": "0",
		"int(5),neg": "-5", "int(-9223372036854775808),neg": "9223372036854775807", "int(5),cpl": "-6",
		"int(-3),odd": "1", "int(-3),even": "0", "int(-2),bool": "1", "str(0),iif(y,n)": "n",
		"str(),iif(y,n)": "<none>", "ipv4(1.2.3.4),even": "1", "ipv4(1.2.3.5),odd": "1",
	} {
		require.Equal(t, want, convOn(t, expr), expr)
	}
	for expr, msg := range map[string]string{
		"int(1),and(foo.x)":      "'foo.x': expects an integer or a variable name",
		"int(1),add(txn.x,2)":    "expects one integer",
		"int(1),or(x1)":          "'x1': expects an integer or a variable name",
		"int(1),iif(a)":          "expects <true>,<false>",
		"ipv6(::1),and(1)":       "converter 'and' cannot be applied",
		"ipv4(1.2.3.4),iif(y,n)": "converter 'iif' cannot be applied",
	} {
		_, _, err := CompileFetch(expr)
		require.ErrorContains(t, err, msg, expr)
	}
}
