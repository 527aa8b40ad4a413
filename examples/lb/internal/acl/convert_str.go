package acl

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unsafe"
)

// The string converters of HAProxy 2.6: concat, add_item, ltrim, rtrim,
// cut_crlf, url_enc, ub64enc, ub64dec, host_only, port_only, and strcmp
// and secure_memcmp, which compare with a variable.

func init() {
	// concat([start][,var][,end]): the sample, then start, the
	// variable as text (nothing when it is not set) and end.
	ctxConverters["concat"] = ctxConverter{ArgOptional, TypeStr, func(a []string) (CtxConvFunc, error) {
		if len(a) > 3 {
			return nil, fmt.Errorf("expects [<start>][,<var>][,<end>]")
		}
		var start, end string
		var v ConvArg
		if len(a) > 0 {
			start = a[0]
		}
		if len(a) > 1 {
			var err error
			if v, err = varArg(a[1]); err != nil {
				return nil, err
			}
		}
		if len(a) > 2 {
			end = a[2]
		}
		return func(ctx Context, s Sample) (Sample, bool) {
			mid := ""
			if v.Var != "" {
				if x, ok := v.Get(ctx); ok {
					mid = x.String()
				}
			}
			return Str(s.String() + start + mid + end), true
		}, nil
	}}
	// add_item(delim,var[,suffix]): the sample, then the variable as text
	// and the suffix, the delimiter between when the sample and what
	// follows are both not empty.
	ctxConverters["add_item"] = ctxConverter{ArgRequired, TypeStr, func(a []string) (CtxConvFunc, error) {
		if len(a) < 2 || len(a) > 3 {
			return nil, fmt.Errorf("expects <delim>,<var>[,<suffix>]")
		}
		v, err := varArg(a[1])
		if err != nil {
			return nil, err
		}
		if v.Var == "" && (len(a) < 3 || a[2] == "") {
			return nil, fmt.Errorf("one of the optional arguments has to be nonempty")
		}
		delim, suffix := a[0], ""
		if len(a) > 2 {
			suffix = a[2]
		}
		return func(ctx Context, s Sample) (Sample, bool) {
			item := ""
			if v.Var != "" {
				if x, ok := v.Get(ctx); ok {
					item = x.String()
				}
			}
			item += suffix
			base := s.String()
			if base == "" || item == "" {
				return Str(base + item), true
			}
			return Str(base + delim + item), true
		}, nil
	}}
	trim := func(name string, left bool) {
		converters[name] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
			if len(a) > 1 {
				return nil, fmt.Errorf("expects <chars>")
			}
			var set string
			if len(a) == 1 {
				set = a[0]
			}
			return func(s Sample) (Sample, bool) {
				v := s.String()
				if left {
					for v != "" && strings.IndexByte(set, v[0]) >= 0 {
						v = v[1:]
					}
				} else {
					for v != "" && strings.IndexByte(set, v[len(v)-1]) >= 0 {
						v = v[:len(v)-1]
					}
				}
				return Str(v), true
			}, nil
		}}
	}
	trim("ltrim", true)
	trim("rtrim", false)
	converters["cut_crlf"] = converter{ArgNone, TypeStr, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			v := s.String()
			if i := strings.IndexAny(v, "\r\n"); i >= 0 {
				v = v[:i]
			}
			return Str(v), true
		}, nil
	}}
	// url_enc([query]): every byte but letters, digits, '-', '.', '_'
	// and '~' as %XX.
	converters["url_enc"] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
		if len(a) > 1 || len(a) == 1 && a[0] != "query" {
			return nil, fmt.Errorf("unexpected encode type (only 'query')")
		}
		return func(s Sample) (Sample, bool) { return Str(urlEncode(s.String())), true }, nil
	}}
	converters["ub64enc"] = converter{ArgNone, TypeStr, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			var arr [128]byte
			v := s.String()
			return Str(string(base64.RawURLEncoding.AppendEncode(arr[:0], unsafe.Slice(unsafe.StringData(v), len(v))))), true
		}, nil
	}}
	converters["ub64dec"] = converter{ArgNone, TypeStr, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			v, ok := ub64Decode(s.String())
			return Str(v), ok
		}, nil
	}}
	// host_only and port_only split a Host value at its last ':' that
	// no ']' follows: the host in lower case, the port read as HAProxy
	// reads it (each byte's distance from '0' as a digit, on 32 bits);
	// 0 without a port.
	converters["host_only"] = converter{ArgNone, TypeStr, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			v := s.String()
			if i := portColon(v); i >= 0 {
				v = v[:i]
			}
			return Str(asciiLower(v)), true
		}, nil
	}}
	converters["port_only"] = converter{ArgNone, TypeInt, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			v := s.String()
			var port uint32
			if i := portColon(v); i >= 0 {
				for _, c := range []byte(v[i+1:]) {
					port = port*10 + uint32(c) - '0'
				}
			}
			return Int(int64(port)), true
		}, nil
	}}
	// strcmp(var): 0 when the sample equals the variable's text, else
	// the difference of the first bytes that differ or of the lengths;
	// secure_memcmp(var): 1 when they are equal, else 0, in a time that
	// does not tell how much of them matched. An unset variable leaves
	// no sample.
	for _, name := range []string{"strcmp", "secure_memcmp"} {
		secure := name == "secure_memcmp"
		ctxConverters[name] = ctxConverter{ArgRequired, TypeInt, func(a []string) (CtxConvFunc, error) {
			if len(a) != 1 || a[0] == "" {
				return nil, fmt.Errorf("missing variable name")
			}
			v, err := varArg(a[0])
			if err != nil {
				return nil, err
			}
			return func(ctx Context, s Sample) (Sample, bool) {
				x, ok := v.Get(ctx)
				if !ok {
					return Sample{}, false
				}
				p, q := s.String(), x.String()
				if secure {
					return Int(int64(subtle.ConstantTimeCompare([]byte(p), []byte(q)))), true
				}
				for i := 0; i < len(p) && i < len(q); i++ {
					if p[i] != q[i] {
						return Int(int64(p[i]) - int64(q[i])), true
					}
				}
				return Int(int64(len(p) - len(q))), true
			}, nil
		}}
	}
}

