package peers_test

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/stick"
	"github.com/proxyblocks/proxyblocks/stick/peers"
)

// Two members of a peers section, in one process for the example: what
// one counts for a client address, the other reads.
func Example() {
	table := func() *stick.Table {
		cfg, err := stick.ParseConfig(strings.Fields("type ip size 100k expire 10m store gpc0,http_req_rate(10s)"))
		if err != nil {
			panic(err)
		}
		cfg.Name, cfg.Sync = "clients", true
		t, err := stick.New(cfg)
		if err != nil {
			panic(err)
		}
		return t
	}
	lnA, _ := net.Listen("tcp", "127.0.0.1:0")
	lnB, _ := net.Listen("tcp", "127.0.0.1:0")
	tA, tB := table(), table()
	defer tA.Close()
	defer tB.Close()

	a, err := peers.New(peers.Config{Local: "a", Peers: []peers.Peer{{Name: "b", Addr: lnB.Addr().String()}}, Tables: []*stick.Table{tA}})
	if err != nil {
		panic(err)
	}
	b, err := peers.New(peers.Config{Local: "b", Peers: []peers.Peer{{Name: "a", Addr: lnA.Addr().String()}}, Tables: []*stick.Table{tB}})
	if err != nil {
		panic(err)
	}
	a.Start(lnA)
	b.Start(lnB)
	defer a.Close()
	defer b.Close()

	client := netip.MustParseAddr("192.0.2.7").As4()
	e, _ := tA.GetOrCreate(client[:])
	e.Inc(stick.DataGPC0, 1)
	e.TouchRelease()

	for range 200 {
		if e, _ := tB.Lookup(client[:]); e != nil {
			fmt.Println("b reads gpc0 =", e.Get(stick.DataGPC0))
			e.Release()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("not synced")
	// Output: b reads gpc0 = 1
}
