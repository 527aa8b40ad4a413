package acl

import (
	"net/netip"
	"testing"

	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/stretchr/testify/require"
)

// respCtx carries a request and, once one came, a response.
type respCtx struct{ req, resp *htx.Message }

func (c respCtx) Src() netip.AddrPort        { return netip.AddrPort{} }
func (c respCtx) Dst() netip.AddrPort        { return netip.AddrPort{} }
func (c respCtx) HTTPRequest() *htx.Message  { return c.req }
func (c respCtx) HTTPResponse() *htx.Message { return c.resp }

// res.hdr and shdr read the response's fields as hdr reads the
// request's, and find nothing before a response.
func TestResponseHeaderFetches(t *testing.T) {
	var req, resp htx.Message
	req.SetRequest("GET", "", "", "/")
	req.Add("X-Srv", "from-request")
	resp.SetResponse(200, "OK")
	resp.Add("X-Srv", "a, b")
	resp.Add("X-Srv", "c")
	c := respCtx{&req, &resp}
	for expr, want := range map[string]string{
		"res.hdr(x-srv)":       "c",
		"shdr(x-srv,1)":        "a",
		"res.hdr(x-srv,-2)":    "b",
		"res.hdr(x-srv),upper": "C",
		"req.hdr(x-srv)":       "from-request",
	} {
		s, ok := fetchOn(t, expr, c)
		require.True(t, ok, expr)
		require.Equal(t, want, s.String(), expr)
	}
	_, ok := fetchOn(t, "res.hdr(x-none)", c)
	require.False(t, ok)
	_, ok = fetchOn(t, "res.hdr(x-srv)", respCtx{req: &req})
	require.False(t, ok, "no response yet")
	_, ok = fetchOn(t, "shdr(x-srv)", reqCtx{&req})
	require.False(t, ok, "a context without responses")

	cond, err := ParseCond([]string{"if", "{", "res.hdr(x-srv)", "-m", "str", "a", "}"}, nil)
	require.NoError(t, err)
	require.True(t, cond.Eval(c), "an ACL tries every value")
}

// TestHdrFollowsTheDirection checks hdr(), which reads the request in
// request rules and the response once one came, as HAProxy's reads
// req.hdr() and res.hdr() by direction; req.hdr(), hdr_cnt() and the
// derived names such as hdr_sub keep to the request.
func TestHdrFollowsTheDirection(t *testing.T) {
	var req, resp htx.Message
	req.SetRequest("GET", "", "", "/")
	req.Add("Content-Type", "text/plain")
	resp.SetResponse(200, "OK")
	resp.Add("Content-Type", "application/json")
	resp.Add("Content-Type", "x")
	for _, tc := range []struct {
		c          Context
		hdr, count string
	}{
		{respCtx{req: &req}, "text/plain", "1"},
		{respCtx{&req, &resp}, "x", "1"},
		{reqCtx{&req}, "text/plain", "1"},
	} {
		s, ok := fetchOn(t, "hdr(content-type)", tc.c)
		require.True(t, ok)
		require.Equal(t, tc.hdr, s.String())
		s, ok = fetchOn(t, "hdr_cnt(content-type)", tc.c)
		require.True(t, ok)
		require.Equal(t, tc.count, s.String())
		s, ok = fetchOn(t, "req.hdr(content-type)", tc.c)
		require.True(t, ok)
		require.Equal(t, "text/plain", s.String(), "req.hdr keeps to the request")
	}
	cond, err := ParseCond([]string{"if", "{", "hdr(content-type)", "-m", "sub", "json", "}"}, nil)
	require.NoError(t, err)
	require.True(t, cond.Eval(respCtx{&req, &resp}))
	require.False(t, cond.Eval(respCtx{req: &req}))
	cond, err = ParseCond([]string{"if", "{", "hdr_sub(content-type)", "json", "}"}, nil)
	require.NoError(t, err)
	require.False(t, cond.Eval(respCtx{&req, &resp}), "hdr_sub reads the request")
}
