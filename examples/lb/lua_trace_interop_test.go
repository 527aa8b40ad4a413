package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropLuaTracebackMatchesHAProxy: the line logged for a runtime
// error in an action, a fetch, a converter and a service names the
// frames from the failing one to the callback as haproxy's does: the
// file and line, how each function was called (global, local, method,
// field, upvalue) or, for the callback, the line it starts at.
func TestInteropLuaTracebackMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "trace.lua", `
function helper(x)
  error("helper failed " .. x)
end
local obj = {}
function obj:method() return self.missing.field end
local lib = {}
function lib.fn(s) return string.rep(s, "bad") end
local function deep(n)
  if n == 0 then return nil + 1 end
  return deep(n - 1) + 0
end
local function up()
  local function inner() return deep(1) end
  return inner()
end
core.register_action("global", {"http-req"}, function(txn) helper("now") end)
core.register_action("method", {"http-req"}, function(txn)
  obj:method()
end)
core.register_action("field", {"http-req"}, function(txn) lib.fn("x") end)
core.register_action("local", {"http-req"}, function(txn)
  local v = up()
  return v
end)
core.register_action("cfn", {"http-req"}, function(txn) txn.http:req_set_header() end)
core.register_fetches("badfetch", function(txn) return helper("in fetch") end)
core.register_converters("badconv", function(s) return s .. nil end)
core.register_service("badsvc", "http", function(applet)
  applet:set_status(200)
  obj:method()
end)
`)
	paths := []string{"global", "method", "field", "local", "cfn", "fetch", "conv", "svc"}
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    lua-load %s
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    http-request lua.global if { path /global }
    http-request lua.method if { path /method }
    http-request lua.field if { path /field }
    http-request lua.local if { path /local }
    http-request lua.cfn if { path /cfn }
    http-request set-var(txn.f) lua.badfetch if { path /fetch }
    http-request set-var(txn.c) str(x),lua.badconv if { path /conv }
    http-request use-service lua.badsvc if { path /svc }
    http-request return status 200 content-type text/plain string "ok\n"
`, script, port)
	}
	run := func(start func(string) func() string) []string {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		for _, p := range paths {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/%s", port, p))
			require.NoError(t, err)
			_ = resp.Body.Close()
		}
		var lines []string
		require.Eventually(t, func() bool {
			seen := map[string]bool{}
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				i := strings.Index(l, "Lua ")
				if i < 0 || !strings.Contains(l, "runtime error") || seen[l[i:]] {
					continue
				}
				seen[l[i:]] = true
				lines = append(lines, l[i:])
			}
			return len(lines) == len(paths)
		}, 5e9, 1e7, "the failure lines in:\n%s", out())
		sort.Strings(lines)
		return lines
	}
	ha, lb := luaStarts(t)
	want := run(ha)
	got := run(lb)
	require.Len(t, got, len(want))
	for i := range want {
		// Lua 5.3 names the variable an index failed on, which lb does
		// not know, and haproxy's header methods count their
		// arguments in words of their own: for those, the frames only.
		if strings.Contains(want[i], "attempt to index") || strings.Contains(want[i], "'cfn'") {
			_, w, _ := strings.Cut(want[i], " from ")
			_, g, _ := strings.Cut(got[i], " from ")
			assert.Equal(t, w, g, "haproxy's frames, then lb's")
			continue
		}
		assert.Equal(t, want[i], got[i], "haproxy's line, then lb's")
	}
	require.Contains(t, strings.Join(got, "\n"), ":3: helper failed now from [C]: in global 'error', ")
}
