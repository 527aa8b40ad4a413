package acl

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Converters: "FETCH,CONV[(ARGS)],..." transforms a fetch's sample, as in
// HAProxy: lower, upper, length, field, word, regsub, ipmask, base64,
// b64dec, hex, url_dec, json and bytes (the arithmetic ones are in
// convert_int.go). A converter that cannot apply (a string where an
// address is needed) leaves no sample. The converters that read or
// change the stream's state (set-var, the stick-table lookups,
// captures...) are registered in ctxConverters and get the fetch's
// Context too.

// ConvFunc transforms a sample; ok is false when there is none.
type ConvFunc func(s Sample) (Sample, bool)

// converter is a registered converter: whether it takes arguments, what
// it returns, and how to build it from its arguments.
type converter struct {
	args    ArgMode
	out     Type
	compile func(args []string) (ConvFunc, error)
}

var converters = map[string]converter{}

// CtxConvFunc transforms a sample with the fetch's Context at hand, for
// the converters that read or change the stream's state (set-var,
// table_*); ok is false when there is no sample.
type CtxConvFunc func(ctx Context, s Sample) (Sample, bool)

// ctxConverter is a registered converter that needs the Context, as
// converter is for those that do not.
type ctxConverter struct {
	args    ArgMode
	out     Type
	compile func(args []string) (CtxConvFunc, error)
}

var ctxConverters = map[string]ctxConverter{}

