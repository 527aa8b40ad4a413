package acl

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// The integer and boolean converters of HAProxy 2.6: add, sub, mul,
// div, mod, and, or, xor, neg, cpl, even, odd, bool and
// iif(true,false). Their input is read as an integer the way HAProxy
// casts one (see smpInt); one that cannot be read leaves no sample.
// The arithmetic saturates at the 64-bit bounds, as HAProxy's: a
// division by zero gives the largest integer, a modulo by zero 0.

func init() {
	bitwise := func(name string, fn func(a, b int64) int64) {
		ctxConverters[name] = ctxConverter{ArgOptional, TypeInt, func(a []string) (CtxConvFunc, error) {
			n, v, err := intOrVarArg(a)
			if err != nil {
				return nil, err
			}
			if v.Var != "" {
				// A variable argument, read as an integer when the
				// converter runs: unset, or not one, no sample.
				return func(ctx Context, s Sample) (Sample, bool) {
					x, ok := smpInt(s)
					if !ok {
						return Sample{}, false
					}
					arg, ok := v.Get(ctx)
					if !ok {
						return Sample{}, false
					}
					y, ok := smpInt(arg)
					if !ok {
						return Sample{}, false
					}
					return Int(fn(x, y)), true
				}, nil
			}
			return func(_ Context, s Sample) (Sample, bool) {
				v, ok := smpInt(s)
				return Int(fn(v, n)), ok
			}, nil
		}}
	}
	bitwise("add", func(a, b int64) int64 {
		r := a + b
		switch {
		case a > 0 && b > 0 && r < 0:
			return math.MaxInt64
		case a < 0 && b < 0 && r >= 0:
			return math.MinInt64
		}
		return r
	})
	bitwise("sub", func(a, b int64) int64 {
		r := a - b
		switch {
		case a >= 0 && b < 0 && r < 0:
			return math.MaxInt64
		case a < 0 && b > 0 && r >= 0:
			return math.MinInt64
		}
		return r
	})
	bitwise("mul", func(a, b int64) int64 {
		if a == 0 || b == 0 {
			return 0
		}
		r := a * b
		if r/b != a || a == -1 && b == math.MinInt64 || b == -1 && a == math.MinInt64 {
			if a < 0 != (b < 0) {
				return math.MinInt64
			}
			return math.MaxInt64
		}
		return r
	})
	bitwise("div", func(a, b int64) int64 {
		if b == 0 || a == math.MinInt64 && b == -1 {
			return math.MaxInt64
		}
		return a / b
	})
	bitwise("mod", func(a, b int64) int64 {
		if b == 0 {
			return 0
		}
		return a % b
	})
	bitwise("and", func(a, b int64) int64 { return a & b })
	bitwise("or", func(a, b int64) int64 { return a | b })
	bitwise("xor", func(a, b int64) int64 { return a ^ b })
	unary := func(name string, out Type, fn func(int64) Sample) {
		converters[name] = converter{ArgNone, out, func([]string) (ConvFunc, error) {
			return func(s Sample) (Sample, bool) {
				v, ok := smpInt(s)
				return fn(v), ok
			}, nil
		}}
	}
	// neg saturates: the opposite of the smallest integer is the largest.
	unary("neg", TypeInt, func(v int64) Sample {
		if v == math.MinInt64 {
			return Int(math.MaxInt64)
		}
		return Int(-v)
	})
	unary("cpl", TypeInt, func(v int64) Sample { return Int(^v) })
	unary("bool", TypeBool, func(v int64) Sample { return Bool(v != 0) })
	// even and odd read an IPv4 address as its 32 bits, as HAProxy
	// casts one to an integer; iif takes no address.
	parity := func(name string, odd bool) {
		converters[name] = converter{ArgNone, TypeBool, func([]string) (ConvFunc, error) {
			return func(s Sample) (Sample, bool) {
				v, ok := smpInt(s)
				return Bool(v&1 == 1 == odd), ok
			}, nil
		}}
	}
	parity("even", false)
	parity("odd", true)
	converters["iif"] = converter{ArgRequired, TypeStr, func(a []string) (ConvFunc, error) {
		if len(a) != 2 {
			return nil, fmt.Errorf("expects <true>,<false>")
		}
		yes, no := Str(a[0]), Str(a[1])
		return func(s Sample) (Sample, bool) {
			v, ok := smpInt(s)
			if !ok || s.Type == TypeIP {
				return Sample{}, false
			}
			if v != 0 {
				return yes, true
			}
			return no, true
		}, nil
	}}
}

// errVarArg means a converter's argument names a variable where lb's
// converter cannot read one.
var errVarArg = fmt.Errorf("%w: a variable as argument (only constants)", ErrUnsupportedConv)

// intOrVarArg reads the one optional argument of the arithmetic and
// bitwise converters: an integer (none or empty means 0; beyond the
// range of 64 bits it is the nearest bound, as HAProxy reads it), or a
// variable's name, returned in v.
func intOrVarArg(a []string) (n int64, v ConvArg, err error) {
	switch {
	case len(a) > 1:
		return 0, v, fmt.Errorf("expects one integer")
	case len(a) == 0 || a[0] == "":
		return 0, v, nil
	}
	n, err = strconv.ParseInt(a[0], 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		if isVarName(a[0]) {
			if _, _, err := ParseVarName(a[0]); err == nil {
				return 0, ConvArg{Var: a[0]}, nil
			}
		}
		return 0, v, fmt.Errorf("'%s': expects an integer or a variable name", a[0])
	}
	return n, v, nil
}

// isVarName reports whether v names a variable as HAProxy writes one:
// a scope (proc, sess, txn, req, res or check), a dot and a name.
func isVarName(v string) bool {
	scope, name, ok := strings.Cut(v, ".")
	if !ok || name == "" {
		return false
	}
	switch scope {
	case "proc", "sess", "txn", "req", "res", "check":
		return true
	}
	return false
}

// smpInt reads a sample as an integer the way HAProxy casts one: a
// boolean as 0 or 1, an IPv4 address as its 32 bits, a string by its
// leading sign and digits (0 when there are none, the nearest bound
// beyond 64 bits). An empty string or an IPv6 address has no integer.
func smpInt(s Sample) (int64, bool) {
	switch s.Type {
	case TypeBool, TypeInt:
		return s.Int, true
	case TypeIP:
		if a := s.IP.Unmap(); a.Is4() {
			b := a.As4()
			return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3]), true
		}
		return 0, false
	}
	v := s.Str
	if v == "" {
		return 0, false
	}
	neg := false
	if v[0] == '-' || v[0] == '+' {
		neg = v[0] == '-'
		v = v[1:]
	}
	var n uint64
	for i := 0; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		d := uint64(v[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			n = math.MaxUint64
			break
		}
		n = n*10 + d
	}
	switch {
	case neg && n >= 1<<63:
		return math.MinInt64, true
	case neg:
		return -int64(n), true
	case n > math.MaxInt64:
		return math.MaxInt64, true
	}
	return int64(n), true
}

// smpAddr reads a sample as an address the way HAProxy casts one: a
// string holding an IPv4 or IPv6 address, an integer as IPv4's 32 bits.
func smpAddr(s Sample) (netip.Addr, bool) {
	switch s.Type {
	case TypeIP:
		return s.IP, true
	case TypeBool, TypeInt:
		return netip.AddrFrom4([4]byte{byte(s.Int >> 24), byte(s.Int >> 16), byte(s.Int >> 8), byte(s.Int)}), true
	}
	a, err := netip.ParseAddr(s.Str)
	return a, err == nil && a.Zone() == ""
}
