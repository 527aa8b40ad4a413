package acl

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/proxyblocks/proxyblocks/stick"
)

// The layer-4 fetches, usable from "tcp-request connection" on.
func init() {
	addr := func(name string, get func(Context) netip.AddrPort) {
		RegisterFetch(Fetch{Name: name, Type: TypeIP, Compile: noArg(func(c Context) (Sample, bool) {
			a := get(c).Addr()
			return IP(a.Unmap()), a.IsValid()
		})})
	}
	port := func(name string, get func(Context) netip.AddrPort) {
		RegisterFetch(Fetch{Name: name, Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
			ap := get(c)
			return Int(int64(ap.Port())), ap.IsValid()
		})})
	}
	addr("src", Context.Src)
	addr("dst", Context.Dst)
	port("src_port", Context.Src)
	port("dst_port", Context.Dst)
	RegisterFetch(Fetch{Name: "always_true", Type: TypeBool, Compile: noArg(func(Context) (Sample, bool) { return Bool(true), true })})
	RegisterFetch(Fetch{Name: "always_false", Type: TypeBool, Compile: noArg(func(Context) (Sample, bool) { return Bool(false), true })})
	registerStickFetches()
}

func noArg(fn FetchFunc) func(string) (FetchFunc, error) {
	return func(string) (FetchFunc, error) { return fn, nil }
}

// Tracker is the Context of a connection that may track stick counters
// (tcp-request connection track-sc0/1/2), which the sc* and src_* fetches
// need.
type Tracker interface {
	// Tracked returns the entry tracked in slot 0, 1 or 2, nil if none.
	Tracked(slot int) *stick.Entry
	// Table returns the stick table declared in the proxy named name; ""
	// means the table of the proxy running the rule. nil when there is
	// none.
	Table(name string) *stick.Table
}

// Slots is the number of stick counters a connection may track
// (sc0, sc1, sc2), HAProxy's default tune.stick-counters.
const Slots = 3

// AddrKey returns the key of address a in table t: 4 bytes for ip tables
// (IPv4 or IPv4-mapped only), 16 for ipv6, the text for string tables. It
// reports false when a cannot be a key of t.
func AddrKey(t *stick.Table, a netip.Addr) ([]byte, bool) {
	switch t.KeyType() {
	case stick.KeyIPv4:
		a = a.Unmap()
		if !a.Is4() {
			return nil, false
		}
		b := a.As4()
		return b[:], true
	case stick.KeyIPv6:
		b := a.As16()
		return b[:], true
	case stick.KeyString:
		return []byte(a.Unmap().String()), true
	}
	return nil, false
}

// stickOp is what a counter fetch does to the entry.
type stickOp uint8

const (
	opGet stickOp = iota // read the value
	opKB                 // read a byte count in KiB
	opInc                // add 1 to a counter and its rate, return the counter
	opClr                // zero a counter, return its old value
)

// stickFetches are the suffixes of sc0_*, sc1_*, sc2_* and src_*, with
// HAProxy's names.
var stickFetches = []struct {
	suffix string
	dt     stick.DataType
	rate   stick.DataType // for inc: the rate that goes up with the counter
	op     stickOp
}{
	{"conn_cur", stick.DataConnCur, 0, opGet},
	{"conn_cnt", stick.DataConnCnt, 0, opGet},
	{"conn_rate", stick.DataConnRate, 0, opGet},
	{"sess_cnt", stick.DataSessCnt, 0, opGet},
	{"sess_rate", stick.DataSessRate, 0, opGet},
	{"http_req_cnt", stick.DataHTTPReqCnt, 0, opGet},
	{"http_req_rate", stick.DataHTTPReqRate, 0, opGet},
	{"http_err_cnt", stick.DataHTTPErrCnt, 0, opGet},
	{"http_err_rate", stick.DataHTTPErrRate, 0, opGet},
	{"http_fail_cnt", stick.DataHTTPFailCnt, 0, opGet},
	{"http_fail_rate", stick.DataHTTPFailRate, 0, opGet},
	{"bytes_in_rate", stick.DataBytesInRate, 0, opGet},
	{"bytes_out_rate", stick.DataBytesOutRate, 0, opGet},
	{"kbytes_in", stick.DataBytesInCnt, 0, opKB},
	{"kbytes_out", stick.DataBytesOutCnt, 0, opKB},
	{"get_gpc0", stick.DataGPC0, 0, opGet},
	{"get_gpc1", stick.DataGPC1, 0, opGet},
	{"get_gpt0", stick.DataGPT0, 0, opGet},
	{"gpc0_rate", stick.DataGPC0Rate, 0, opGet},
	{"gpc1_rate", stick.DataGPC1Rate, 0, opGet},
	{"inc_gpc0", stick.DataGPC0, stick.DataGPC0Rate, opInc},
	{"inc_gpc1", stick.DataGPC1, stick.DataGPC1Rate, opInc},
	{"clr_gpc0", stick.DataGPC0, 0, opClr},
	{"clr_gpc1", stick.DataGPC1, 0, opClr},
}

