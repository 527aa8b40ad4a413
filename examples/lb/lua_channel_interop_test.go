package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// recordingServer accepts TCP connections on a free port: it reads each
// until nothing more comes for a while, keeps what came (connections
// that sent nothing, as readiness probes, are not kept), answers reply
// and closes. got returns what the kept connections sent, in order.
func recordingServer(t *testing.T, reply string) (addr string, got func() []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu   sync.Mutex
		seen []string
	)
	t.Cleanup(testnet.Accept(ln, func(c net.Conn) {
		defer c.Close()
		var b []byte
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			n, err := c.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				break
			}
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		}
		if len(b) == 0 {
			return
		}
		mu.Lock()
		seen = append(seen, string(b))
		mu.Unlock()
		_, _ = io.WriteString(c, reply)
	}))
	return ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// sendAll sends msg to addr on a new connection and returns all that
// came back until the proxy closed.
func sendAll(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, msg)
	require.NoError(t, err)
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestInteropLuaChannelRewriteMatchesHAProxy: tcp-request and
// tcp-response Lua actions that take, send, forward, insert, replace and
// remove bytes of the data: the server and the client receive the same
// bytes from lb as from haproxy, the methods return the same values and
// the log lines count the same bytes.
func TestInteropLuaChannelRewriteMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "rewrite.lua", `
local function run(c, steps)
  local r = {}
  for _, s in ipairs(steps) do
    local ok, v = pcall(s[2])
    r[#r+1] = s[1] .. "=" .. tostring(ok) .. ":" .. tostring(v) .. "{" .. tostring(c:dup()) .. "/" .. c:output() .. "}"
  end
  return table.concat(r, " ")
end
core.register_action("req", {"tcp-req"}, function(txn)
  local c = txn.req
  txn:set_var("sess.req", run(c, {
    {"getline", function() return c:getline() end},
    {"send", function() return c:send("FIRST\n") end},
    {"prepend", function() return c:prepend("via lua\n") end},
    {"set", function() return c:set("2nd", 8, 6) end},
    {"remove", function() return c:remove(-6, 3) end},
    {"insert", function() return c:insert("!", -1) end},
    {"insert0", function() return c:insert("<") end},
    {"setfar", function() return c:set("x", 1000) end},
    {"setlong", function() return c:set("x", 1, 1000) end},
    {"removefar", function() return c:remove(1000) end},
    {"forward", function() return c:forward(5) end},
    {"append", function() return c:append("tail\n") end},
    {"data", function() return c:data(2, 4) end},
    {"line", function() return c:line() end},
  }))
end)
core.register_action("res", {"tcp-res"}, function(txn)
  local c = txn.res
  txn:set_var("sess.res", run(c, {
    {"getline", function() return c:getline() end},
    {"send", function() return c:send("STATUS: OK\n") end},
    {"set", function() return c:set("BODY", 0, 4) end},
    {"insert", function() return c:insert("[", -1) end},
    {"removeneg", function() return c:remove(-100, 1) end},
    {"setall", function() return c:set("new ", -2) end},
    {"prepend", function() return c:prepend("> ") end},
  }))
end)
core.register_action("drain", {"tcp-req"}, function(txn)
  local c = txn.req
  txn:set_var("sess.req", run(c, {
    {"get", function() return c:get() end},
    {"input", function() return c:input() end},
    {"send", function() return c:send("replaced\n") end},
    {"prepend", function() return c:prepend("kept\n") end},
  }))
end)
`)
	srvAddr, srvGot := recordingServer(t, "status: ok\nbody text\n")
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
    log stdout format raw local0
defaults
    mode tcp
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    log-format "C %%U %%B %%ts [%%[var(sess.req)]] [%%[var(sess.res)]]"
    tcp-request inspect-delay 2s
    tcp-request content lua.drain if { req.payload(0,5) -m str drain }
    tcp-request content accept if { var(sess.req) -m found }
    tcp-request content lua.req if { req.len ge 30 }
    default_backend be
backend be
    tcp-response inspect-delay 2s
    tcp-response content lua.res if { res.len ge 20 }
    server s1 %s