func init() {
	str := func(fn func(string) string) func([]string) (ConvFunc, error) {
		return func([]string) (ConvFunc, error) {
			return func(s Sample) (Sample, bool) { return Str(fn(s.String())), true }, nil
		}
	}
	// Case changes are ASCII only, byte by byte, as in HAProxy.
	converters["lower"] = converter{ArgNone, TypeStr, str(func(v string) string { return asciiCase(v, 'A', 'Z', 'a'-'A') })}
	converters["upper"] = converter{ArgNone, TypeStr, str(func(v string) string { return asciiCase(v, 'a', 'z', 'A'-'a') })}
	// base64 and hex read their input as binary: an integer as its 8
	// bytes, an address as its 4 or 16, as HAProxy casts them.
	bin := func(fn func([]byte) string) func([]string) (ConvFunc, error) {
		return func([]string) (ConvFunc, error) {
			return func(s Sample) (Sample, bool) { return Str(fn(smpBin(s))), true }, nil
		}
	}
	converters["base64"] = converter{ArgNone, TypeStr, bin(base64.StdEncoding.EncodeToString)}
	converters["hex"] = converter{ArgNone, TypeStr, bin(func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) })}
	converters["json"] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
		if len(a) > 0 && a[0] != "" && a[0] != "ascii" && a[0] != "utf8" && a[0] != "utf8s" && a[0] != "utf8p" && a[0] != "utf8ps" {
			return nil, fmt.Errorf("unexpected input code type '%s'", a[0])
		}
		return func(s Sample) (Sample, bool) { return Str(jsonEscape(s.String())), true }, nil
	}}
	converters["length"] = converter{ArgNone, TypeInt, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) { return Int(int64(len(s.String()))), true }, nil
	}}
	converters["b64dec"] = converter{ArgNone, TypeStr, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			b, err := base64.StdEncoding.DecodeString(s.String())
			return Str(string(b)), err == nil
		}, nil
	}}
	converters["url_dec"] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
		form := len(a) > 0 && a[0] != "" && a[0] != "0"
		return func(s Sample) (Sample, bool) {
			v, ok := urlDecode(s.String(), form)
			return Str(v), ok
		}, nil
	}}
	converters["field"] = converter{ArgRequired, TypeStr, func(a []string) (ConvFunc, error) { return fieldConv(a, false) }}
	converters["word"] = converter{ArgRequired, TypeStr, func(a []string) (ConvFunc, error) { return fieldConv(a, true) }}
	converters["bytes"] = converter{ArgRequired, TypeStr, func(a []string) (ConvFunc, error) {
		if len(a) < 1 || len(a) > 2 {
			return nil, fmt.Errorf("expects <offset>[,<length>]")
		}
		off, err := strconv.Atoi(a[0])
		n := -1
		if err == nil && len(a) == 2 {
			n, err = strconv.Atoi(a[1])
		}
		if err != nil || off < 0 || len(a) == 2 && n < 0 {
			return nil, fmt.Errorf("expects non-negative <offset>[,<length>]")
		}
		return func(s Sample) (Sample, bool) {
			v := s.Str // as binary: an integer's 8 bytes, an address's 4 or 16
			if s.Type != TypeStr {
				v = string(smpBin(s))
			}
			if off >= len(v) { // past the end: empty, as in HAProxy
				return Str(""), true
			}
			v = v[off:]
			if n >= 0 && n < len(v) {
				v = v[:n]
			}
			return Str(v), true
		}, nil
	}}
	converters["regsub"] = converter{ArgRequired, TypeStr, func(a []string) (ConvFunc, error) {
		if len(a) < 2 || len(a) > 3 {
			return nil, fmt.Errorf("expects <regex>,<subst>[,<flags>]")
		}
		expr, global := a[0], false
		if len(a) == 3 {
			for _, f := range a[2] {
				switch f {
				case 'g':
					global = true
				case 'i':
					expr = "(?i)" + expr
				default:
					return nil, fmt.Errorf("invalid regex flag '%c' (only 'g' and 'i')", f)
				}
			}
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("regex '%s': %w", a[0], err)
		}
		subst := []byte(a[1])
		return func(s Sample) (Sample, bool) {
			v := []byte(s.String())
			var out []byte
			start := 0
			for start < len(v) {
				m := re.FindSubmatchIndex(v[start:])
				if m == nil {
					break
				}
				for i := range m {
					if m[i] >= 0 {
						m[i] += start
					}
				}
				out = append(out, v[start:m[0]]...)
				out = ExpandRefs(out, subst, v, m)
				start = m[1]
				if m[1] == m[0] { // an empty match moves on one byte
					if m[1] < len(v) {
						out = append(out, v[m[1]])
					}
					start++
				}
				if !global {
					break
				}
			}
			if start < len(v) {
				out = append(out, v[start:]...)
			}
			return Str(string(out)), true
		}, nil
	}}
	converters["ipmask"] = converter{ArgRequired, TypeIP, func(a []string) (ConvFunc, error) {
		if len(a) < 1 || len(a) > 2 {
			return nil, fmt.Errorf("expects <mask4>[,<mask6>]")
		}
		m4, err := convMask(a[0], 32)
		if err != nil {
			return nil, err
		}
		m6 := -1
		if len(a) == 2 {
			if m6, err = convMask(a[1], 128); err != nil {
				return nil, err
			}
		}
		return func(s Sample) (Sample, bool) {
			ip, ok := smpAddr(s)
			if !ok {
				return Sample{}, false
			}
			ip = ip.Unmap()
			bits := m4
			if ip.Is6() {
				if m6 < 0 {
					return Sample{}, false
				}
				bits = m6
			}
			p, err := ip.Prefix(bits)
			return IP(p.Addr()), err == nil
		}, nil
	}}
}

