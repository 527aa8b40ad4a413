package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rdpPacket is a Remote Desktop client's first packet: an 11-byte TPKT
// and X.224 header, then line (a cookie line, or not), then the rest of
// the request.
func rdpPacket(line string) []byte {
	b := []byte{0x03, 0x00, 0x00, 0x2b, 0x26, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00}
	b = append(b, line...)
	return append(b, 0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00)
}

// rdpToken is the routing token naming addr, as a session broker writes
// it: the IPv4 address's bytes as a little-endian number, the port with
// its bytes swapped.
func rdpToken(t *testing.T, addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	require.NoError(t, err)
	a := ap.Addr().As4()
	p := ap.Port()
	return fmt.Sprintf("%d.%d.0000", uint32(a[0])|uint32(a[1])<<8|uint32(a[2])<<16|uint32(a[3])<<24, p>>8|p<<8)
}

// rdpCfg: rdp balances on the mstshash cookie, map-based, and persists
// on msts; rdpcons hashes on the consistent ring. Both wait for a cookie.
func rdpCfg(p []int, srv []string) string {
	return fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
listen rdp
    bind 127.0.0.1:%d
    tcp-request inspect-delay 5s
    tcp-request content accept if RDP_COOKIE
    balance rdp-cookie
    persist rdp-cookie
    server s1 %s
    server s2 %s weight 2
    server s3 %s
listen rdpcons
    bind 127.0.0.1:%d
    tcp-request inspect-delay 5s
    tcp-request content accept if RDP_COOKIE
    balance rdp-cookie(user)
    hash-type consistent
    server s1 %s
    server s2 %s weight 2
    server s3 %s
`, p[0], srv[0], srv[1], srv[2], p[1], srv[0], srv[1], srv[2])
}

// TestInteropRDPCookieMatchesHAProxy sends Remote Desktop connection
// requests through haproxy and lb on the same configuration: the users'
// cookies hash to the same servers (map-based and consistent), requests
// without one go round robin alike, and a routing token sends its client
// to the server it names.
func TestInteropRDPCookieMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var srv []string
	for _, name := range []string{"s1", "s2", "s3"} {
		srv = append(srv, checkPeer(t, func(c *net.TCPConn) {
			_, _ = io.WriteString(c, name+"\n")
			_, _ = io.Copy(io.Discard, c)
		}))
	}
	run := func(p []int) []string {
		var got []string
		ask := func(port int, line string) string {
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", port))
			defer c.Close()
			_, err := c.Write(rdpPacket(line))
			require.NoError(t, err)
			name, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err, "%q", line)
			return strings.TrimSpace(name)
		}
		for i := 0; i < 24; i++ {
			line := fmt.Sprintf("Cookie: mstshash=user%d\r\n", i*37)
			switch i % 6 {
			case 1:
				line = "Hello: mstshash=nobody\r\n" // no cookie at all
			case 4:
				line = "Cookie: msts=" + rdpToken(t, srv[2]) + "\r\n" // a routing token
			}
			got = append(got, "rdp:"+ask(p[0], line))
			got = append(got, "cons:"+ask(p[1], strings.Replace(line, "mstshash=", "user=", 1)))
		}
		return got
	}
	ports := freePorts(t, 4)
	hp, lp := ports[:2], ports[2:]
	startHAProxy(t, rdpCfg(hp, srv), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", hp[1])) })
	want := run(hp)
	startInProcess(t, rdpCfg(lp, srv))
	got := run(lp)
	require.Equal(t, want, got, "haproxy's servers, then lb's")
	seen := map[string]bool{}
	for i, s := range got {
		seen[s] = true
		if i/2%6 == 4 && i%2 == 0 {
			require.Equal(t, "rdp:s3", s, "the routing token names s3")
		}
	}
	require.Len(t, seen, 6, "every server of both sections took connections")
}
