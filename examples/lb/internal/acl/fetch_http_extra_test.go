package acl

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/stick/peers"
)

// TestStrl2ic: integers are read as haproxy reads them, junk after the
// digits and all.
func TestStrl2ic(t *testing.T) {
	for in, want := range map[string]int64{
		"": 0, "42": 42, "42x": 42, "-5x": -5, "12-3": 1173, "+5": -45, "1 2": -58,
		"99999999999": 1215752191, `"5"`: -1364, "-": 0,
	} {
		assert.Equal(t, want, strl2ic([]byte(in)), in)
	}
}

// TestHeaderIP: hdr_ip takes an IPv4 address, with a port or not, or an
// IPv6 one, and nothing around them.
func TestHeaderIP(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1": "10.0.0.1", "10.0.0.1:80": "10.0.0.1", "01.2.3.4": "1.2.3.4", "::1": "::1",
		"1.2.3.4:99999": "", "1.2.3.4.5": "", "1.2.3": "", "300.1.1.1": "", "abc": "", "1.2.3.4:": "", "fe80::1%eth0": "",
	} {
		s, ok := headerIP([]byte(in))
		if want == "" {
			assert.False(t, ok, in)
			continue
		}
		require.True(t, ok, in)
		assert.Equal(t, netip.MustParseAddr(want), s.IP, in)
	}
}

// TestURLParam: parameters end at '&', ';' or the delimiter, a name is
// matched whole, and none takes the value after the first '='.
func TestURLParam(t *testing.T) {
	for _, c := range []struct {
		uri, name string
		delim     byte
		want      string
		ok        bool
	}{
		{"/p?q=1&n=42x&k=v;k=w&q=2", "q", 0, "1", true},
		{"/p?q=1&n=42x&k=v;k=w&q=2", "k", 0, "v", true},
		{"/p?q=1&n=42x&k=v;k=w&q=2", "k", ';', "w", true},
		{"/p?q=1&n=42x&k=v;k=w&q=2", "", 0, "1", true},
		{"/x?q&q=2", "q", 0, "2", true},
		{"/x?q&q=2", "", 0, "2", true},
		{"/x?qq=1", "q", 0, "", false},
		{"/x", "q", 0, "", false},
		{"/x?a=", "a", 0, "", true},
	} {
		v, ok := urlParam([]byte(c.uri), c.name, c.delim)
		assert.Equal(t, c.ok, ok, "%s %s", c.uri, c.name)
		assert.Equal(t, c.want, string(v), "%s %s", c.uri, c.name)
	}
}

// TestHTTPExtraFetches: the header, cookie, list and hash fetches on a
// request.
func TestHTTPExtraFetches(t *testing.T) {
	c := newHTTPCtx("Host", "example.com", "X-N", "12abc, 7", "Cookie", "a=5; a=-2", "Connection", "close", "X-Ip", "::1")
	get := func(expr string) Sample {
		t.Helper()
		_, fn, err := CompileFetch(expr)
		require.NoError(t, err, expr)
		s, ok := fn(c)
		require.True(t, ok, expr)
		return s
	}
	assert.Equal(t, Int(7), get("hdr_val(x-n)"))
	assert.Equal(t, Int(12), get("req.hdr_val(x-n,1)"))
	assert.Equal(t, IP(netip.MustParseAddr("::1")), get("hdr_ip(x-ip)"))
	assert.Equal(t, Int(-2), get("cook_val(a)"), "the last cookie of the name")
	assert.Equal(t, Int(5), get("cook_val"), "the first cookie of any name")
	assert.Equal(t, Str("host,x-n,cookie,x-ip"), get("req.hdr_names"), "the Connection field haproxy drops is left out")
	assert.Equal(t, Str("host: example.com\r\nx-n: 12abc, 7\r\ncookie: a=5; a=-2\r\nx-ip: ::1\r\n\r\n"), get("req.hdrs"))
	assert.Equal(t, Str("\x04host\x0bexample.com\x03x-n\x0812abc, 7\x06cookie\x09a=5; a=-2\x04x-ip\x03::1\x00\x00"), get("req.hdrs_bin"))
	h := get("base32")
	assert.Equal(t, Str(string([]byte{byte(h.Int >> 24), byte(h.Int >> 16), byte(h.Int >> 8), byte(h.Int), 10, 0, 0, 1})), get("base32+src"))
	assert.Equal(t, Str("GET"), get("meth(GET)"))

	// An ACL tries every value.
	set := mustSet(t, "big hdr_val(x-n) gt 10", "neg cook_val(a) lt 0")
	assert.True(t, set.Get("big").Eval(c), "12 is among the values")
	assert.True(t, set.Get("neg").Eval(c), "-2 is among the cookies")

	for _, expr := range []string{"hdr_val", "hdr_ip()", "meth", "hdr_val(x,y)"} {
		_, _, err := CompileFetch(expr)
		assert.Error(t, err, expr)
	}
	assert.Equal(t, []byte{0xf0, 0x01}, peers.AppendVarint(nil, 256), "a long length takes more bytes")
	assert.Equal(t, []byte{239}, peers.AppendVarint(nil, 239))
}

// TestDateUs: date_us is the microseconds of the current second.
func TestDateUs(t *testing.T) {
	_, fn, err := CompileFetch("date_us")
	require.NoError(t, err)
	seen := map[int64]bool{}
	c := newCtx("10.1.2.3:1000")
	for i := 0; i < 10_000_000 && len(seen) < 2; i++ {
		s, ok := fn(c)
		require.True(t, ok)
		require.Equal(t, TypeInt, s.Type)
		require.True(t, s.Int >= 0 && s.Int < 1000000, s.Int)
		seen[s.Int] = true
	}
	require.Greater(t, len(seen), 1, "it moves")
}
