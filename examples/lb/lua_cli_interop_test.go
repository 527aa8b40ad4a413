package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropLuaCLIMatchesHAProxy: commands a script adds to the
// runtime API with core.register_cli answer on the stats socket as
// haproxy's do: the function gets every word of the line, what it sends
// is the answer, an error ends it after what it sent, and help lists
// the usage.
func TestInteropLuaCLIMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "cli.lua", `
local calls = 0
core.register_cli({"lua", "hello"}, "say hello", function(applet, a, b, c, d, e)
  calls = calls + 1
  applet:send("hello " .. tostring(a) .. " " .. tostring(b) .. " " .. tostring(c) .. " " .. tostring(d) .. " " .. tostring(e) .. "\n")
  applet:send("type=" .. type(applet) .. "\n")
end)
core.register_cli({"lua", "calls"}, "count the calls", function(applet)
  applet:send(calls .. " calls\n")
end)
core.register_cli({"my", "fail"}, "fails", function(applet)
  applet:send("before\n")
  error("boom")
end)
core.register_cli({"quiet"}, "says nothing", function(applet) end)
`)
	cfg := func(sock string, port int) string {
		return fmt.Sprintf(`global
    lua-load %s
    stats socket %s level admin
    log stdout format raw local0
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
`, script, sock, port)
	}
	cmds := []string{"lua hello x y", "lua hello", "lua calls", "my fail", "quiet", "lua calls extra words"}
	run := func(ha bool) (answers []string, help string, logs string) {
		sock := filepath.Join(t.TempDir(), "cli.sock")
		text := cfg(sock, freePorts(t, 1)[0])
		var out func() string
		if ha {
			out = startHAProxySocket(t, text, sock)
		} else {
			_, buf, mu := startInProcess(t, text)
			out = func() string { mu.Lock(); defer mu.Unlock(); return buf.String() }
		}
		for _, c := range cmds {
			answers = append(answers, cliCommand(t, sock, c))
		}
		help = cliCommand(t, sock, "help")
		return answers, help, out()
	}
	want, wantHelp, wantLogs := run(true)
	got, gotHelp, gotLogs := run(false)
	assert.Equal(t, want, got, "haproxy's answers, then lb's")
	for _, u := range []string{"  say hello\n", "  count the calls\n", "  fails\n", "  says nothing\n"} {
		require.Contains(t, wantHelp, u)
		assert.Contains(t, gotHelp, u)
	}
	failure := func(logs string) string {
		for _, l := range strings.Split(logs, "\n") {
			if i := strings.Index(l, "Lua cli "); i >= 0 {
				return l[i:]
			}
		}
		return ""
	}
	require.NotEmpty(t, failure(wantLogs), "haproxy's log:\n%s", wantLogs)
	assert.Equal(t, luaErrorHead(failure(wantLogs)), luaErrorHead(failure(gotLogs)), "the failure's log line")
	require.Equal(t, "before\n\n", got[3])
}

// luaErrorHead is a Lua failure's log line up to its message, without
// the traceback haproxy adds.
func luaErrorHead(l string) string {
	if i := strings.Index(l, " from "); i >= 0 {
		return l[:i]
	}
	return strings.TrimSuffix(l, ".")
}
