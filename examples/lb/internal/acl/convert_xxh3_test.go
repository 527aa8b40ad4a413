package acl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestXXH3(t *testing.T) {
	require.Equal(t, uint64(0x2d06800538d394c2), xxh3(nil, 0, &xxh3Secret), "the empty input")
	for expr, want := range map[string]string{
		"str(hello),xxh3":    "-7685981735718036227",
		"str(hello),xxh3(5)": "-5040988036188159185",
	} {
		require.Equal(t, want, convOn(t, expr), expr)
	}
	_, _, err := CompileFetch("str(a),xxh3(x)")
	require.ErrorContains(t, err, "failed to parse 'x' as type 'integer'")
}
