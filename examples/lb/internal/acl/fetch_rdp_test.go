package acl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// rdpRequest is an X.224 connection request as a Remote Desktop client
// sends it first: an 11-byte TPKT and X.224 header, then the cookie line.
func rdpRequest(cookie string) []byte {
	b := []byte{0x03, 0x00, 0x00, 0x2b, 0x26, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00}
	b = append(b, cookie...)
	return append(b, 0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00)
}

func TestRDPCookie(t *testing.T) {
	req := rdpRequest("Cookie: mstshash=alice\r\n")
	v, short := RDPCookie(req, "mstshash")
	require.False(t, short)
	require.Equal(t, "alice", string(v))
	v, _ = RDPCookie(req, "")
	require.Equal(t, "alice", string(v), "any cookie")
	v, _ = RDPCookie(rdpRequest("cookie:   MSTSHASH=bob\r\n"), "mstshash")
	require.Equal(t, "bob", string(v), "case and spaces as haproxy allows")
	v, short = RDPCookie(req, "msts")
	require.Nil(t, v, "another name")
	require.False(t, short)
	v, short = RDPCookie(rdpRequest("Hello: mstshash=x\r\n"), "")
	require.Nil(t, v)
	require.False(t, short, "not a cookie line: decided")
	v, short = RDPCookie(rdpRequest("Cookie: mstshash=x\rz"), "")
	require.Nil(t, v)
	require.False(t, short, "a CR without LF")
	// Every cut before the line's end: not yet.
	line := rdpRequest("Cookie: mstshash=alice\r\n")[:11+len("Cookie: mstshash=alice\r\n")]
	for cut := 0; cut < len(line); cut++ {
		v, short := RDPCookie(line[:cut], "mstshash")
		require.Nil(t, v, "cut %d", cut)
		require.True(t, short, "cut %d", cut)
	}

	// The fetches and the predefined ACL.
	c := &contentCtx{b: req}
	s, ok := fetchOn(t, "req.rdp_cookie(mstshash)", c)
	require.True(t, ok)
	require.Equal(t, "alice", s.Str)
	s, ok = fetchOn(t, "rdp_cookie_cnt", c)
	require.True(t, ok)
	require.Equal(t, int64(1), s.Int)
	s, ok = fetchOn(t, "req.rdp_cookie_cnt(msts)", c)
	require.True(t, ok)
	require.Equal(t, int64(0), s.Int)
	require.True(t, (*Set)(nil).Get("RDP_COOKIE").Eval(c))
	require.True(t, (*Set)(nil).Get("REQ_CONTENT").Eval(c))
	short3 := &contentCtx{b: req[:20]}
	require.False(t, (*Set)(nil).Get("RDP_COOKIE").Eval(short3))
	require.True(t, short3.mayChange, "too short: the rule waits")
	require.False(t, (*Set)(nil).Get("REQ_CONTENT").Eval(&contentCtx{final: true}))

	wait := &contentCtx{b: req}
	require.False(t, (*Set)(nil).Get("WAIT_END").Eval(wait))
	require.True(t, wait.mayChange)
	require.True(t, (*Set)(nil).Get("WAIT_END").Eval(&contentCtx{b: req, final: true}))
}
