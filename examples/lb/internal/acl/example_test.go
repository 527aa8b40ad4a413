package acl_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

type conn struct{ src, dst netip.AddrPort }

func (c conn) Src() netip.AddrPort { return c.src }
func (c conn) Dst() netip.AddrPort { return c.dst }

func Example() {
	var set acl.Set
	_ = set.Add(strings.Fields("lan src 10.0.0.0/8 192.168.0.0/16"))
	_ = set.Add(strings.Fields("admin_port dst_port 22"))
	cond, err := acl.ParseCond(strings.Fields("if lan admin_port or { src 127.0.0.1 }"), &set)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range []conn{
		{netip.MustParseAddrPort("10.1.1.1:5000"), netip.MustParseAddrPort("10.0.0.1:22")},
		{netip.MustParseAddrPort("10.1.1.1:5000"), netip.MustParseAddrPort("10.0.0.1:80")},
		{netip.MustParseAddrPort("127.0.0.1:5000"), netip.MustParseAddrPort("10.0.0.1:80")},
		{netip.MustParseAddrPort("8.8.8.8:5000"), netip.MustParseAddrPort("10.0.0.1:22")},
	} {
		fmt.Println(c.src.Addr(), c.dst.Port(), cond.Eval(c))
	}
	// Output:
	// 10.1.1.1 22 true
	// 10.1.1.1 80 false
	// 127.0.0.1 80 true
	// 8.8.8.8 22 false
}