// varArg reads an argument HAProxy takes as a variable's name: empty
// for none, else it must name one.
func varArg(v string) (ConvArg, error) {
	if v == "" {
		return ConvArg{}, nil
	}
	if isVarName(v) {
		if _, _, err := ParseVarName(v); err == nil {
			return ConvArg{Var: v}, nil
		}
	}
	return ConvArg{}, fmt.Errorf("'%s' is not a variable name", v)
}

// urlEncode escapes v as HAProxy's url_enc does.
func urlEncode(v string) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(v); i++ {
		if !urlUnreserved(v[i]) {
			n++
		}
	}
	if n == 0 {
		return v
	}
	var arr [128]byte
	b := arr[:0]
	for i := 0; i < len(v); i++ {
		if c := v[i]; urlUnreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

// urlUnreserved reports whether url_enc leaves c as it is.
func urlUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// ub64Decode decodes unpadded base64url as HAProxy's ub64dec does: a
// length of 4n+1 or a byte outside the alphabet fails, and '=' reads as
// '_' (63) wherever it stands.
func ub64Decode(v string) (string, bool) {
	if len(v)%4 == 1 {
		return "", false
	}
	var arr [96]byte
	out := arr[:0]
	var acc uint32
	n := 0
	for i := 0; i < len(v); i++ {
		var d byte
		switch c := v[i]; {
		case c >= 'A' && c <= 'Z':
			d = c - 'A'
		case c >= 'a' && c <= 'z':
			d = c - 'a' + 26
		case c >= '0' && c <= '9':
			d = c - '0' + 52
		case c == '-':
			d = 62
		case c == '_' || c == '=':
			d = 63
		default:
			return "", false
		}
		acc = acc<<6 | uint32(d)
		if n++; n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	return string(out), true
}

// portColon returns the index of the ':' before a Host value's port:
// the last one, unless a ']' follows it; -1 when there is none.
func portColon(v string) int {
	for i := len(v) - 1; i >= 0; i-- {
		switch v[i] {
		case ':':
			return i
		case ']':
			return -1
		}
	}
	return -1
}

// asciiLower returns v with ASCII capitals lowered, v itself when it has
// none.
func asciiLower(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 'A' && c <= 'Z' {
			return asciiCase(v, 'A', 'Z', 'a'-'A')
		}
	}
	return v
}
