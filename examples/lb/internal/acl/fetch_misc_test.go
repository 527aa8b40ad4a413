package acl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMiscFetchArgs checks uuid, date and rand: their values' shapes and
// the arguments they refuse.
func TestMiscFetchArgs(t *testing.T) {
	c := newCtx("10.1.2.3:1000")
	_, fn, err := CompileFetch("uuid")
	require.NoError(t, err)
	a, _ := fn(c)
	b, _ := fn(c)
	assert.Len(t, a.String(), 36)
	assert.NotEqual(t, a.String(), b.String(), "a new one each time")
	_, fn, err = CompileFetch("date(-10,ms)")
	require.NoError(t, err)
	ms, _ := fn(c)
	_, fn, err = CompileFetch("date")
	require.NoError(t, err)
	s, _ := fn(c)
	assert.InDelta(t, s.Int*1000, ms.Int, 2000, "milliseconds, with the offset in them")
	_, fn, err = CompileFetch("rand(3)")
	require.NoError(t, err)
	for range 50 {
		v, ok := fn(c)
		require.True(t, ok)
		require.True(t, v.Int >= 0 && v.Int < 3)
	}
	for _, expr := range []string{"uuid(7)", "date(x)", "date(1,h)", "rand(0)", "rand(x)"} {
		_, _, err := CompileFetch(expr)
		assert.Error(t, err, expr)
	}
}
