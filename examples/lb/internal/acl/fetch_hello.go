package acl

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// The ClientHello fetches of "tcp-request content" rules beyond
// req.ssl_sni and req.ssl_hello_type (fetch_content.go): req.ssl_ver,
// req.ssl_alpn, req.ssl_ec_ext and req.ssl_st_ext, read from the bytes a
// TCP-mode client sent first, with HAProxy's checks: too few bytes make a
// rule wait for more while more may come; anything else that is not a
// TLS ClientHello gives no sample.

func init() {
	// They read the request's bytes, which a log line comes too late for:
	// HAProxy refuses them in a log-format.
	for _, name := range []string{"req.ssl_ver", "req_ssl_ver", "req.ssl_alpn", "req.ssl_ec_ext", "req.ssl_st_ext"} {
		contentFetches[name] = true
	}
	content := func(names []string, t Type, fn func(b []byte) (Sample, int)) {
		for _, name := range names {
			RegisterFetch(Fetch{Name: name, Type: t, Compile: noArg(func(c Context) (Sample, bool) {
				cc, ok := c.(ContentContext)
				if !ok {
					return Sample{}, false
				}
				b, final := cc.Payload()
				if b == nil {
					return Sample{}, false
				}
				smp, st := fn(b)
				if st == helloShort && !final {
					cc.MayChange()
				}
				return smp, st == helloWhole
			})})
		}
	}
	content([]string{"req.ssl_ver", "req_ssl_ver"}, TypeInt, helloVersion)
	// An ACL on req.ssl_ver reads dotted versions ("3.1", "lt 3.3",
	// "3.0:3.2"), as HAProxy's.
	for _, name := range []string{"req.ssl_ver", "req_ssl_ver"} {
		f := registry.fetches[name]
		f.Match = dottedVer
		registry.fetches[name] = f
	}
	RegisterMatch(Matcher{Name: dottedVer, Compile: compileDottedVer})
	// req.ssl_ec_ext: true when the hello carries the supported groups
	// (elliptic curves) extension; no sample when it does not, as in
	// HAProxy.
	content([]string{"req.ssl_ec_ext"}, TypeBool, func(b []byte) (Sample, int) {
		exts, st := helloExtensions(b)
		if st != helloWhole {
			return Sample{}, st
		}
		if _, found, ok := findExtension(exts, 10); !ok || !found {
			return Sample{}, helloNone
		}
		return Bool(true), helloWhole
	})
	// req.ssl_st_ext: 0 without the session ticket extension, 1 with an
	// empty one, 2 with a ticket.
	content([]string{"req.ssl_st_ext"}, TypeInt, func(b []byte) (Sample, int) {
		exts, st := helloExtensions(b)
		if st != helloWhole {
			return Sample{}, st
		}
		data, found, ok := findExtension(exts, 35)
		switch {
		case !ok:
			return Sample{}, helloNone
		case !found:
			return Int(0), helloWhole
		case len(data) > 0:
			return Int(2), helloWhole
		}
		return Int(1), helloWhole
	})
	// req.ssl_alpn: the first protocol the client offers; an ACL tries
	// each, as HAProxy's iterates over them.
	RegisterFetch(Fetch{
		Name: "req.ssl_alpn", Type: TypeStr,
		Compile: noArg(func(c Context) (Sample, bool) {
			var first string
			st := helloALPNIn(c, func(name []byte) bool { first = string(name); return false })
			return Str(first), st == helloWhole
		}),
		CompileEach: func(string) (EachFunc, error) {
			return func(c Context, match func(Sample) bool) bool {
				matched := false
				helloALPNIn(c, func(name []byte) bool {
					matched = match(Str(string(name)))
					return !matched
				})
				return matched
			}, nil
		},
	})
}

