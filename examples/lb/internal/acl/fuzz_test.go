package acl

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseCond feeds ACL lines and a condition of any words to the
// parser: it returns an error naming the problem or a condition that
// evaluates without panicking, for a bare connection and for one with
// stick counters, and keeps the text it was written with.
//
//	go test -run '^$' -fuzz FuzzParseCond ./examples/lb/internal/acl
func FuzzParseCond(f *testing.F) {
	seeds := [][2]string{
		{"local src 127.0.0.1 10.0.0.0/8\nbad src_conn_rate gt 10", "if local || !bad"},
		{"host hdr(host) -i -m beg www.", "unless host { method GET POST }"},
		{"x src_get_gpc0(t) ge 1", "if !{ src_inc_gpc0 gt 3 } or x"},
		{"", "if { always_true } !{ always_false }"},
		{"p path_beg /api /static", "if p { hdr_cnt(x-a) eq 2 } || { ssl_fc }"},
		{"a dst_port 80:90", "if !!a"},
		{"", "if {"},
		{"", "unless { src } }"},
		{"", "if or"},
		{"n sc0_conn_rate(t) gt -5", "if n"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	plainCtx := plain{src: netip.MustParseAddrPort("10.1.2.3:4567"), dst: netip.MustParseAddrPort("127.0.0.1:80")}
	trackCtx := newCtx("192.0.2.1:1000")
	f.Fuzz(func(t *testing.T, lines, cond string) {
		set := &Set{}
		for _, l := range strings.Split(lines, "\n") {
			if err := set.Add(strings.Fields(l)); err != nil {
				require.NotEmpty(t, err.Error())
			}
		}
		words := strings.Fields(cond)
		c, err := ParseCond(words, set)
		if err != nil {
			require.Nil(t, c)
			require.NotEmpty(t, err.Error())
			return
		}
		require.NotNil(t, c)
		require.Equal(t, strings.Join(words, " "), c.String())
		c.Eval(plainCtx)
		c.Eval(trackCtx)
	})
}
