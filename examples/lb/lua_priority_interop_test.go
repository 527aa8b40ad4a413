package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropLuaPriorityMatchesHAProxy: txn:set_priority_class and
// txn:set_priority_offset set the request's place in the queues (which
// prio_class and prio_offset read back), bounded as haproxy bounds
// them; haproxy 2.6's txn has no set_nice.
func TestInteropLuaPriorityMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	script := luaFile(t, "prio.lua", `
core.register_action("prio", {"http-req", "tcp-req"}, function(txn, class, offset)
  txn:set_var("txn.nice", tostring(txn.set_nice))
  txn:set_priority_class(tonumber(class))
  txn:set_priority_offset(tonumber(offset))
end, 2)
`)
	srv, _ := recordingServer(t, "ok\n")
	cfg := func(port, tport int) string {
		return fmt.Sprintf(`global
    lua-load %s
    log stdout format raw local0
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    http-request lua.prio 5 -300 if { path /small }
    http-request lua.prio 5000 -900000 if { path /big }
    http-request return status 200 content-type text/plain lf-string "%%[prio_class] %%[prio_offset] %%[var(txn.nice)]\n"
listen tcp
    mode tcp
    bind 127.0.0.1:%d
    log global
    log-format "T %%[prio_class] %%[prio_offset]"
    tcp-request inspect-delay 1s
    tcp-request content lua.prio -7 42 if { req.len gt 0 }
    server s1 %s
`, script, port, tport, srv)
	}
	run := func(start func(string) func() string) []string {
		ports := freePorts(t, 2)
		port := ports[0]
		logs := start(cfg(port, ports[1]))
		var out []string
		for _, p := range []string{"small", "big", "none"} {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/%s", port, p))
			require.NoError(t, err)
			out = append(out, answerOf(t, resp).Body)
		}
		out = append(out, sendAll(t, fmt.Sprintf("127.0.0.1:%d", ports[1]), "hello\n"))
		return append(out, sortedLines(t, logs, 1, withPrefix("T "))...)
	}
	ha, lb := luaStarts(t)
	want := run(ha)
	got := run(lb)
	assert.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "5 -300 nil\n", got[0])
	require.Equal(t, "T -7 42", got[len(got)-1])
}
