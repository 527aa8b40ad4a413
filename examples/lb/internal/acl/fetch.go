package acl

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

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
			// Port 0 (one set-dst-port made from no number) gives
			// no sample, as in HAProxy.
			ap := get(c)
			return Int(int64(ap.Port())), ap.IsValid() && ap.Port() != 0
		})})
	}
	addr("src", Context.Src)
	addr("dst", Context.Dst)
	port("src_port", Context.Src)
	port("dst_port", Context.Dst)
	RegisterFetch(Fetch{Name: "always_true", Type: TypeBool, Compile: noArg(func(Context) (Sample, bool) { return Bool(true), true })})
	RegisterFetch(Fetch{Name: "always_false", Type: TypeBool, Compile: noArg(func(Context) (Sample, bool) { return Bool(false), true })})
	registerStickFetches()
	registerArrayFetches()
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
		proxyRefs["sc_"+sf.suffix] = RefTableOpt2
		for slot := range Slots {
			proxyRefs["sc"+strconv.Itoa(slot)+"_"+sf.suffix] = RefTableOpt
			RegisterFetch(Fetch{
				Name: "sc" + strconv.Itoa(slot) + "_" + sf.suffix, Type: TypeInt, Arg: ArgOptional,
				Compile: func(table string) (FetchFunc, error) {
					return scFetch(slot, table, apply), nil
				},
			})
		}
		RegisterFetch(Fetch{
			Name: "sc_" + sf.suffix, Type: TypeInt, Arg: ArgRequired,
			Compile: func(arg string) (FetchFunc, error) {
				slot, table, err := scArgs(arg)
				if err != nil {
					return nil, err
				}
				return scFetch(slot, table, apply), nil
			},
		})
		writes := sf.op == opInc || sf.op == opClr
		// Without a table, the rule's own proxy's, which must have one.
		proxyRefs["src_"+sf.suffix] = RefTable
		RegisterFetch(Fetch{
			Name: "src_" + sf.suffix, Type: TypeInt, Arg: ArgOptional,
			Compile: func(table string) (FetchFunc, error) {
				stored := func(t *stick.Table) bool { _, _, ok := t.Resolve(sf.dt); return ok }
				return srcFetch(table, writes, stored, apply), nil
			},
		})
	}
	tracked := func(slot int, table string) FetchFunc {
		return func(c Context) (Sample, bool) {
			e, release, found := scEntry(c, slot, table)
			if release {
				e.Release()
			}
			return Bool(found), true
		}
	}
	trackers := func(slot int, table string) FetchFunc {
		return func(c Context) (Sample, bool) {
			e, release, found := scEntry(c, slot, table)
			if !found {
				return Sample{}, false
			}
			if e == nil {
				return Int(0), true
			}
			n := e.Refs()
			if release {
				n-- // the reference taken to read it
				e.Release()
			}
			return Int(int64(n)), true
		}
	}
	for slot := range Slots {
		RegisterFetch(Fetch{Name: "sc" + strconv.Itoa(slot) + "_tracked", Type: TypeBool, Arg: ArgOptional, Compile: func(table string) (FetchFunc, error) {
			return tracked(slot, table), nil
		}})
		RegisterFetch(Fetch{Name: "sc" + strconv.Itoa(slot) + "_trackers", Type: TypeInt, Arg: ArgOptional, Compile: func(table string) (FetchFunc, error) {
			return trackers(slot, table), nil
		}})
	}
	RegisterFetch(Fetch{Name: "sc_tracked", Type: TypeBool, Arg: ArgRequired, Compile: func(arg string) (FetchFunc, error) {
		slot, table, err := scArgs(arg)
		if err != nil {
			return nil, err
		}
		return tracked(slot, table), nil
	}})
	RegisterFetch(Fetch{Name: "sc_trackers", Type: TypeInt, Arg: ArgRequired, Compile: func(arg string) (FetchFunc, error) {
		slot, table, err := scArgs(arg)
		if err != nil {
			return nil, err
		}
		return trackers(slot, table), nil
	}})
}

// srcFetch is a src_* counter fetch on table (the rule's own for ""):
// the entry of the client's address, created (and touched) when writes.
// A table for which stored is false gives no sample; an absent key reads
// as zero, as in HAProxy.
func srcFetch(table string, writes bool, stored func(*stick.Table) bool, apply func(*stick.Entry) (Sample, bool)) FetchFunc {
	return func(c Context) (Sample, bool) {
		tr, ok := c.(Tracker)
		if !ok {
			return Sample{}, false
		}
		t := tr.Table(table)
		if t == nil || !stored(t) {
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
			return Int(0), !writes
		}
		if writes {
			defer e.TouchRelease()
		} else {
			defer e.Release()
		}
		return apply(e)
	}
}

