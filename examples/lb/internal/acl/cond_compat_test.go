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
