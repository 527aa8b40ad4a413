package acl

import (
	"strings"
	"testing"

	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/stretchr/testify/require"
)

// respSide is reqCtx while the response rules run, or before.
type respSide struct {
	reqCtx
	in bool
}

func (c respSide) InResponse() bool { return c.in }

func TestRequestFetchesNeverMatchInResponse(t *testing.T) {
	var m htx.Message
	m.SetRequest("GET", "", "h", "/a?x=1")
	m.Version = htx.Version11
	m.Add("X-In", "v")
	var set Set
	for _, tc := range []struct {
		cond    string
		before  bool
		after   bool
		reqOnly []string
	}{
		{"if { path /a }", true, false, []string{"path"}},
		{"if !{ path_beg /a }", false, true, []string{"path"}},
		{"if { hdr(x-in) -m found } || { method GET }", true, true, []string{"hdr"}},
		{"if { method GET }", true, true, nil},
		{"if { url_param(x) 1 } { req.hdr_cnt(x-in) gt 0 }", true, false, []string{"url_param", "req.hdr_cnt"}},
	} {
		c, err := ParseCond(strings.Fields(tc.cond), &set)
		require.NoError(t, err, tc.cond)
		require.Equal(t, tc.before, c.Eval(respSide{reqCtx{&m}, false}), "%s, request rules", tc.cond)
		require.Equal(t, tc.after, c.Eval(respSide{reqCtx{&m}, true}), "%s, response rules", tc.cond)
		require.Equal(t, tc.reqOnly, c.RequestOnly(), tc.cond)
	}
}
