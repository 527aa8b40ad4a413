package lua

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// TestCLICommands: the longest registered path matching a line's first
// words runs, getline reads the command's payload line by line ("" at
// its end), a function that fails is reported and keeps what it sent,
// and lines no path starts run nothing.
func TestCLICommands(t *testing.T) {
	rt, _ := loaded(t, `
core.register_cli({"echo"}, "echo lines", function(applet, ...)
  applet:send(table.concat({...}, "|") .. "\n")
  while true do
    local l = applet:getline()
    if l == "" then break end
    applet:send("> " .. l)
  end
end)
core.register_cli({"echo", "upper"}, "echo upper", function(applet)
  applet:send(string.upper(applet:receive()))
end)
core.register_cli({"bad"}, "fails", function(applet)
  applet:send("partial\n")
  error("bad command")
end)
`)
	var failures []string
	rt.SetLogger(func(_ acl.Context, _ int, msg string, failure bool) {
		if failure {
			failures = append(failures, msg)
		}
	})
	run := func(payload string, words ...string) (string, bool) {
		var out bytes.Buffer
		ok := rt.RunCLI(words, payload, &out)
		return out.String(), ok
	}
	out, ok := run("one\ntwo\n", "echo", "a", "b")
	require.True(t, ok)
	assert.Equal(t, "echo|a|b\n> one\n> two\n", out)
	out, _ = run("mixed Case\n", "echo", "upper")
	assert.Equal(t, "MIXED CASE\n", out)
	out, _ = run("", "bad")
	assert.Equal(t, "partial\n", out)
	require.Len(t, failures, 1)
	assert.Contains(t, failures[0], "Lua cli '<lua.cli.bad>': [state-id 0] runtime error: ")
	assert.Contains(t, failures[0], "bad command")
	_, ok = run("", "show", "info")
	assert.False(t, ok)
	assert.Equal(t, []string{"echo lines", "echo upper", "fails"}, rt.CLIUsages())
	var none *Runtime
	assert.False(t, none.RunCLI([]string{"echo"}, "", &bytes.Buffer{}))
}
