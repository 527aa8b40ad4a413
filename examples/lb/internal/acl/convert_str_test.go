package acl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStringConverters(t *testing.T) {
	for expr, want := range map[string]string{
		"str(a),concat(x,,y)": "axy", "str(),add_item(;,,s)": "s", "str(a),add_item(;,,s)": "a;s",
		"str(xxaxx),ltrim(x)": "axx", "str(xxaxx),rtrim(x)": "xxa", "str(a b),url_enc": "a%20b",
		"str(ab?c>>),ub64enc": "YWI_Yz4-", "str(YWI_Yz4-),ub64dec": "ab?c>>", "str(YQ==),ub64dec,hex": "610FFF",
		"str(AAAAA),ub64dec": "<none>", "str(YW#),ub64dec": "<none>", "str(Ex.COM:81),host_only": "ex.com",
		"str(Ex.COM:81),port_only": "81", "str([::1]),port_only": "0", "str(h:12x),port_only": "192",
	} {
		require.Equal(t, want, convOn(t, expr), expr)
	}
	for expr, msg := range map[string]string{
		"str(a),concat(x,abc)":   "'abc' is not a variable name",
		"str(a),add_item(-,abc)": "'abc' is not a variable name",
		"str(a),add_item(;,)":    "one of the optional arguments has to be nonempty",
		"str(a),url_enc(path)":   "unexpected encode type",
		"str(a),strcmp()":        "expects arguments in parentheses",
		"str(a),strcmp(v)":       "'v' is not a variable name",
	} {
		_, _, err := CompileFetch(expr)
		require.ErrorContains(t, err, msg, expr)
	}
}