// helloVersion returns the version a ClientHello asks for (its
// client_version, not the record's), as major<<16|minor, from an SSLv3
// or later record, or from an SSLv2 hello, once the whole message is in.
func helloVersion(b []byte) (Sample, int) {
	if len(b) == 0 {
		return Sample{}, helloShort
	}
	var version, msgLen int
	if (b[0] >= 0x14 && b[0] <= 0x17) || b[0] == 0xff {
		if len(b) < 11 {
			return Sample{}, helloShort
		}
		msgLen = int(binary.BigEndian.Uint16(b[3:5]))
		if int(b[1])<<16|int(b[2]) < 0x30000 || msgLen < 6 || msgLen > 1<<14+2048 {
			return Sample{}, helloNone
		}
		version = int(b[9])<<16 | int(b[10])
		b = b[5:]
	} else {
		// SSLv2: a 2-byte (high bit set) or 3-byte header, then a
		// CLIENT-HELLO.
		var rlen, plen int
		if b[0]&0x80 != 0 {
			if len(b) < 3 {
				return Sample{}, helloShort
			}
			rlen = int(b[0]&0x7f)<<8 | int(b[1])
			b = b[2:]
		} else {
			if len(b) < 4 {
				return Sample{}, helloShort
			}
			rlen, plen = int(b[0]&0x3f)<<8|int(b[1]), int(b[2])
			b = b[3:]
		}
		if b[0] != 1 {
			return Sample{}, helloNone
		}
		b = b[1:]
		if len(b) < 8 {
			return Sample{}, helloShort
		}
		version = int(b[0])<<16 | int(b[1])
		cilen := int(binary.BigEndian.Uint16(b[2:]))
		silen := int(binary.BigEndian.Uint16(b[4:]))
		chlen := int(binary.BigEndian.Uint16(b[6:]))
		b = b[8:]
		if cilen%3 != 0 || (silen != 0 && silen != 16) || chlen < 16 || chlen > 32 || rlen != 9+cilen+silen+chlen {
			return Sample{}, helloNone
		}
		msgLen = cilen + silen + chlen + plen
	}
	if len(b) < msgLen {
		return Sample{}, helloShort
	}
	return Int(int64(version)), helloWhole
}

