package acl

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/stretchr/testify/require"
)

type reqCtx struct{ m *htx.Message }

func (c reqCtx) Src() netip.AddrPort       { return netip.AddrPort{} }
func (c reqCtx) Dst() netip.AddrPort       { return netip.AddrPort{} }
func (c reqCtx) HTTPRequest() *htx.Message { return c.m }

func TestMoreHTTPFetches(t *testing.T) {
	var m htx.Message
	m.SetRequest("GET", "", "", "/static/img/a.png?x=1&y=2")
	m.Version = htx.Version11
	m.Add("Host", "www.example.com:8080")
	m.Add("Accept", "a, b")
	m.Add("Accept", "c")
	m.Add("Cookie", "SRV=s1; lang=fr")
	m.Add("Cookie", "lang=en")
	c := reqCtx{&m}
	for expr, want := range map[string]string{
		"base":               "www.example.com:8080/static/img/a.png",
		"query":              "x=1&y=2",
		"req.ver":            "1.1",
		"req.cook(lang)":     "en",
		"cook(SRV)":          "s1",
		"req.fhdr(accept)":   "c",
		"req.fhdr(accept,1)": "a, b",
	} {
		s, ok := fetchOn(t, expr, c)
		require.True(t, ok, expr)
		require.Equal(t, want, s.String(), expr)
	}
	for expr, want := range map[string]int64{"hdr_cnt(accept)": 3, "req.fhdr_cnt(accept)": 2, "cook_cnt(lang)": 2, "hdr_cnt": 6} {
		s, ok := fetchOn(t, expr, c)
		require.True(t, ok, expr)
		require.Equal(t, want, s.Int, expr)
	}
	for cond, want := range map[string]bool{
		"path_dir img":              true,
		"path_dir im":               false,
		"path_dir /static/img/":     true,
		"hdr_dom(host) example.com": true,
		"hdr_dom(host) -i EXAMPLE":  true,
		"hdr_dom(host) ample.com":   false,
		"path_len gt 10":            true,
		"base_beg www.example.com":  true,
		"cook(lang) en":             true,
		"req.cook(lang) -m str de":  false,
		"url_len 25":                true,
		"query_sub y=2":             true,
	} {
		e, err := ParseExpr(strings.Fields(cond))
		require.NoError(t, err, cond)
		require.Equal(t, want, e.Eval(c), cond)
	}
}
