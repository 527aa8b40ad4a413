package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func luaScript(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.lua")
	require.NoError(t, os.WriteFile(p, []byte(src), 0o600))
	return p
}

func TestLuaKeywords(t *testing.T) {
	file := luaScript(t, `
core.register_service("web", "http", function(applet) end)
core.register_action("two", {"http-req", "tcp-req"}, function(txn, a, b) end, 2)
core.register_fetches("pick", function(txn) return "be" end)
`)
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`global
    tune.lua.session-timeout 250
    tune.lua.service-timeout 2s
    tune.lua.task-timeout 1m
    tune.lua.forced-yield 1000
    tune.lua.maxmem 32
    lua-load ` + file + ` ignored words
frontend f
    mode http
    bind 127.0.0.1:8080
    http-request lua.two x y if { path /a }
    http-request use-service lua.web if { path /web }
    use_backend %[lua.pick]
backend be
    mode http
    server s 127.0.0.1:9
`)})
	require.NoError(t, err)
	rt := cfg.Global.Lua
	require.NotNil(t, rt)
	assert.Equal(t, 250*time.Millisecond, rt.SessionTimeout)
	assert.Equal(t, 2*time.Second, rt.ServiceTimeout)
	assert.Equal(t, time.Minute, rt.TaskTimeout)
	var f *Proxy
	for _, px := range cfg.Proxies {
		if px.Name == "f" {
			f = px
		}
	}
	require.NotNil(t, f)
	rules := f.HTTP.RequestRules
	require.Len(t, rules, 2)
	assert.Equal(t, "lua", rules[0].Action)
	assert.Equal(t, "two", rules[0].Name)
	assert.Equal(t, []string{"x", "y"}, rules[0].Args)
	assert.NotNil(t, rules[0].Cond)
	assert.Equal(t, "use-service", rules[1].Action)
	assert.Equal(t, "lua.web", rules[1].Name)
}

func TestLuaKeywordErrors(t *testing.T) {
	good := luaScript(t, `
core.register_service("web", "http", function(applet) end)
core.register_action("two", {"http-req"}, function(txn, a, b) end, 2)
`)
	bad := luaScript(t, "local = 1\n")
	for _, tc := range []struct{ name, text, want string }{
		{"missing", "global\n    lua-load /nonexistent/x.lua\n", "t.cfg:2: bad value: 'lua-load' in 'global' section: error in Lua file '/nonexistent/x.lua': cannot open /nonexistent/x.lua: No such file or directory"},
		{"syntax", "global\n    lua-load " + bad + "\n", "t.cfg:2: bad value: 'lua-load' in 'global' section: error in Lua file '" + bad + "': "},
		{"no file", "global\n    lua-load\n", "'lua-load' in 'global' section: expects a file name as parameter"},
		{"timeout", "global\n    tune.lua.session-timeout x\n", "'tune.lua.session-timeout' in 'global' section"},
		{"maxmem", "global\n    tune.lua.maxmem -1\n", "'tune.lua.maxmem' expects one numeric value"},
		{"path kind", "global\n    lua-prepend-path /x other\n", "'other' unknown path type"},
		{"unknown action", "global\n    lua-load " + good + "\nfrontend f\n    mode http\n    http-request lua.nope\n", "t.cfg:5: 'http-request' in 'frontend' section: unknown keyword: unknown action 'lua.nope'"},
		{"arguments", "global\n    lua-load " + good + "\nfrontend f\n    mode http\n    http-request lua.two a\n", "t.cfg:5: bad value: 'http-request' in 'frontend' section: 'lua.two' expects 2 arguments"},
		{"stage", "global\n    lua-load " + good + "\nfrontend f\n    tcp-request content lua.two a b\n", "action 'lua.two' is not registered for 'tcp-req'"},
		{"service", "global\n    lua-load " + good + "\nfrontend f\n    mode http\n    http-request use-service lua.nope\n", "'lua.nope' unknown service name"},
		{"http service in tcp", "global\n    lua-load " + good + "\nfrontend f\n    tcp-request content use-service lua.web\n", "HTTP applets are forbidden from 'tcp-request' rulesets"},
		{"fetch", "global\n    lua-load " + good + "\nfrontend f\n    mode http\n    http-request set-var(txn.a) lua.nope\n", "unknown fetch method: 'lua.nope'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(Source{Name: "t.cfg", Data: []byte(tc.text)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
