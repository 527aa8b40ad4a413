package acl

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/proxyblocks/proxyblocks/internal/testnet"

	"github.com/stretchr/testify/require"
)

type contentCtx struct {
	b         []byte
	final     bool
	mayChange bool
}

func (c *contentCtx) Src() netip.AddrPort     { return netip.AddrPort{} }
func (c *contentCtx) Dst() netip.AddrPort     { return netip.AddrPort{} }
func (c *contentCtx) Payload() ([]byte, bool) { return c.b, c.final }
func (c *contentCtx) MayChange()              { c.mayChange = true }

func fetchOn(t *testing.T, expr string, ctx Context) (Sample, bool) {
	t.Helper()
	_, fn, err := CompileFetch(expr)
	require.NoError(t, err)
	return fn(ctx)
}

func TestContentFetches(t *testing.T) {
	hello := testnet.ClientHello(t, "api.example.com")
	for _, name := range []string{"req_ssl_sni", "req.ssl_sni"} {
		s, ok := fetchOn(t, name, &contentCtx{b: hello})
		require.True(t, ok, name)
		require.Equal(t, "api.example.com", s.Str)
	}
	s, ok := fetchOn(t, "req_ssl_hello_type", &contentCtx{b: hello})
	require.True(t, ok)
	require.Equal(t, int64(1), s.Int)

	// Every cut of the hello is "not yet": no sample, and more may come,
	// unless nothing more will be waited for.
	for cut := 0; cut < len(hello); cut += 7 {
		c := &contentCtx{b: hello[:cut]}
		_, ok := fetchOn(t, "req_ssl_sni", c)
		require.False(t, ok, "cut at %d", cut)
		require.True(t, c.mayChange, "cut at %d", cut)
		c = &contentCtx{b: hello[:cut], final: true}
		_, ok = fetchOn(t, "req_ssl_hello_type", c)
		require.False(t, ok)
		require.False(t, c.mayChange)
	}

	// Not TLS: decided at the first byte.
	c := &contentCtx{b: []byte("GET / HTTP/1.1\r\n")}
	_, ok = fetchOn(t, "req_ssl_sni", c)
	require.False(t, ok)
	require.False(t, c.mayChange)
	s, ok = fetchOn(t, "req.len", c)
	require.True(t, ok)
	require.Equal(t, int64(16), s.Int)
	require.True(t, c.mayChange, "a length may grow until the data is final")

	// A hello without a server name has a type and no name.
	noName := testnet.ClientHello(t, "")
	_, ok = fetchOn(t, "req_ssl_sni", &contentCtx{b: noName})
	require.False(t, ok)
	_, ok = fetchOn(t, "req_ssl_hello_type", &contentCtx{b: noName})
	require.True(t, ok)

	// With no bytes to look at (a TLS connection), none of them has a
	// sample; no bytes yet is a length of 0.
	_, ok = fetchOn(t, "req.len", &contentCtx{final: true})
	require.False(t, ok)
	s, ok = fetchOn(t, "req.len", &contentCtx{b: []byte{}, final: true})
	require.True(t, ok)
	require.Zero(t, s.Int)

	// Outside a content context the fetches find nothing.
	_, ok = fetchOn(t, "req_ssl_sni", plainCtx{})
	require.False(t, ok)
}

type plainCtx struct{}

func (plainCtx) Src() netip.AddrPort { return netip.AddrPort{} }
func (plainCtx) Dst() netip.AddrPort { return netip.AddrPort{} }

// FuzzClientHelloSNI feeds the parser damaged hellos: it must never panic,
// and a name it returns lies inside the input.
func FuzzClientHelloSNI(f *testing.F) {
	f.Add([]byte{0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, st := tlsHandshake(b)
		if st != helloWhole {
			return
		}
		if name, ok := clientHelloSNI(h); ok {
			require.NotEmpty(t, name)
			require.Contains(t, string(b), name)
		}
	})
}

// httpResCtx is a response of an HTTP proxy: an HTX size, no bytes.
type httpResCtx struct {
	contentCtx
	n int
}

func (c *httpResCtx) ResponsePayload() ([]byte, bool, bool) { return nil, c.final, true }
func (c *httpResCtx) ResponseHTTPLen() int                  { return c.n }

// On an HTTP response, res.len is its HTX size (which may change until
// final) and the payload fetches find nothing, without waiting.
func TestHTTPResponseContentFetches(t *testing.T) {
	c := &httpResCtx{n: 61}
	s, ok := fetchOn(t, "res.len", c)
	require.True(t, ok)
	require.Equal(t, int64(61), s.Int)
	require.True(t, c.mayChange, "not final yet")
	c = &httpResCtx{n: 61, contentCtx: contentCtx{final: true}}
	_, _ = fetchOn(t, "res.len", c)
	require.False(t, c.mayChange)
	for _, expr := range []string{"res.payload(0,4)", "res.payload_lv(0,1)", "res.ssl_hello_type", "rep_ssl_hello_type"} {
		c := &httpResCtx{n: 61}
		_, ok := fetchOn(t, expr, c)
		require.False(t, ok, expr)
		require.False(t, c.mayChange, expr)
	}
}

// UsesLayer6 finds a fetch of raw bytes in any ACL of a condition, named
// or anonymous, and OnCond sees each condition built on the set.
func TestCondUsesLayer6(t *testing.T) {
	var seen []string
	set := &Set{OnCond: func(c *Cond) { seen = append(seen, c.String()) }}
	require.NoError(t, set.Add([]string{"short", "req.len", "lt", "10"}))
	require.NoError(t, set.Add([]string{"local", "src", "127.0.0.1"}))
	for words, want := range map[string]bool{
		"if short": true,
		"if local": false,
		"if local || { res.payload(0,1) -m bin 00 }": true,
		"unless { req.hdr(x) a }":                    false,
		"if { req.ssl_sni a }":                       true,
		"if":                                         false,
	} {
		c, err := ParseCond(strings.Fields(words), set)
		require.NoError(t, err, words)
		require.Equal(t, want, c.UsesLayer6(), words)
	}
	require.Len(t, seen, 6)
	require.False(t, (*Cond)(nil).UsesLayer6())
}
