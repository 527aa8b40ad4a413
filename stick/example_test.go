package stick_test

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"github.com/proxyblocks/proxyblocks/freq"
	"github.com/proxyblocks/proxyblocks/stick"
)

// Rate-limit clients by source address, as
// "stick-table type ip size 1m expire 30s store conn_cur,conn_rate(10s)"
// with "tcp-request connection track-sc0 src" would.
func Example() {
	cfg, err := stick.ParseConfig(strings.Fields("type ip size 1m expire 30s store conn_cur,conn_rate(10s)"))
	if err != nil {
		panic(err)
	}
	cfg.Name = "clients"
	cfg.Clock = freq.NewFakeClock(0) // a driven clock keeps the output stable
	t, err := stick.New(cfg)
	if err != nil {
		panic(err)
	}
	defer t.Close()

	src := netip.MustParseAddr("192.0.2.7").As4()
	for i := range 4 {
		e, err := t.GetOrCreate(src[:])
		if err != nil {
			panic(err)
		}
		e.StartConn()
		if rate := e.Get(stick.DataConnRate); rate > 3 {
			fmt.Printf("connection %d refused: %d connections in 10s\n", i+1, rate)
		}
		e.EndConn()
		e.Release()
	}

	var out strings.Builder
	if err := t.Dump(&out, nil); err != nil {
		panic(err)
	}
	fmt.Print(regexp.MustCompile(`0x[0-9a-f]+`).ReplaceAllString(out.String(), "0x..."))
	// Output:
	// connection 4 refused: 4 connections in 10s
	// # table: clients, type: ip, size:1048576, used:1
	// 0x...: key=192.0.2.7 use=0 exp=30000 conn_rate(10000)=4 conn_cur=0
}

// Read a stick-table line and answer "show table" with a filter.
func ExampleTable_Dump() {
	t, err := stick.New(stick.Config{
		Name: "api", Type: stick.KeyString, KeyLen: 16, Size: 100,
		Store: []stick.DataSpec{{Type: stick.DataHTTPReqCnt}, {Type: stick.DataHTTPErrCnt}},
	})
	if err != nil {
		panic(err)
	}
	defer t.Close()
	_ = t.SetData([]byte("alice"), []stick.DataValue{{Type: stick.DataHTTPReqCnt, Value: 12}, {Type: stick.DataHTTPErrCnt, Value: 5}})
	_ = t.SetData([]byte("bob"), []stick.DataValue{{Type: stick.DataHTTPReqCnt, Value: 3}})

	f, err := t.ParseFilter(strings.Fields("data.http_err_cnt gt 1"))
	if err != nil {
		fmt.Println(err)
		return
	}
	var out strings.Builder
	_ = t.Dump(&out, &f)
	fmt.Fprint(os.Stdout, regexp.MustCompile(`0x[0-9a-f]+`).ReplaceAllString(out.String(), "0x..."))

	_, err = t.ParseFilter(strings.Fields("data.gpc0 gt 1"))
	fmt.Println(err)
	// Output:
	// # table: api, type: string, size:100, used:2
	// 0x...: key=alice use=0 exp=0 http_req_cnt=12 http_err_cnt=5
	// Filter entry #1: Data type not stored in this table
}

// Count per-client events on the elements of a gpc array, as
// "store gpc(3),gpc_rate(3,10s)" with "http-request sc-inc-gpc(IDX,0)"
// rules would, and show the entry as HAProxy's "show table" does.
func ExampleEntry_IncElem() {
	cfg, err := stick.ParseConfig(strings.Fields("type ip size 100 store gpc(3),gpc_rate(3,10s)"))
	if err != nil {
		panic(err)
	}
	cfg.Name = "events"
	cfg.Clock = freq.NewFakeClock(1000)
	t, err := stick.New(cfg)
	if err != nil {
		panic(err)
	}
	defer t.Close()

	src := netip.MustParseAddr("192.0.2.7").As4()
	e, err := t.GetOrCreate(src[:])
	if err != nil {
		panic(err)
	}
	for _, idx := range []int{2, 0, 2} { // e.g. 2 for logins, 0 for searches
		e.IncElem(stick.DataGPC, idx, 1)
		e.IncElem(stick.DataGPCRate, idx, 1)
	}
	fmt.Println("logins:", e.GetElem(stick.DataGPC, 2), "per 10s:", e.GetElem(stick.DataGPCRate, 2))
	e.TouchRelease()

	var out strings.Builder
	if err := t.Dump(&out, nil); err != nil {
		panic(err)
	}
	fmt.Print(regexp.MustCompile(`0x[0-9a-f]+`).ReplaceAllString(out.String(), "0x..."))
	// Output:
	// logins: 2 per 10s: 2
	// # table: events, type: ip, size:100, used:1
	// 0x...: key=192.0.2.7 use=0 exp=0 gpc0=1 gpc1=0 gpc2=2 gpc0_rate(10000)=1 gpc1_rate(10000)=0 gpc2_rate(10000)=2
}