// ErrBadSlot means a stick counter number is not 0, 1 or 2.
var ErrBadSlot = errors.New("invalid stick counter")

// ParseSlot reads a stick counter number: 0, 1 or 2.
func ParseSlot(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= Slots {
		return 0, fmt.Errorf("%w '%s' (expects 0 to %d)", ErrBadSlot, s, Slots-1)
	}
	return n, nil
}

// scArgs reads the argument of the sc_* fetches: "SLOT[,TABLE]".
func scArgs(arg string) (slot int, table string, err error) {
	n, table, _ := strings.Cut(arg, ",")
	slot, err = ParseSlot(strings.TrimSpace(n))
	return slot, strings.TrimSpace(table), err
}

// scEntry finds the entry a stick counter fetch reads: the one tracked
// in slot or, when table names one, the entry of that table holding the
// same key, as HAProxy's sc*_*(table) look the tracked key up there.
// found is false when nothing is tracked in slot; e is then nil, and nil
// too when the other table lacks the key (the fetches read zero).
// release says the caller holds a reference to e and must give it back.
func scEntry(c Context, slot int, table string) (e *stick.Entry, release, found bool) {
	tr, ok := c.(Tracker)
	if !ok {
		return nil, false, false
	}
	e = tr.Tracked(slot)
	if e == nil {
		return nil, false, false
	}
	if table == "" {
		return e, false, true
	}
	t := tr.Table(table)
	if t == nil {
		return nil, false, false
	}
	if t == e.Table() {
		return e, false, true
	}
	o, err := t.Lookup(e.KeyBytes())
	if err != nil {
		return nil, false, true
	}
	return o, true, true
}

// scFetch is a counter fetch on stick counter slot (or the same key in
// table).
func scFetch(slot int, table string, apply func(*stick.Entry) (Sample, bool)) FetchFunc {
	return func(c Context) (Sample, bool) {
		e, release, found := scEntry(c, slot, table)
		if !found {
			return Sample{}, false
		}
		if e == nil {
			return Int(0), true
		}
		if release {
			defer e.Release()
		}
		return apply(e)
	}
}

// stickApply returns what a counter fetch does to an entry. A table that
// does not store the type gives no sample, as in HAProxy.
func stickApply(dt, rate stick.DataType, op stickOp) func(e *stick.Entry) (Sample, bool) {
	return func(e *stick.Entry) (Sample, bool) {
		// gpc0, gpc1, gpt0 and their rates read the arrays' first
		// elements on a table storing those instead, as in haproxy.
		t := e.Table()
		d, i, ok := t.Resolve(dt)
		var r stick.DataType
		var ri int
		var rok bool
		if op == opInc {
			r, ri, rok = t.Resolve(rate)
		}
		return applyElem(e, op, elemRef{d, i, ok}, elemRef{r, ri, rok})
	}
}

// elemRef is one element of a stored type; ok is false when the table
// lacks it.
type elemRef struct {
	dt  stick.DataType
	idx int
	ok  bool
}

// arrayElem returns element idx of array dt in t.
func arrayElem(t *stick.Table, dt stick.DataType, idx int64) elemRef {
	return elemRef{dt, int(idx), idx >= 0 && idx < int64(t.Elems(dt))}
}

// applyElem does what a counter fetch does to an element: no sample when
// the table lacks it (for inc, when it lacks both the counter and its
// rate), as in haproxy.
func applyElem(e *stick.Entry, op stickOp, v, rate elemRef) (Sample, bool) {
	switch op {
	case opGet:
		if !v.ok {
			return Sample{}, false
		}
		return Int(e.GetElem(v.dt, v.idx)), true
	case opKB:
		if !v.ok {
			return Sample{}, false
		}
		return Int(e.GetElem(v.dt, v.idx) >> 10), true
	case opInc:
		if !v.ok && !rate.ok {
			return Sample{}, false
		}
		now := e.Table().Now()
		if rate.ok {
			e.IncElemAt(rate.dt, rate.idx, 1, now)
		}
		var n int64
		if v.ok {
			n = e.IncElemAt(v.dt, v.idx, 1, now)
		}
		return Int(n), true
	case opClr:
		if !v.ok {
			return Sample{}, false
		}
		old := e.GetElem(v.dt, v.idx)
		_ = e.SetElem(v.dt, v.idx, 0)
		return Int(old), true
	}
	return Sample{}, false
}
