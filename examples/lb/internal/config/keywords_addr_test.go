package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseServerAddr(t *testing.T) {
	for in, want := range map[string]struct {
		addr string
		maps bool
	}{
		"127.0.0.1:80":     {"127.0.0.1:80", false},
		"127.0.0.1":        {"127.0.0.1:0", true},
		"127.0.0.1:":       {"127.0.0.1:0", true},
		"127.0.0.1:0":      {"127.0.0.1:0", true},
		"127.0.0.1:+10":    {"127.0.0.1:10", true},
		"127.0.0.1:-10":    {"127.0.0.1:-10", true},
		"[::1]:+5":         {"[::1]:5", true},
		"[::1]":            {"[::1]:0", true},
		"ipv4@10.0.0.1:+1": {"10.0.0.1:1", true},
		"web.example:-1":   {"web.example:-1", true},
		"web.example:8080": {"web.example:8080", false},
		"ipv6@[::1]:443":   {"[::1]:443", false},
		"localhost":        {"localhost:0", true},
		"0.0.0.0:80":       {"0.0.0.0:80", false},
		"*:80":             {"0.0.0.0:80", false},
		":80":              {"0.0.0.0:80", false},
		"*":                {"0.0.0.0:0", true},
		"*:+1":             {"0.0.0.0:1", true},
		":::80":            {"[::]:80", false},
	} {
		addr, maps, err := ParseServerAddr(in)
		require.NoError(t, err, in)
		require.Equal(t, want.addr, addr, in)
		require.Equal(t, want.maps, maps, in)
	}
	for in, msg := range map[string]string{
		"127.0.0.1:+70000": `address "127.0.0.1:+70000": port offset`,
		"127.0.0.1:+x":     `address "127.0.0.1:+x": port offset`,
		"bad host!":        `address "bad host!": invalid host name`,
		"127.0.0.1:99999":  `address "127.0.0.1:99999": port`,
		"udp@1.2.3.4:5":    `only ipv4@ and ipv6@ prefixes are supported`,
	} {
		_, _, err := ParseServerAddr(in)
		require.ErrorContains(t, err, msg, in)
	}
	dst := netip.MustParseAddrPort("127.0.0.5:8080")
	s := &Server{MapPorts: true}
	require.Equal(t, "127.0.0.1:8090", s.DialAddr("127.0.0.1:10", dst))
	require.Equal(t, "127.0.0.1:8070", s.DialAddr("127.0.0.1:-10", dst))
	require.Equal(t, "[::1]:8080", s.DialAddr("[::1]:0", dst))
	require.Equal(t, "127.0.0.5:8081", s.DialAddr("0.0.0.0:1", dst), "the client's destination, port mapped")
	require.Equal(t, "127.0.0.1:9", (&Server{}).DialAddr("127.0.0.1:9", dst), "a fixed port stays")
	require.Equal(t, "127.0.0.5:9", (&Server{}).DialAddr("0.0.0.0:9", dst), "the client's destination")
	require.Equal(t, "127.0.0.5:9", (&Server{}).DialAddr("[::]:9", dst), "the client's family")
	require.Equal(t, "0.0.0.0:9", (&Server{}).DialAddr("0.0.0.0:9", netip.AddrPort{}), "no IP destination")
}

// TestAnyHostNeedsNoCheckPort: as in HAProxy, a server at 0.0.0.0
// without a port may be checked (the check goes to port 0 and fails).
func TestAnyHostNeedsNoCheckPort(t *testing.T) {
	_, err := Parse(Source{Name: "t.cfg", Data: []byte("listen l\n    bind :8080\n    server s1 0.0.0.0 check\n")})
	require.NoError(t, err)
}

func TestMapPortsNeedCheckPort(t *testing.T) {
	_, err := Parse(Source{Name: "t.cfg", Data: []byte("listen l\n    bind :8080\n    server s1 127.0.0.1:+1 check\n")})
	require.ErrorContains(t, err, "t.cfg:3: bad value: proxy 'l': server 's1' has neither service port nor check port")
	_, err = Parse(Source{Name: "t.cfg", Data: []byte("listen l\n    bind :8080\n    server s1 127.0.0.1 check port 80\n")})
	require.NoError(t, err)
}

func TestParseUnixServerAddr(t *testing.T) {
	for in, want := range map[string]string{
		"unix@/run/app.sock": "unix@/run/app.sock",
		"/run/app.sock":      "unix@/run/app.sock",
		"unix@rel.sock":      "unix@rel.sock",
	} {
		addr, maps, err := ParseServerAddr(in)
		require.NoError(t, err, in)
		require.Equal(t, want, addr, in)
		require.False(t, maps)
		network, path := NetAddr(addr)
		require.Equal(t, "unix", network)
		require.Equal(t, want[len("unix@"):], path)
	}
	for in, msg := range map[string]string{
		"unix@":                            "missing socket path",
		"abns@":                            "missing socket name",
		"abns@" + strings.Repeat("x", 108): "socket name longer than 107 bytes",
		"/" + strings.Repeat("x", 200):     "socket path longer than 107 bytes",
	} {
		_, _, err := ParseServerAddr(in)
		require.ErrorContains(t, err, msg, in)
	}
	// An abstract name fills sun_path with NULs, as haproxy's does.
	addr, _, err := ParseServerAddr("abns@lb")
	require.NoError(t, err)
	require.Equal(t, "abns@lb", addr)
	network, path := NetAddr(addr)
	require.Equal(t, "unix", network)
	require.Equal(t, "@lb"+strings.Repeat("\x00", 105), path)
	require.Len(t, path, 108)
	network, addr = NetAddr("127.0.0.1:80")
	require.Equal(t, []string{"tcp", "127.0.0.1:80"}, []string{network, addr})
}
