package lua_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/lua"
)

// conn is the smallest stream context: the client's addresses.
type conn struct{}

func (conn) Src() netip.AddrPort { return netip.MustParseAddrPort("192.0.2.1:5000") }
func (conn) Dst() netip.AddrPort { return netip.MustParseAddrPort("127.0.0.1:80") }

// A script registers a sample fetch; expressions compiled with the same
// pattern references then call it as "lua.NAME".
func Example() {
	dir, _ := os.MkdirTemp("", "lua")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "greet.lua")
	_ = os.WriteFile(file, []byte(`
core.register_fetches("greet", function(txn, who)
  return "hello " .. who .. " from " .. txn.sf:src()
end)
`), 0o600)

	refs := acl.NewRefs()
	rt := lua.New(refs)
	refs.SetScripts(rt)
	if err := rt.Load(file, false); err != nil {
		fmt.Println(err)
		return
	}
	rt.Start(nil)
	defer rt.Close()

	_, fetch, err := refs.CompileFetch("lua.greet(world),upper")
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := fetch(conn{})
	fmt.Println(s)
	// Output: HELLO WORLD FROM 192.0.2.1
}