func registerStickFetches() {
	for _, sf := range stickFetches {
		apply := stickApply(sf.dt, sf.rate, sf.op)
		for slot := range Slots {
			RegisterFetch(Fetch{
				Name: "sc" + strconv.Itoa(slot) + "_" + sf.suffix, Type: TypeInt, Arg: ArgOptional,
				Compile: func(arg string) (FetchFunc, error) {
					if arg != "" {
						return nil, fmt.Errorf("%w: a table argument on sc%d_* fetches", errUnsupported, slot)
					}
					return func(c Context) (Sample, bool) {
						tr, ok := c.(Tracker)
						if !ok {
							return Sample{}, false
						}
						e := tr.Tracked(slot)
						if e == nil {
							return Sample{}, false
						}
						return apply(e)
					}, nil
				},
			})
		}
		writes := sf.op == opInc || sf.op == opClr
		RegisterFetch(Fetch{
			Name: "src_" + sf.suffix, Type: TypeInt, Arg: ArgOptional,
			Compile: func(table string) (FetchFunc, error) {
				return func(c Context) (Sample, bool) {
					tr, ok := c.(Tracker)
					if !ok {
						return Sample{}, false
					}
					t := tr.Table(table)
					if t == nil {
						return Sample{}, false
					}
					if !t.Stores(sf.dt) {
						return Sample{}, false
					}
					key, ok := AddrKey(t, c.Src().Addr())
					if !ok {
						return Sample{}, false
					}
					var e *stick.Entry
					var err error
					if writes {
						e, err = t.GetOrCreate(key)
					} else {
						e, err = t.Lookup(key)
					}
					if err != nil {
						// An absent key reads as zero, as in HAProxy.
						return Int(0), !writes
					}
					if writes {
						defer e.TouchRelease()
					} else {
						defer e.Release()
					}
					return apply(e)
				}, nil
			},
		})
	}
	for slot := range Slots {
		RegisterFetch(Fetch{Name: "sc" + strconv.Itoa(slot) + "_tracked", Type: TypeBool, Compile: noArg(func(c Context) (Sample, bool) {
			tr, ok := c.(Tracker)
			return Bool(ok && tr.Tracked(slot) != nil), true
		})})
		RegisterFetch(Fetch{Name: "sc" + strconv.Itoa(slot) + "_trackers", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
			tr, ok := c.(Tracker)
			if !ok || tr.Tracked(slot) == nil {
				return Sample{}, false
			}
			return Int(int64(tr.Tracked(slot).Refs())), true
		})})
	}
}

// stickApply returns what a counter fetch does to an entry. A table that
// does not store the type gives no sample, as in HAProxy.
func stickApply(dt, rate stick.DataType, op stickOp) func(e *stick.Entry) (Sample, bool) {
	return func(e *stick.Entry) (Sample, bool) {
		t := e.Table()
		switch op {
		case opGet:
			if !t.Stores(dt) {
				return Sample{}, false
			}
			return Int(e.Get(dt)), true
		case opKB:
			if !t.Stores(dt) {
				return Sample{}, false
			}
			return Int(e.Get(dt) >> 10), true
		case opInc:
			if !t.Stores(dt) && !t.Stores(rate) {
				return Sample{}, false
			}
			e.Inc(rate, 1)
			v := e.Inc(dt, 1)
			return Int(v), true
		case opClr:
			if !t.Stores(dt) {
				return Sample{}, false
			}
			old := e.Get(dt)
			_ = e.Set(dt, 0)
			return Int(old), true
		}
		return Sample{}, false
	}
}
