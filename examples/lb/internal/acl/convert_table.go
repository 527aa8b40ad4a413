package acl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/proxyblocks/proxyblocks/stick"
)

// The stick-table converters, as HAProxy 2.6 has them: the sample,
// converted to the key type of the table named by the argument (the
// table of the proxy running the rule when none is named), is looked up
// there. in_table says whether the key is present; table_conn_cnt and the
// like read one counter of the entry, zero for an absent key, no sample
// when the table does not store that counter; table_expire and table_idle
// give the entry's time left and time idle in milliseconds, no sample (or
// the default given) for an absent key. A sample that cannot be a key of
// the table leaves no sample. The entry is read, not touched.
//
// The tables must exist: the configuration checks the names once every
// section is read (ProxyRefOf says where the table argument is).

// tableConvs are the converters reading one stored type, with the
// suffix after "table_".
var tableConvs = []struct {
	suffix string
	dt     stick.DataType
	op     stickOp
}{
	{"conn_cnt", stick.DataConnCnt, opGet},
	{"conn_cur", stick.DataConnCur, opGet},
	{"conn_rate", stick.DataConnRate, opGet},
	{"sess_cnt", stick.DataSessCnt, opGet},
	{"sess_rate", stick.DataSessRate, opGet},
	{"http_req_cnt", stick.DataHTTPReqCnt, opGet},
	{"http_req_rate", stick.DataHTTPReqRate, opGet},
	{"http_err_cnt", stick.DataHTTPErrCnt, opGet},
	{"http_err_rate", stick.DataHTTPErrRate, opGet},
	{"http_fail_cnt", stick.DataHTTPFailCnt, opGet},
	{"http_fail_rate", stick.DataHTTPFailRate, opGet},
	{"bytes_in_rate", stick.DataBytesInRate, opGet},
	{"bytes_out_rate", stick.DataBytesOutRate, opGet},
	{"kbytes_in", stick.DataBytesInCnt, opKB},
	{"kbytes_out", stick.DataBytesOutCnt, opKB},
	{"gpc0", stick.DataGPC0, opGet},
	{"gpc0_rate", stick.DataGPC0Rate, opGet},
	{"gpc1", stick.DataGPC1, opGet},
	{"gpc1_rate", stick.DataGPC1Rate, opGet},
	{"gpt0", stick.DataGPT0, opGet},
	{"server_id", stick.DataServerID, opGet},
}

// The kinds of names the stick-table converters take (ProxyRefOf),
// numbered apart from the state fetches' kinds.
const (
	// RefConvTable is a converter's "[TABLE][,...]": the table named
	// first, the rule's own proxy's when none is.
	RefConvTable ProxyRef = 64 + iota
	// RefConvIdxTable is a converter's "IDX,TABLE": the table named
	// second.
	RefConvIdxTable
)

// tableConvNames are the stick-table converters, for TableConverters.
var tableConvNames []string

// TableConverters returns the names of the converters that name a stick
// table, whose argument ProxyRefOf describes.
func TableConverters() []string { return append([]string(nil), tableConvNames...) }

