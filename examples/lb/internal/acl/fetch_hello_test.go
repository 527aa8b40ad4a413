package acl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSSLVerDottedPatterns: ACLs on req.ssl_ver read dotted versions,
// with operators and ranges, and refuse values that do not fit.
func TestSSLVerDottedPatterns(t *testing.T) {
	// A TLS 1.2 hello: record header, then the ClientHello's version.
	hello := []byte{0x16, 3, 1, 0, 6, 1, 0, 0, 2, 3, 3}
	for expr, want := range map[string]bool{
		"req.ssl_ver 3.3":           true,
		"req_ssl_ver 3.1":           false,
		"req.ssl_ver lt 3.3":        false,
		"req.ssl_ver ge 3.2":        true,
		"req.ssl_ver 3.0:3.3":       true,
		"req.ssl_ver 3.0-3.2":       false,
		"req.ssl_ver -m int 196611": true,
	} {
		e, err := ParseExpr(strings.Fields(expr))
		require.NoError(t, err, expr)
		assert.Equal(t, want, e.Eval(&contentCtx{b: hello, final: true}), expr)
	}
	for _, bad := range []string{"req.ssl_ver 196611", "req.ssl_ver 3.70000", "req.ssl_ver x"} {
		_, err := ParseExpr(strings.Fields(bad))
		assert.ErrorIs(t, err, ErrBadPattern, bad)
	}
	// Too few bytes: no sample, and a rule may wait for more.
	ctx := &contentCtx{b: hello[:8]}
	_, ok := fetchOn(t, "req.ssl_ver", ctx)
	assert.False(t, ok)
	assert.True(t, ctx.mayChange)
}
