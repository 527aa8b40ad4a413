package acl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// capCtx is a context with two request capture slots of length 3 and one
// response slot of length 5.
type capCtx struct {
	*ctx
	req, res []string
}

func (c *capCtx) SetCapture(resp bool, i int, v string) bool {
	slots, n := c.req, 3
	if resp {
		slots, n = c.res, 5
	}
	if i < 0 || i >= len(slots) {
		return false
	}
	slots[i] = v[:min(len(v), n)]
	return true
}

func TestCaptureConverters(t *testing.T) {
	c := &capCtx{ctx: newCtx("10.0.0.1:1000"), req: make([]string, 2), res: make([]string, 1)}
	// In order: the last capture into slot 1 is what it holds.
	for _, c2 := range [][2]string{
		{"str(hello),capture-req(1)", "hello"},
		{"int(12345),capture-req(0)", "12345"},
		{"src,capture-res(0)", "10.0.0.1"},
		{"str(a),capture-req( 1 ),upper", "A"},
	} {
		expr, want := c2[0], c2[1]
		s, ok := fetchOn(t, expr, c)
		require.True(t, ok, expr)
		require.Equal(t, want, s.String(), expr)
		require.Equal(t, TypeStr, s.Type, expr)
	}
	require.Equal(t, []string{"123", "a"}, c.req)
	require.Equal(t, []string{"10.0."}, c.res)
	for _, expr := range []string{"str(x),capture-req(2)", "str(x),capture-req(-1)", "str(x),capture-res(1)"} {
		_, ok := fetchOn(t, expr, c)
		require.False(t, ok, "%s: no such slot", expr)
	}
	_, ok := fetchOn(t, "str(x),capture-req(0)", plain{})
	require.False(t, ok, "a context without captures")
	for expr, msg := range map[string]string{
		"str(x),capture-req":      "expects arguments",
		"str(x),capture-req(x)":   "'x' is not a capture slot number",
		"str(x),capture-res(0,1)": "expects one capture slot number",
	} {
		_, _, err := CompileFetch(expr)
		require.Error(t, err, expr)
		require.Contains(t, err.Error(), msg, expr)
	}
}