// ExpandRefs appends tmpl to dst with \0..\9 replaced by the groups m
// (as regexp's FindSubmatchIndex gives them) found in subject, \xHH by
// that byte and \ before another character by that character, as
// HAProxy expands a regex replacement.
func ExpandRefs(dst, tmpl, subject []byte, m []int) []byte {
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '\\' || i+1 == len(tmpl) {
			dst = append(dst, c)
			continue
		}
		i++
		switch c = tmpl[i]; {
		case c >= '0' && c <= '9':
			if g := int(c - '0'); 2*g+1 < len(m) && m[2*g] >= 0 {
				dst = append(dst, subject[m[2*g]:m[2*g+1]]...)
			}
		case c == 'x' && i+2 < len(tmpl):
			if b, err := hex.DecodeString(string(tmpl[i+1 : i+3])); err == nil {
				dst = append(dst, b[0])
				i += 2
				continue
			}
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// fieldConv builds field(index,delimiters[,count]) and, with words set,
// word(...): the index-th part of the sample (from 1, or from the end
// when negative) between any of the delimiters, through count parts (0:
// all that follow) with the delimiters between them as they were. word
// parts are runs of non-delimiters; field parts may be empty. No such
// part leaves no sample.
func fieldConv(a []string, words bool) (ConvFunc, error) {
	if len(a) < 2 || len(a) > 3 {
		return nil, fmt.Errorf("expects <index>,<delimiters>[,<count>]")
	}
	idx, err := strconv.Atoi(a[0])
	if err != nil || idx == 0 {
		return nil, fmt.Errorf("index '%s' must be a non-zero integer", a[0])
	}
	delims := a[1]
	if delims == "" {
		return nil, fmt.Errorf("expects at least one delimiter")
	}
	count := 1
	if len(a) == 3 {
		if count, err = strconv.Atoi(a[2]); err != nil || count < 0 {
			return nil, fmt.Errorf("count '%s' must be a non-negative integer", a[2])
		}
	}
	return func(s Sample) (Sample, bool) {
		v := s.String()
		spans := partSpans(v, delims, words)
		n := len(spans)
		var first, last int // the indexes of the first and last part taken
		if idx > 0 {
			first = idx - 1
			last = first + count - 1
			if count == 0 {
				last = n - 1
			}
		} else {
			last = n + idx
			first = last - count + 1
			if count == 0 {
				first = 0
			}
		}
		if idx > 0 && first >= n || idx < 0 && last < 0 {
			return Sample{}, false
		}
		first, last = max(first, 0), min(last, n-1)
		return Str(v[spans[first][0]:spans[last][1]]), true
	}, nil
}

// partSpans returns the [start, end) of each part of v between the
// delimiters: every part for fields (empty ones included), runs of
// non-delimiters for words.
func partSpans(v, delims string, words bool) [][2]int {
	var spans [][2]int
	start := 0
	for i := 0; i <= len(v); i++ {
		if i < len(v) && strings.IndexByte(delims, v[i]) < 0 {
			continue
		}
		if !words || i > start {
			spans = append(spans, [2]int{start, i})
		}
		start = i + 1
	}
	return spans
}

// convMask reads a converter's mask: a bit count up to max, or for IPv4
// a dotted mask without holes.
func convMask(v string, max int) (int, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= max {
		return n, nil
	}
	if a, err := netip.ParseAddr(v); err == nil && a.Is4() && max == 32 {
		if n := maskBits(a.As4()); n >= 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("invalid mask '%s'", v)
}

// jsonEscape escapes v for a JSON string as HAProxy's json converter does
// for ASCII input: quotes, backslashes, slashes and control characters,
// other bytes outside ASCII as \u00XX.
func jsonEscape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '/':
			b.WriteString(`\/`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 32 || c >= 127 {
				fmt.Fprintf(&b, `\u%04x`, c)
				continue
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// urlDecode decodes %XX escapes (and '+' as a space when form is set);
// false for a malformed escape.
func urlDecode(v string, form bool) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '%':
			if i+2 >= len(v) {
				return "", false
			}
			d, err := hex.DecodeString(v[i+1 : i+3])
			if err != nil {
				return "", false
			}
			b.WriteByte(d[0])
			i += 2
		case c == '+' && form:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// splitConverters cuts "fetch(args),conv(args),conv" at its top-level
// commas: the fetch, then each converter.
func splitConverters(expr string) (fetch string, convs []string, err error) {
	depth, start := 0, 0
	var parts []string
	for i := 0; i < len(expr); i++ {
		switch expr[i] {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return "", nil, fmt.Errorf("%w: unbalanced ')' in '%s'", ErrSyntax, expr)
			}
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, expr[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return "", nil, fmt.Errorf("%w: missing closing parenthesis in '%s'", ErrSyntax, expr)
	}
	parts = append(parts, expr[start:])
	return parts[0], parts[1:], nil
}

// compileConverters builds the chain of converters convs after fetch
// f, and the type of what it returns (f's when there are none). A
// converter that cannot take the type declared before it is refused as
// HAProxy refuses it (see checkConvType). The map converters take their
// files' entries from rs.
func compileConverters(convs []string, f Fetch, rs *Refs) (CtxConvFunc, Type, error) {
	var chain []convStep
	t, st := f.Type, fetchSmpType(f)
	for _, c := range convs {
		name, arg, hasArg, err := splitArg(c)
		if err != nil {
			return nil, 0, err
		}
		if _, known := convSmpType(name); known {
			if st, err = checkConvType(name, st); err != nil {
				return nil, 0, err
			}
		}
		if s := rs.getScripts(); strings.HasPrefix(name, ScriptPrefix) && (s != nil || scriptNameKnown(name[len(ScriptPrefix):], true)) {
			fn, ok := CtxConvFunc(func(Context, Sample) (Sample, bool) { return Sample{}, false }), true
			if s != nil {
				fn, ok = s.ScriptConverter(name[len(ScriptPrefix):], scriptArgs(arg))
			}
			if !ok {
				return nil, 0, fmt.Errorf("%w: unknown converter '%s'", ErrSyntax, name)
			}
			chain = append(chain, convStep{ctx: fn})
			t, st = TypeStr, hStr
			continue
		}
		if rc, ok := refConverters[name]; ok {
			if arg == "" {
				return nil, 0, fmt.Errorf("%w: converter '%s' expects arguments in parentheses", ErrSyntax, name)
			}
			fn, err := rc.compile(strings.Split(arg, ","), rs)
			if err != nil {
				return nil, 0, fmt.Errorf("converter '%s': %w", name, err)
			}
			chain = append(chain, convStep{conv: fn})
			t = rc.out
			continue
		}
		cv, ok := converters[name]
		cc, withCtx := ctxConverters[name]
		if withCtx {
			cv, ok = converter{args: cc.args, out: cc.out}, true
		}
		switch {
		case !ok:
			return nil, 0, fmt.Errorf("%w: unknown converter '%s'", ErrSyntax, name)
		case cv.args == ArgNone && hasArg && arg != "":
			return nil, 0, fmt.Errorf("%w: converter '%s' takes no argument", ErrSyntax, name)
		case cv.args == ArgRequired && arg == "":
			return nil, 0, fmt.Errorf("%w: converter '%s' expects arguments in parentheses", ErrSyntax, name)
		}
		var args []string
		if arg != "" {
			args = strings.Split(arg, ",")
		}
		var step convStep
		if withCtx {
			step.ctx, err = cc.compile(args)
		} else {
			step.conv, err = cv.compile(args)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("converter '%s': %w", name, err)
		}
		chain = append(chain, step)
		if cv.out != 0 { // 0: the converter passes its input's type on
			t = cv.out
		}
	}
	if len(chain) == 0 {
		return nil, t, nil
	}
	return func(ctx Context, s Sample) (Sample, bool) {
		for _, st := range chain {
			var ok bool
			if st.ctx != nil {
				s, ok = st.ctx(ctx, s)
			} else {
				s, ok = st.conv(s)
			}
			if !ok {
				return Sample{}, false
			}
		}
		return s, true
	}, t, nil
}

// convStep is one converter of a chain: conv, or ctx for those that
// need the stream.
type convStep struct {
	conv ConvFunc
	ctx  CtxConvFunc
}

// withConverters applies conv (when set) to what fn fetches.
func withConverters(fn FetchFunc, conv CtxConvFunc) FetchFunc {
	if conv == nil {
		return fn
	}
	return func(ctx Context) (Sample, bool) {
		s, ok := fn(ctx)
		if !ok {
			return Sample{}, false
		}
		return conv(ctx, s)
	}
}

// asciiCase shifts the bytes of v between lo and hi by delta.
func asciiCase(v string, lo, hi byte, delta int) string {
	b := []byte(v)
	for i, c := range b {
		if c >= lo && c <= hi {
			b[i] = byte(int(c) + delta)
		}
	}
	return string(b)
}