// helloExtensions returns the extensions block of the TLS ClientHello
// that starts b, checked as HAProxy's ClientHello fetches check it: an
// SSLv3 or later handshake record long enough to hold extensions, a
// TLS 1.0 or later hello, in whole.
func helloExtensions(b []byte) ([]byte, int) {
	switch {
	case len(b) < 1:
		return nil, helloShort
	case b[0] != 0x16:
		return nil, helloNone
	case len(b) < 3:
		return nil, helloShort
	case b[1] < 3:
		return nil, helloNone
	case len(b) < 5:
		return nil, helloShort
	case int(binary.BigEndian.Uint16(b[3:5])) < 1+3+2+32+1+2+2+1+1+2+2:
		return nil, helloNone
	}
	b = b[5:]
	switch {
	case len(b) < 1:
		return nil, helloShort
	case b[0] != 1:
		return nil, helloNone
	case len(b) < 4:
		return nil, helloShort
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n < 2+32+1+2+2+1+1+2+2 {
		return nil, helloNone
	}
	if len(b) < 4+n {
		return nil, helloShort
	}
	p := b[4 : 4+n]
	if p[0] < 3 || p[1] < 1 {
		return nil, helloNone
	}
	sid := int(p[34])
	if sid > 32 || sid > n-35 {
		return nil, helloNone
	}
	p = p[35+sid:]
	if len(p) < 4 {
		return nil, helloNone
	}
	if l := int(binary.BigEndian.Uint16(p)); l < 2 || l > len(p) {
		return nil, helloNone
	} else {
		p = p[min(2+l, len(p)):]
	}
	if len(p) < 2 || p[0] < 1 || int(p[0]) > len(p) {
		return nil, helloNone
	}
	p = p[min(1+int(p[0]), len(p)):]
	if len(p) < 2 {
		return nil, helloNone
	}
	l := int(binary.BigEndian.Uint16(p))
	if l > len(p)-2 {
		return nil, helloNone
	}
	return p[2 : 2+l], helloWhole
}

// findExtension returns the data of the first extension of type typ in
// an extensions block; ok is false when the block is malformed before
// it is found.
func findExtension(exts []byte, typ uint16) (data []byte, found, ok bool) {
	for len(exts) >= 4 {
		t := binary.BigEndian.Uint16(exts)
		n := int(binary.BigEndian.Uint16(exts[2:]))
		if n > len(exts)-4 {
			return nil, false, false
		}
		if t == typ {
			return exts[4 : 4+n], true, true
		}
		exts = exts[4+n:]
	}
	return nil, false, true
}

// helloALPNIn runs helloALPN on the bytes a ContentContext holds,
// noting that a rule may wait for more when too few came.
func helloALPNIn(c Context, yield func(name []byte) bool) int {
	cc, ok := c.(ContentContext)
	if !ok {
		return helloNone
	}
	b, final := cc.Payload()
	if b == nil {
		return helloNone
	}
	st := helloALPN(b, yield)
	if st == helloShort && !final {
		cc.MayChange()
	}
	return st
}

// helloALPN calls yield with each protocol name the ClientHello's ALPN
// extension offers, until it returns false, and reports whether b held a
// hello with one (helloWhole).
func helloALPN(b []byte, yield func(name []byte) bool) int {
	exts, st := helloExtensions(b)
	if st != helloWhole {
		return st
	}
	data, found, ok := findExtension(exts, 16)
	if !ok || !found || len(data) < 3 {
		return helloNone
	}
	// The names follow the list's length, which HAProxy does not read:
	// each must fit in the extension.
	for off := 2; off < len(data); {
		n := int(data[off])
		if off+1+n > len(data) {
			return helloNone
		}
		if !yield(data[off+1 : off+1+n]) {
			break
		}
		off += 1 + n
	}
	return helloWhole
}

// dottedVer is the match method of req.ssl_ver's ACLs.
const dottedVer = "dotted_ver"

// compileDottedVer is the int match method over "MAJOR[.MINOR]" patterns,
// each MAJOR<<16|MINOR: single values, operators, and ranges with ':' or
// '-'.
func compileDottedVer(p []string, o MatchOptions) (func(Sample) bool, error) {
	words := make([]string, 0, len(p))
	for _, w := range p {
		switch w {
		case "eq", "ge", "gt", "le", "lt":
			words = append(words, w)
			continue
		}
		i := strings.IndexAny(w, ":-")
		if i < 0 {
			n, err := dotted(w, w)
			if err != nil {
				return nil, err
			}
			words = append(words, strconv.FormatInt(n, 10))
			continue
		}
		var lo, hi string
		if w[:i] != "" {
			n, err := dotted(w[:i], w)
			if err != nil {
				return nil, err
			}
			lo = strconv.FormatInt(n, 10)
		}
		if w[i+1:] != "" {
			n, err := dotted(w[i+1:], w)
			if err != nil {
				return nil, err
			}
			hi = strconv.FormatInt(n, 10)
		}
		words = append(words, lo+":"+hi)
	}
	return compileInt(words, o)
}

// dotted reads "MAJOR[.MINOR]", each below 65536, as MAJOR<<16|MINOR.
func dotted(s, w string) (int64, error) {
	maj, mnr, hasMinor := strings.Cut(s, ".")
	a, err := strconv.ParseUint(maj, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: '%s' is not a dotted number", ErrBadPattern, w)
	}
	if a > 0xffff {
		return 0, fmt.Errorf("%w: '%s' contains too large a major value", ErrBadPattern, w)
	}
	var b uint64
	if hasMinor {
		if b, err = strconv.ParseUint(mnr, 10, 64); err != nil {
			return 0, fmt.Errorf("%w: '%s' is not a dotted number", ErrBadPattern, w)
		}
		if b > 0xffff {
			return 0, fmt.Errorf("%w: '%s' contains too large a minor value", ErrBadPattern, w)
		}
	}
	return int64(a<<16 | b), nil
}
