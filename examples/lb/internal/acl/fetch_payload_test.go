package acl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// req.payload reads a slice of the first bytes, waits while too few have
// come, and its ACLs must name their match method.
func TestReqPayload(t *testing.T) {
	_, fn, err := CompileFetch("req.payload(1,3)")
	require.NoError(t, err)
	c := &contentCtx{b: []byte("xGETy")}
	s, ok := fn(c)
	require.True(t, ok)
	require.Equal(t, "GET", s.Str)

	c = &contentCtx{b: []byte("xG")}
	_, ok = fn(c)
	require.False(t, ok)
	require.True(t, c.mayChange, "more bytes may come")
	c = &contentCtx{b: []byte("xG"), final: true}
	_, ok = fn(c)
	require.False(t, ok)
	require.False(t, c.mayChange)

	_, whole, err := CompileFetch("req.payload(2,0)")
	require.NoError(t, err)
	s, ok = whole(&contentCtx{b: []byte("abcdef"), final: true})
	require.True(t, ok)
	require.Equal(t, "cdef", s.Str)

	for _, bad := range []string{"req.payload(1)", "req.payload(-1,2)", "req.payload(a,b)"} {
		_, _, err := CompileFetch(bad)
		require.ErrorIs(t, err, ErrSyntax, bad)
	}

	e, err := ParseExpr([]string{"req.payload(0,3)", "-m", "bin", "474554", "505554"})
	require.NoError(t, err)
	require.True(t, e.Eval(&contentCtx{b: []byte("PUT /")}))
	require.False(t, e.Eval(&contentCtx{b: []byte("POST"), final: true}))
	_, err = ParseExpr([]string{"req.payload(0,3)", "474554"})
	require.ErrorContains(t, err, "matching method must be specified first (using '-m')")
	_, err = ParseExpr([]string{"req.payload(0,3)", "-m", "bin", "4G"})
	require.ErrorIs(t, err, ErrBadPattern)
}

// req.payload_lv reads a block its size field announces, after the field
// or at an offset of its own.
func TestReqPayloadLV(t *testing.T) {
	_, fn, err := CompileFetch("req.payload_lv(1,2)")
	require.NoError(t, err)
	c := &contentCtx{b: []byte("x\x00\x03abcz")}
	s, ok := fn(c)
	require.True(t, ok)
	require.Equal(t, "abc", s.Str)

	c = &contentCtx{b: []byte("x\x00\x03ab")}
	_, ok = fn(c)
	require.False(t, ok)
	require.True(t, c.mayChange, "the block is not whole yet")

	_, rel, err := CompileFetch("req.payload_lv(0,1,+1)")
	require.NoError(t, err)
	s, ok = rel(&contentCtx{b: []byte("\x02-hi"), final: true})
	require.True(t, ok)
	require.Equal(t, "hi", s.Str)
	_, abs, err := CompileFetch("req.payload_lv(0,1,4)")
	require.NoError(t, err)
	s, ok = abs(&contentCtx{b: []byte("\x01xyzQ"), final: true})
	require.True(t, ok)
	require.Equal(t, "Q", s.Str)

	for _, bad := range []string{"req.payload_lv(1)", "req.payload_lv(0,5)", "req.payload_lv(0,1,x)", "req.payload_lv(0,0)"} {
		_, _, err := CompileFetch(bad)
		require.ErrorIs(t, err, ErrSyntax, bad)
	}
}
