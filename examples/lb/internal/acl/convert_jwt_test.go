package acl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// jwt_verify's arguments are checked at start as haproxy checks them; a
// variable as argument is refused.
func TestJWTVerifyArgs(t *testing.T) {
	for expr, want := range map[string]string{
		"str(x),jwt_verify(XX256,k)":      "unknown JWT algorithm: XX256",
		"str(x),jwt_verify(PS384,k)":      "RSASSA-PSS JWS signing not managed yet",
		"str(x),jwt_verify(HS256)":        "expects 2 arguments",
		"str(x),jwt_verify(txn.alg,k)":    "a variable as argument",
		"str(x),jwt_verify(HS256,sess.k)": "a variable as argument",
	} {
		_, _, err := CompileFetch(expr)
		require.ErrorContains(t, err, want, expr)
	}
	_, fn, err := CompileFetch("str(a.b.cc),jwt_verify(RS256,/nonexistent.pem)")
	require.NoError(t, err)
	s, ok := fn(newCtx("10.0.0.1:1"))
	require.True(t, ok)
	require.Equal(t, Int(-5), s, "no key to check with")
}
