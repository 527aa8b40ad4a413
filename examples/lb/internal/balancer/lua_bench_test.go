package balancer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkHTTPLuaAction is BenchmarkHTTPKeepAlive with an http-request
// Lua action on every request that reads a fetch, calls a converter, sets
// a variable and a header field.
func BenchmarkHTTPLuaAction(b *testing.B) {
	script := filepath.Join(b.TempDir(), "bench.lua")
	require.NoError(b, os.WriteFile(script, []byte(`
core.register_action("tag", {"http-req"}, function(txn)
  local p = txn.sf:path()
  txn:set_var("txn.p", txn.c:upper(p))
  txn.http:req_set_header("x-lua", "1")
end)
`), 0o600))
	benchKeepAlive(b, `
global
    lua-load `+script+`
listen l
    bind 127.0.0.1:0
    http-request lua.tag
    server s %s
`)
}