func init() {
	for _, tc := range tableConvs {
		apply := stickApply(tc.dt, 0, tc.op)
		tableConv("table_"+tc.suffix, TypeInt, func(e *stick.Entry) (Sample, bool) {
			if e == nil {
				return Int(0), true
			}
			return apply(e)
		})
	}
	tableConv("in_table", TypeBool, func(e *stick.Entry) (Sample, bool) { return Bool(e != nil), true })
	// The reference taken to read the entry is counted, as in HAProxy.
	tableConv("table_trackers", TypeInt, func(e *stick.Entry) (Sample, bool) {
		if e == nil {
			return Int(0), true
		}
		return Int(int64(e.Refs())), true
	})
	// The general purpose arrays, element IDX of "IDX,TABLE": zero for
	// an absent key, no sample when the array lacks the element.
	for name, dt := range map[string]stick.DataType{"table_gpc": stick.DataGPC, "table_gpc_rate": stick.DataGPCRate, "table_gpt": stick.DataGPT} {
		tableIdxConv(name, func(idx int64) func(*stick.Entry) (Sample, bool) {
			apply := arrayApply(dt, 0, opGet, idx)
			return func(e *stick.Entry) (Sample, bool) {
				if e == nil {
					return Int(0), true
				}
				return apply(e)
			}
		})
	}
	timed := func(name string, get func(e *stick.Entry) int64) {
		proxyRefs[name] = RefConvTable
		tableConvNames = append(tableConvNames, name)
		ctxConverters[name] = ctxConverter{ArgOptional, TypeInt, func(a []string) (CtxConvFunc, error) {
			if len(a) > 2 {
				return nil, fmt.Errorf("expects [<table>][,<default_value>]")
			}
			table, def, hasDef := "", int64(0), false
			if len(a) > 0 {
				table = strings.TrimSpace(a[0])
			}
			if len(a) == 2 {
				var err error
				if def, err = strconv.ParseInt(strings.TrimSpace(a[1]), 10, 64); err != nil {
					return nil, fmt.Errorf("default value '%s' is not an integer", a[1])
				}
				hasDef = true
			}
			return tableLookup(table, func(e *stick.Entry) (Sample, bool) {
				if e == nil {
					return Int(def), hasDef
				}
				return Int(get(e)), true
			}), nil
		}}
	}
	timed("table_expire", func(e *stick.Entry) int64 { return int64(e.ExpiresIn()) })
	timed("table_idle", func(e *stick.Entry) int64 {
		exp := e.Table().ExpireAfter().Milliseconds()
		if exp == 0 {
			return 0 // never expires: never idle, as in HAProxy
		}
		return max(exp-int64(e.ExpiresIn()), 0)
	})
}

// tableConv registers a stick-table converter taking [<table>]; read
// gets the entry found, nil when the key is absent.
func tableConv(name string, out Type, read func(*stick.Entry) (Sample, bool)) {
	proxyRefs[name] = RefConvTable
	tableConvNames = append(tableConvNames, name)
	ctxConverters[name] = ctxConverter{ArgOptional, out, func(a []string) (CtxConvFunc, error) {
		if len(a) > 1 {
			return nil, fmt.Errorf("expects only [<table>]")
		}
		table := ""
		if len(a) == 1 {
			table = strings.TrimSpace(a[0])
		}
		return tableLookup(table, read), nil
	}}
}

// tableIdxConv registers an array converter taking <idx>,<table>; read
// returns, for the index, what reads the entry found (nil when the key
// is absent).
func tableIdxConv(name string, read func(idx int64) func(*stick.Entry) (Sample, bool)) {
	proxyRefs[name] = RefConvIdxTable
	tableConvNames = append(tableConvNames, name)
	ctxConverters[name] = ctxConverter{ArgRequired, TypeInt, func(a []string) (CtxConvFunc, error) {
		if len(a) != 2 {
			return nil, fmt.Errorf("expects <idx>,<table>")
		}
		idx, err := strconv.ParseInt(strings.TrimSpace(a[0]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("failed to parse '%s' as type 'integer' at position 1", strings.TrimSpace(a[0]))
		}
		return tableLookup(strings.TrimSpace(a[1]), read(idx)), nil
	}}
}

// tableLookup is a converter looking the sample up in table; read gets
// the entry, or nil when the key is absent.
func tableLookup(table string, read func(*stick.Entry) (Sample, bool)) CtxConvFunc {
	return func(c Context, s Sample) (Sample, bool) {
		tr, ok := c.(Tracker)
		if !ok {
			return Sample{}, false
		}
		t := tr.Table(table)
		if t == nil {
			return Sample{}, false
		}
		var buf [64]byte
		key, ok := SampleKey(buf[:0], t, s)
		if !ok {
			return Sample{}, false
		}
		e, err := t.Lookup(key)
		if errors.Is(err, stick.ErrNotFound) {
			return read(nil)
		}
		if err != nil {
			return Sample{}, false
		}
		defer e.Release()
		return read(e)
	}
}