`, script, port, srvAddr)
	}
	msgs := []string{"hello world\nsecond line\nthird\nrest", "drain these bytes\n"}
	type result struct{ answers, server, lines []string }
	run := func(start func(string) func() string) result {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		before := len(srvGot())
		var r result
		for _, m := range msgs {
			r.answers = append(r.answers, sendAll(t, fmt.Sprintf("127.0.0.1:%d", port), m))
		}
		require.Eventually(t, func() bool { return len(srvGot()) == before+len(msgs) }, 5*time.Second, 10*time.Millisecond, "server got %q, client %q, log:\n%s", srvGot(), r.answers, out())
		r.server = srvGot()[before:]
		r.lines = sortedLines(t, out, len(msgs), withPrefix("C "))
		return r
	}
	ha, lb := luaStarts(t)
	want := run(ha)
	got := run(lb)
	assert.Equal(t, want.server, got.server, "what the server received from haproxy, then from lb")
	assert.Equal(t, want.answers, got.answers, "what the client received from haproxy, then from lb")
	assert.Equal(t, want.lines, got.lines, "the log lines")
	// The rewrite did rewrite: not the client's bytes.
	require.Len(t, got.server, 2)
	require.True(t, strings.HasPrefix(got.server[0], "FIRST\n"), "%q", got.server[0])
	require.Equal(t, "replaced\nkept\n", got.server[1])
	require.NotEqual(t, "status: ok\nbody text\n", got.answers[0])
}

// TestInteropLuaChannelInHTTPMatchesHAProxy: where the channel holds
// HTTP messages, the methods that read or change its data fail as
// haproxy's do, in tcp-request content and http-request actions alike.
func TestInteropLuaChannelInHTTPMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "httpchan.lua", `
local function try(txn, var)
  local c = txn.req
  local r = {}
  for _, m in ipairs({"dup", "data", "line", "get", "getline", "set", "append", "prepend", "insert", "remove", "send", "forward"}) do
    local ok, e
    if m == "forward" then ok, e = pcall(c[m], c, 1)
    elseif m == "dup" or m == "data" or m == "line" or m == "get" or m == "getline" or m == "remove" then ok, e = pcall(c[m], c)
    else ok, e = pcall(c[m], c, "x") end
    r[#r+1] = m .. "=" .. tostring(ok) .. ":" .. tostring(e)
  end
  r[#r+1] = "output=" .. c:output()
  txn:set_var(var, table.concat(r, ","))
end
core.register_action("tcp", {"tcp-req"}, function(txn) try(txn, "sess.tcp") end)
core.register_action("http", {"http-req"}, function(txn) try(txn, "txn.http") end)
`)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    tcp-request content lua.tcp
    http-request lua.http
    http-request return status 200 content-type text/plain lf-string "%%[var(sess.tcp)]\n%%[var(txn.http)]\n"
`, script, port)
	}
	run := func(start func(string) func() string) httpAnswer {
		port := freePorts(t, 1)[0]
		start(cfg(port))
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		require.NoError(t, err)
		return answerOf(t, resp)
	}
	ha, lb := luaStarts(t)
	want := run(ha)
	got := run(lb)
	assert.Equal(t, want, got, "haproxy's answer, then lb's")
	require.Contains(t, got.Body, "append=false:Cannot manipulate HAProxy channels in HTTP mode.")
}

// TestInteropLuaChannelThenServiceMatchesHAProxy: a Lua TCP service
// that follows an action which changed the request reads the data as
// the action left it, then what the client sends next.
func TestInteropLuaChannelThenServiceMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "edsvc.lua", `
core.register_action("edit", {"tcp-req"}, function(txn)
  local c = txn.req
  c:getline()
  c:prepend("first: ")
  c:send("sent\n")
end)
core.register_service("echo", "tcp", function(applet)
  local n = 0
  while true do
    local l = applet:getline()
    if l == nil or l == "" then break end
    n = n + 1
    applet:send(n .. " " .. l)
    if n == 3 then break end
  end
end)
`)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    tcp-request inspect-delay 2s
    tcp-request content lua.edit if { req.len ge 12 }
    tcp-request content use-service lua.echo if { req.len gt 0 }
`, script, port)
	}
	run := func(start func(string) func() string) string {
		port := freePorts(t, 1)[0]
		start(cfg(port))
		return sendAll(t, fmt.Sprintf("127.0.0.1:%d", port), "dropped\nkept\nlater\n")
	}
	ha, lb := luaStarts(t)
	want := run(ha)
	got := run(lb)
	assert.Equal(t, want, got, "haproxy's answer, then lb's")
	require.Contains(t, got, "first: kept\n")
}

// TestInteropLuaChannelWaitMatchesHAProxy: in a tcp-request action,
// getline waits for the end of a line the client sends in pieces, within
// the inspect delay, and get takes what is there; the server gets what
// came after, as from haproxy.
func TestInteropLuaChannelWaitMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "wait.lua", `
core.register_action("w", {"tcp-req"}, function(txn)
  local l = txn.req:getline()
  local d = txn.req:get()
  txn:set_var("sess.got", string.format("[%s][%s]", l:gsub("\n", "|"), d))
end)
`)
	srvAddr, srvGot := recordingServer(t, "ok\n")
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    option dontlognull
    log-format "W %%[var(sess.got)]"
    tcp-request inspect-delay 2s
    tcp-request content lua.w if { req.len gt 0 }
    default_backend be
backend be
    server s1 %s
`, script, port, srvAddr)
	}
	run := func(start func(string) func() string) (string, []string, string) {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		before := len(srvGot())
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		require.NoError(t, err)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		for _, part := range []string{"abc", "def\nghi", "jkl\n"} {
			_, err := io.WriteString(c, part)
			require.NoError(t, err)
			time.Sleep(300 * time.Millisecond)
		}
		answer, _ := io.ReadAll(c)
		_ = c.Close()
		require.Eventually(t, func() bool { return len(srvGot()) > before }, 5*time.Second, 10*time.Millisecond)
		return string(answer), sortedLines(t, out, 1, withPrefix("W [")), srvGot()[before]
	}
	ha, lb := luaStarts(t)
	wantAnswer, wantLines, wantServer := run(ha)
	gotAnswer, gotLines, gotServer := run(lb)
	assert.Equal(t, wantServer, gotServer, "what the server got from haproxy, then from lb")
	assert.Equal(t, wantLines, gotLines, "the log lines")
	assert.Equal(t, wantAnswer, gotAnswer, "the client's answer")
	require.Equal(t, "W [abcdef|][ghi]", gotLines[0])
}
