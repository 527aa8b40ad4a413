package acl

import (
	"strings"
	"testing"

	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/stretchr/testify/require"
)

func TestConverters(t *testing.T) {
	var m htx.Message
	m.SetRequest("GET", "", "", "/")
	m.Add("X-In", "a//b/Cé.d")
	c := reqCtx{&m}
	for expr, want := range map[string]string{
		"req.hdr(x-in),lower":                "a//b/cé.d",
		"req.hdr(x-in),upper":                "A//B/Cé.D",
		"req.hdr(x-in),length":               "10",
		"req.hdr(x-in),field(2,/)":           "",
		"req.hdr(x-in),field(3,/)":           "b",
		"req.hdr(x-in),field(-1,/.)":         "d",
		"req.hdr(x-in),field(3,/,0)":         "b/Cé.d",
		"req.hdr(x-in),word(2,/)":            "b",
		"req.hdr(x-in),word(-2,/,2)":         "a//b",
		"req.hdr(x-in),regsub(/+,_,g)":       "a_b_Cé.d",
		"req.hdr(x-in),regsub(c,X,i)":        "a//b/Xé.d",
		"req.hdr(x-in),base64,b64dec":        "a//b/Cé.d",
		"req.hdr(x-in),bytes(1,3)":           "//b",
		"req.hdr(x-in),hex":                  "612F2F622F43C3A92E64",
		"req.hdr(x-in),json":                 `a\/\/b\/C\u00c3\u00a9.d`,
		"req.hdr(x-in),length,add(5)":        "15",
		"req.hdr(x-in),length,div(3)":        "3",
		"req.hdr(x-in),length,mod(4)":        "2",
		"req.hdr(x-in),length,div(0)":        "9223372036854775807",
		"req.hdr(x-in),length,mod(0)":        "0",
		"req.hdr(x-in),length,mul(2),sub(1)": "19",
	} {
		s, ok := fetchOn(t, expr, c)
		require.True(t, ok, expr)
		require.Equal(t, want, s.String(), expr)
	}
	for _, expr := range []string{"req.hdr(x-in),field(9,/)", "req.hdr(x-in),b64dec"} {
		_, ok := fetchOn(t, expr, c)
		require.False(t, ok, "%s leaves no sample", expr)
	}
	for expr, msg := range map[string]string{
		"req.hdr(x-in),nosuch":        "unknown converter 'nosuch'",
		"req.hdr(x-in),field(0,/)":    "index '0' must be a non-zero integer",
		"req.hdr(x-in),regsub(a)":     "expects <regex>,<subst>[,<flags>]",
		"req.hdr(x-in),regsub(a,b,z)": "invalid regex flag 'z'",
		"req.hdr(x-in),lower(x)":      "takes no argument",
		"req.hdr(x-in),ipmask(33)":    "invalid mask '33'",
		"req.hdr(x-in),add(x)":        "'x': expects an integer or a variable name",
		"req.hdr(x-in),lower)":        "unbalanced ')'",
	} {
		_, _, err := CompileFetch(expr)
		require.Error(t, err, expr)
		require.Contains(t, err.Error(), msg, expr)
	}
	e, err := ParseExpr(strings.Fields("req.hdr(x-in),lower -m sub cé"))
	require.NoError(t, err)
	require.True(t, e.Eval(c))
	e, err = ParseExpr(strings.Fields("req.hdr(x-in),length gt 9"))
	require.NoError(t, err)
	require.True(t, e.Eval(c), "a converter's type sets the match method")
}
