package acl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/proxyblocks/proxyblocks/stick"
)

// The fetches of the general purpose arrays, as haproxy 2.6 has them:
// sc_get_gpt, sc_get_gpc, sc_gpc_rate, sc_inc_gpc and sc_clr_gpc take
// "IDX,SC[,TABLE]", their src_ forms "IDX,TABLE" (the table is required,
// "" naming the rule's own), and sc1_clr_gpc, which haproxy 2.6 also
// registers, "IDX[,TABLE]" on stick counter 1. An element the table's
// array lacks (a negative index included) gives no sample; a stick
// counter other than 0 to 2, like an untracked one, gives none either.

// The kinds of table names the array fetches take (ProxyRefOf).
const (
	// RefTableArg2 is "IDX,TABLE": the table named second, the rule's
	// own proxy's when empty.
	RefTableArg2 ProxyRef = 80 + iota
	// RefTableArg3 is "IDX,SC[,TABLE]": the table named third, if any.
	RefTableArg3
)

// gpArrayFetches are the suffixes of the array fetches.
var gpArrayFetches = []struct {
	suffix string
	dt     stick.DataType
	rate   stick.DataType // for inc: the rate that goes up with the counter
	op     stickOp
}{
	{"get_gpt", stick.DataGPT, 0, opGet},
	{"get_gpc", stick.DataGPC, 0, opGet},
	{"gpc_rate", stick.DataGPCRate, 0, opGet},
	{"inc_gpc", stick.DataGPC, stick.DataGPCRate, opInc},
	{"clr_gpc", stick.DataGPC, 0, opClr},
}

// arrayApply returns what an array fetch does to an entry.
func arrayApply(dt, rate stick.DataType, op stickOp, idx int64) func(*stick.Entry) (Sample, bool) {
	return func(e *stick.Entry) (Sample, bool) {
		t := e.Table()
		var r elemRef
		if op == opInc {
			r = arrayElem(t, rate, idx)
		}
		return applyElem(e, op, arrayElem(t, dt, idx), r)
	}
}

// intArgs reads the first n arguments of an array fetch as integers,
// with haproxy's messages; total is how many the fetch needs in all.
func intArgs(parts []string, n, total int) ([]int64, error) {
	if len(parts) < n {
		return nil, fmt.Errorf("missing arguments (got %d/%d), type 'integer' expected", len(parts), total)
	}
	out := make([]int64, n)
	for i := range out {
		p := strings.TrimSpace(parts[i])
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("failed to parse '%s' as type 'integer' at position %d", p, i+1)
		}
		out[i] = v
	}
	return out, nil
}

func registerArrayFetches() {
	for _, af := range gpArrayFetches {
		writes := af.op == opInc || af.op == opClr
		proxyRefs["sc_"+af.suffix] = RefTableArg3
		RegisterFetch(Fetch{
			Name: "sc_" + af.suffix, Type: TypeInt, Arg: ArgRequired,
			Compile: func(arg string) (FetchFunc, error) {
				parts := strings.Split(arg, ",")
				if len(parts) > 3 {
					return nil, fmt.Errorf("end of arguments expected at position 4, but got ',%s' (expects <idx>,<sc>[,<table>])", strings.Join(parts[3:], ","))
				}
				n, err := intArgs(parts, 2, 2)
				if err != nil {
					return nil, err
				}
				table := ""
				if len(parts) == 3 {
					table = strings.TrimSpace(parts[2])
				}
				return arrayScFetch(n[1], table, arrayApply(af.dt, af.rate, af.op, n[0])), nil
			},
		})
		proxyRefs["src_"+af.suffix] = RefTableArg2
		RegisterFetch(Fetch{
			Name: "src_" + af.suffix, Type: TypeInt, Arg: ArgRequired,
			Compile: func(arg string) (FetchFunc, error) {
				parts := strings.Split(arg, ",")
				if len(parts) > 2 {
					return nil, fmt.Errorf("end of arguments expected at position 3, but got ',%s' (expects <idx>,<table>)", strings.Join(parts[2:], ","))
				}
				n, err := intArgs(parts, 1, 2)
				if err != nil {
					return nil, err
				}
				if len(parts) < 2 {
					return nil, fmt.Errorf("missing arguments (got 1/2), type 'table' expected")
				}
				idx := n[0]
				stored := func(t *stick.Table) bool {
					return arrayElem(t, af.dt, idx).ok || af.op == opInc && arrayElem(t, af.rate, idx).ok
				}
				return srcFetch(strings.TrimSpace(parts[1]), writes, stored, arrayApply(af.dt, af.rate, af.op, idx)), nil
			},
		})
	}
	// haproxy 2.6 also registers this one, clr_gpc on stick counter 1.
	proxyRefs["sc1_clr_gpc"] = RefTableArg2
	RegisterFetch(Fetch{
		Name: "sc1_clr_gpc", Type: TypeInt, Arg: ArgRequired,
		Compile: func(arg string) (FetchFunc, error) {
			parts := strings.Split(arg, ",")
			if len(parts) > 2 {
				return nil, fmt.Errorf("end of arguments expected at position 3, but got ',%s' (expects <idx>[,<table>])", strings.Join(parts[2:], ","))
			}
			n, err := intArgs(parts, 1, 1)
			if err != nil {
				return nil, err
			}
			table := ""
			if len(parts) == 2 {
				table = strings.TrimSpace(parts[1])
			}
			return arrayScFetch(1, table, arrayApply(stick.DataGPC, 0, opClr, n[0])), nil
		},
	})
}

// arrayScFetch is scFetch for any stick counter number: one other than
// 0 to 2 gives no sample.
func arrayScFetch(slot int64, table string, apply func(*stick.Entry) (Sample, bool)) FetchFunc {
	if slot < 0 || slot >= Slots {
		return func(Context) (Sample, bool) { return Sample{}, false }
	}
	return scFetch(int(slot), table, apply)
}
