package acl

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Conditions read the operators as haproxy does: "or" in any case,
// lone and trailing "!", "or" with nothing before or after it.
func TestCondOperatorSpellings(t *testing.T) {
	set := mustSet(t, "yes always_true", "no always_false")
	ctx := plain{src: netip.MustParseAddrPort("1.1.1.1:1")}
	for _, tc := range []struct {
		cond string
		want bool
	}{
		{"if no OR yes", true},
		{"if no oR no", false},
		{"if no || yes", true},
		{"if yes !", true},
		{"if no or", false},
		{"if or yes", true},
		{"if ! or no", false},
		{"if or", false},
		{"unless or", true},
		{"if !", false},
	} {
		c, err := ParseCond(strings.Fields(tc.cond), set)
		require.NoError(t, err, tc.cond)
		require.Equal(t, tc.want, c.Eval(ctx), tc.cond)
	}
}

// debug writes to stdout or stderr only: HAProxy's rings (buf0, its
// default) are refused by name; not reads its input as a boolean.
func TestDebugAndNotConverters(t *testing.T) {
	_, _, err := CompileFetch("str(x),debug")
	require.ErrorContains(t, err, "sink 'buf0'")
	_, _, err = CompileFetch("str(x),debug(p,buf1)")
	require.ErrorContains(t, err, "sink 'buf1'")
	_, _, err = CompileFetch("str(x),debug(a,b,c)")
	require.Error(t, err)
	f, fn, err := CompileFetch("str(12),not")
	require.NoError(t, err)
	require.Equal(t, TypeBool, f.Type)
	s, ok := fn(plain{})
	require.True(t, ok)
	require.Equal(t, Bool(false), s)
}
