package main

import (
	"bufio"
	stdtls "crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// TestInteropLuaSocketTLSMatchesHAProxy: Socket:connect_ssl talks TLS
// to a server whose certificate no configured CA signed, as haproxy's
// does, which verifies nothing; the server sees the same name asked
// (none) from both.
func TestInteropLuaSocketTLSMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	pem := newPKI(t, "luasock").issue("srv.pem", "localhost", []string{"localhost"}, false, false)
	cert, err := stdtls.LoadX509KeyPair(pem, pem)
	require.NoError(t, err)
	ln, err := stdtls.Listen("tcp", "127.0.0.1:0", &stdtls.Config{Certificates: []stdtls.Certificate{cert}})
	require.NoError(t, err)
	t.Cleanup(testnet.Accept(ln, func(c net.Conn) {
		defer c.Close()
		tc := c.(*stdtls.Conn)
		if tc.Handshake() != nil {
			return
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		_, _ = io.WriteString(c, fmt.Sprintf("pong %ssni=[%s]\n", line, tc.ConnectionState().ServerName))
	}))
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	script := luaFile(t, "tlssock.lua", fmt.Sprintf(`
core.register_service("ask", "http", function(applet)
  local s = core.tcp()
  s:settimeout(5)
  local ok, err = s:connect_ssl(%q, %s)
  local out = "connect=" .. tostring(ok) .. " " .. tostring(err)
  out = out .. " sent=" .. tostring(s:send("ping\n"))
  out = out .. " line=" .. tostring(s:receive("*l"))
  out = out .. " more=" .. tostring(s:receive("*l"))
  s:close()
  applet:start_response()
  applet:send(out)
end)
`, host, port))
	want, got := luaServiceAnswers(t, script, "ask")
	assert.Equal(t, want, got, "haproxy's answer, then lb's")
	require.Contains(t, got.Body, "line=pong ping", "haproxy answered %q", want.Body)
}
