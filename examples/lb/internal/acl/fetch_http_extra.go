package acl

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/stick/peers"
)

// More HTTP fetches, as haproxy 2.6 has them: the integer and address
// forms of the header and cookie fetches (hdr_val, hdr_ip, cook_val...),
// their response forms, the header lists (req.hdr_names, req.hdrs,
// req.hdrs_bin), the URL's parameters and parts (urlp, url_ip, pathq,
// baseq), the hashes (base32, url32 and their +src forms), and a few
// single facts (http_first_req, http_auth_type, res.ver, meth, date_us).

// FirstRequestContext is a Context that knows whether its request is the
// first of its connection.
type FirstRequestContext interface {
	FirstRequest() bool
}

// strl2ic reads an integer as haproxy's strl2ic does: an optional '-',
// then characters taken as digits until one above '9', wrapping as a
// 32-bit integer; "" is 0.
func strl2ic(s []byte) int64 {
	var n int32
	if len(s) > 0 && s[0] == '-' {
		for _, c := range s[1:] {
			d := int32(c) - '0'
			if d > 9 {
				break
			}
			n = n*10 - d
		}
		return int64(n)
	}
	for _, c := range s {
		d := int32(c) - '0'
		if d > 9 {
			break
		}
		n = n*10 + d
	}
	return int64(n)
}

// url2ipv4 reads the dotted IPv4 address b starts with, as haproxy's
// url2ipv4: four numbers of at most 255 separated by dots; it returns
// the address and how many bytes it took (0: none).
func url2ipv4(b []byte) (netip.Addr, int) {
	var a [4]byte
	i := 0
	for part := 0; part < 4; part++ {
		if part > 0 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, 0
			}
			i++
		}
		start, v := i, 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if v = v*10 + int(b[i]-'0'); v > 255 {
				return netip.Addr{}, 0
			}
			i++
		}
		if i == start {
			return netip.Addr{}, 0
		}
		a[part] = byte(v)
	}
	return netip.AddrFrom4(a), i
}

// headerIP reads a header value as hdr_ip does: an IPv4 address, alone
// or followed by ':' and a port, or an IPv6 address.
func headerIP(v []byte) (Sample, bool) {
	if a, n := url2ipv4(v); n > 0 {
		if n == len(v) {
			return IP(a), true
		}
		if v[n] == ':' {
			port, ok := 0, n+1 < len(v)
			for _, c := range v[n+1:] {
				if c < '0' || c > '9' {
					ok = false
					break
				}
				if port = port*10 + int(c-'0'); port > 65535 {
					ok = false
					break
				}
			}
			if ok {
				return IP(a), true
			}
		}
	}
	if a, err := netip.ParseAddr(string(v)); err == nil && a.Is6() && a.Zone() == "" {
		return IP(a), true
	}
	return Sample{}, false
}

func headerInt(v []byte) (Sample, bool) { return Int(strl2ic(v)), true }

// headerBytes returns the occ-th value of the header name (the last one
// when occ is 0, counting from the end when negative), as hdr() and its
// kin read it as a sample.
func headerBytes(m *htx.Message, name string, occ int) ([]byte, bool) {
	if occ < 0 {
		n := 0
		eachHeaderValue(m, name, func([]byte) bool { n++; return true })
		if occ = n + 1 + occ; occ <= 0 {
			return nil, false
		}
	}
	var val []byte
	found, i := false, 0
	eachHeaderValue(m, name, func(v []byte) bool {
		i++
		if occ == 0 || i == occ {
			val, found = v, true
		}
		return occ == 0 || i < occ
	})
	return val, found
}

// headerConvFetch registers a header fetch whose value conv turns into
// its sample (a string, an integer, an address): as a sample the last
// value (or the one the occurrence names), in an ACL each value that
// converts.
func headerConvFetch(name string, t Type, msg func(Context) *htx.Message, conv func([]byte) (Sample, bool)) {
	RegisterFetch(Fetch{Name: name, Type: t, Arg: ArgRequired,
		Compile: func(a string) (FetchFunc, error) {
			hname, occ, err := headerArg(a)
			if err != nil {
				return nil, err
			}
			return func(c Context) (Sample, bool) {
				m := msg(c)
				if m == nil {
					return Sample{}, false
				}
				v, ok := headerBytes(m, hname, occ)
				if !ok {
					return Sample{}, false
				}
				return conv(v)
			}, nil
		},
		CompileEach: func(a string) (EachFunc, error) {
			hname, occ, err := headerArg(a)
			if err != nil || occ != 0 {
				return nil, err
			}
			return func(c Context, match func(Sample) bool) bool {
				m := msg(c)
				if m == nil {
					return false
				}
				matched := false
				eachHeaderValue(m, hname, func(v []byte) bool {
					if s, ok := conv(v); ok {
						matched = match(s)
					}
					return !matched
				})
				return matched
			}, nil
		},
	})
}

// msgIntFetch registers an integer fetch on the message msg gives, with
// an optional argument (a header or cookie name).
func msgIntFetch(name string, msg func(Context) *htx.Message, count func(m *htx.Message, arg string) int64) {
	RegisterFetch(Fetch{Name: name, Type: TypeInt, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
		return func(c Context) (Sample, bool) {
			m := msg(c)
			if m == nil {
				return Sample{}, false
			}
			return Int(count(m, a)), true
		}, nil
	}})
}

// countValues counts the comma-separated values of the fields called
// name, of every field for "".
func countValues(m *htx.Message, name string) int64 {
	n := int64(0)
	eachField(m, name, func(v []byte) {
		for rest := v; ; {
			n++
			if _, rest = CutValue(rest); rest == nil {
				break
			}
		}
	})
	return n
}

// countFields counts the fields called name, every field for "".
func countFields(m *htx.Message, name string) int64 {
	n := int64(0)
	eachField(m, name, func([]byte) { n++ })
	return n
}

// fullFieldFetch registers req.fhdr's kind under name, on the message
// msg gives: the occ-th field's whole value, commas and all.
func fullFieldFetch(name string, msg func(Context) *htx.Message) {
	RegisterFetch(Fetch{Name: name, Type: TypeStr, Arg: ArgRequired, Compile: func(a string) (FetchFunc, error) {
		hname, occ, err := headerArg(a)
		if err != nil {
			return nil, err
		}
		return func(c Context) (Sample, bool) {
			m := msg(c)
			if m == nil {
				return Sample{}, false
			}
			v, ok := fullField(m, hname, occ)
			return Str(string(v)), ok
		}, nil
	}})
}

// fullField returns the whole value of the occ-th field called name
// (the last for 0, counted from the end when negative).
func fullField(m *htx.Message, name string, occ int) ([]byte, bool) {
	n := 0
	eachField(m, name, func([]byte) { n++ })
	switch {
	case occ == 0:
		occ = n
	case occ < 0:
		occ = n + 1 + occ
	}
	if occ <= 0 || occ > n {
		return nil, false
	}
	var val []byte
	i := 0
	eachField(m, name, func(v []byte) {
		if i++; i == occ {
			val = v
		}
	})
	return val, true
}

// setCookies calls fn with the value of the cookie each Set-Cookie field
// of m sets (its first name=value pair) when its name is name, or any
// for "", until fn returns false.
func setCookies(m *htx.Message, name string, fn func(v []byte) bool) {
	for i := 0; i < m.NumFields(); i++ {
		n, v := m.Field(i)
		if !htx.EqualFold(n, "set-cookie") || len(v) < len(name)+1 {
			continue
		}
		// Named, the cookie is the field's first pair; unnamed, every
		// pair of it counts, its attributes too, as haproxy reads them.
		more := true
		CookiePairs(v, func(_, k, cv []byte) bool {
			if k != nil && (name == "" || string(k) == name) {
				more = fn(cv)
			}
			return more && name == ""
		})
		if !more {
			return
		}
	}
}

// cookieValue is the cookie a sample reads: the last of that name, or
// the first of any name for "".
func cookieValue(each func(m *htx.Message, name string, fn func([]byte) bool), m *htx.Message, name string) ([]byte, bool) {
	var val []byte
	found := false
	each(m, name, func(v []byte) bool {
		val, found = v, true
		return name != ""
	})
	return val, found
}

func requestCookies(m *htx.Message, name string, fn func([]byte) bool) { eachCookie(m, name, fn) }

// urlParam finds the value of the URL parameter name (the first one for
// "") in the query, which starts after the first delim ('?' for 0) of
// uri, as haproxy's url_param: parameters end at '&', ';' or delim, and
// without a name the value starts after the first '=' at all.
func urlParam(uri []byte, name string, delim byte) (val []byte, found bool) {
	eachURLParam(uri, name, delim, func(v []byte) bool { val, found = v, true; return false })
	return val, found
}

// eachURLParam calls fn with each value urlParam would find, the next
// one searched after the last, until fn returns false.
func eachURLParam(uri []byte, name string, delim byte, fn func(v []byte) bool) {
	if delim == 0 {
		delim = '?'
	}
	i := 0
	for i < len(uri) && uri[i] != delim {
		i++
	}
	if i >= len(uri) {
		return
	}
	q := uri[i+1:]
	isDelim := func(c byte) bool { return c == '&' || c == ';' || c == delim }
	// value returns the value starting at q[from] and where it ends.
	value := func(from int) ([]byte, int) {
		to := from
		for to < len(q) && !isDelim(q[to]) {
			to++
		}
		return q[from:to], to
	}
	for pos := 0; pos < len(q); {
		var from int
		if name == "" {
			eq := -1
			for j := pos; j < len(q); j++ {
				if q[j] == '=' {
					eq = j
					break
				}
			}
			if eq < 0 {
				return
			}
			from = eq + 1
		} else {
			for {
				if pos+len(name) >= len(q) {
					return
				}
				if q[pos+len(name)] == '=' && string(q[pos:pos+len(name)]) == name {
					break
				}
				for pos < len(q) && !isDelim(q[pos]) {
					pos++
				}
				pos++
			}
			from = pos + len(name) + 1
		}
		v, end := value(from)
		if !fn(v) {
			return
		}
		pos = end
		if name != "" {
			pos++ // past the delimiter, to the next parameter
		}
	}
}

// urlParamArgs splits urlp's argument "[NAME[,DELIM]]".
func urlParamArgs(a string) (name string, delim byte) {
	name, d, _ := strings.Cut(a, ",")
	if d != "" {
		delim = d[0]
	}
	return name, delim
}

// absoluteAddr is the IPv4 address and port of an absolute-form
// request target whose host is one, as url_ip and url_port read it
// (port 80 for http, 443 for https when none is written).
func absoluteAddr(m *htx.Message) (netip.Addr, int, bool) {
	// haproxy writes an HTTP/2 request's target in absolute form.
	if m.Form != htx.FormAbsolute && !(m.Version == htx.Version20 && len(m.Scheme()) > 0) {
		return netip.Addr{}, 0, false
	}
	port := 0
	switch strings.ToLower(string(m.Scheme())) {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		return netip.Addr{}, 0, false
	}
	auth := m.Authority()
	a, n := url2ipv4(auth)
	if n == 0 {
		return netip.Addr{}, 0, false
	}
	if n < len(auth) {
		if auth[n] != ':' || n+1 == len(auth) {
			return netip.Addr{}, 0, false
		}
		port = 0
		for _, c := range auth[n+1:] {
			if c < '0' || c > '9' {
				return netip.Addr{}, 0, false
			}
			port = port*10 + int(c-'0')
		}
	}
	return a, port, true
}

// hostField is the request's Host field, or for an HTTP/2 request
// without one its :authority, which haproxy turns into a Host field.
func hostField(m *htx.Message) ([]byte, bool) {
	if v, ok := m.Get("host"); ok {
		return v, true
	}
	if m.Version == htx.Version20 && len(m.Authority()) > 0 {
		return m.Authority(), true
	}
	return nil, false
}

// h2Host tells an HTTP/2 request whose :authority haproxy lists as its
// first field, "host", for the header lists.
func h2Host(m *htx.Message) bool {
	if m.Version != htx.Version20 || !m.IsRequest() || len(m.Authority()) == 0 {
		return false
	}
	_, ok := m.Get("host")
	return !ok
}

// slashPath is the request's path with its query when it starts with
// '/' (nil for "*" and CONNECT's authority).
func slashPath(m *htx.Message) []byte {
	p := m.Path()
	if len(p) == 0 || p[0] != '/' {
		return nil
	}
	return p
}

// SDBMStep adds b to the sdbm hash h (0 to start), HAProxy's default
// hash function, which its base32 and url32 fetches and its hash-based
// balancing use.
func SDBMStep(h uint32, b []byte) uint32 {
	for _, c := range b {
		h = uint32(c) + (h << 6) + (h << 16) - h
	}
	return h
}

// FullHash is HAProxy's full_hash, Bob Jenkins' 32-bit integer hash
// spread over the 32-bit ring, which its consistent hashing and
// hash-type avalanche apply to keys.
func FullHash(a uint32) uint32 {
	a = (a + 0x7ed55d16) + (a << 12)
	a = (a ^ 0xc761c23c) ^ (a >> 19)
	a = (a + 0x165667b1) + (a << 5)
	a = (a + 0xd3a2646c) ^ (a << 9)
	a = (a + 0xfd7046c5) + (a << 3)
	a = (a ^ 0xb55a4f09) ^ (a >> 16)
	return a * 3221225473
}

// base32 hashes the Host field's first value and the path up to its
// query; url32 the whole first Host field and the path with its query.
func base32(m *htx.Message, whole bool) uint32 {
	var h uint32
	if host, ok := hostField(m); ok {
		if !whole {
			host, _ = CutValue(host)
		}
		h = SDBMStep(h, host)
	}
	if p := slashPath(m); p != nil {
		if !whole {
			p = m.PathOnly()
		}
		h = SDBMStep(h, p)
	}
	return FullHash(h)
}

// withSrc is a hash followed by the client's address, 4 or 16 bytes, as
// base32+src and url32+src give it.
func withSrc(h uint32, src netip.Addr) (Sample, bool) {
	if !src.IsValid() {
		return Sample{}, false
	}
	src = src.Unmap()
	b := make([]byte, 4, 20)
	binary.BigEndian.PutUint32(b, h)
	b = append(b, src.AsSlice()...)
	return Str(string(b)), true
}

// lowerName appends a field name in lower case, as haproxy keeps them.
func lowerName(b, name []byte) []byte {
	for _, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// bearer returns the token of a "Bearer TOKEN" value.
func bearer(v []byte) ([]byte, bool) {
	sp := -1
	for i, c := range v {
		if c == ' ' {
			sp = i
			break
		}
	}
	if sp <= 0 || !strings.EqualFold(string(v[:sp]), "bearer") {
		return nil, false
	}
	tok := v[sp+1:]
	for len(tok) > 0 && (tok[0] == ' ' || tok[0] == '\t') {
		tok = tok[1:]
	}
	return tok, true
}

// authType is the scheme of the request's Authorization field when
// haproxy reads it: a scheme of which "Basic" starts with, case ignored,
// with good credentials, or "Bearer".
func authType(m *htx.Message) (string, bool) {
	v, ok := m.Get("authorization")
	if !ok {
		return "", false
	}
	sp := -1
	for i, c := range v {
		if c == ' ' {
			sp = i
			break
		}
	}
	if sp <= 0 {
		return "", false
	}
	scheme := string(v[:sp])
	switch {
	case len(scheme) <= len("Basic") && strings.EqualFold(scheme, "Basic"[:len(scheme)]):
		if _, _, ok := decodeBasic(v[sp+1:]); ok {
			return "Basic", true
		}
		return "", false
	case len(scheme) <= len("Bearer") && strings.EqualFold(scheme, "Bearer"[:len(scheme)]):
		return "Bearer", true
	}
	return "", false
}

func init() {
	for _, f := range []struct {
		name string
		msg  func(Context) *htx.Message
	}{{"hdr", request}, {"req.hdr", request}, {"res.hdr", response}, {"shdr", response}} {
		headerConvFetch(f.name+"_val", TypeInt, f.msg, headerInt)
		headerConvFetch(f.name+"_ip", TypeIP, f.msg, headerIP)
	}
	for _, name := range []string{"res.hdr_cnt", "shdr_cnt"} {
		msgIntFetch(name, response, countValues)
	}
	msgIntFetch("res.fhdr_cnt", response, countFields)
	fullFieldFetch("res.fhdr", response)

	// The cookies' integer values, and the response's cookie counts.
	cookieVal := func(name string, msg func(Context) *htx.Message, each func(*htx.Message, string, func([]byte) bool)) {
		RegisterFetch(Fetch{Name: name, Type: TypeInt, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
			return func(c Context) (Sample, bool) {
				m := msg(c)
				if m == nil {
					return Sample{}, false
				}
				v, ok := cookieValue(each, m, a)
				if !ok {
					return Sample{}, false
				}
				return Int(strl2ic(v)), true
			}, nil
		}, CompileEach: func(a string) (EachFunc, error) {
			return func(c Context, match func(Sample) bool) bool {
				m := msg(c)
				if m == nil {
					return false
				}
				matched := false
				each(m, a, func(v []byte) bool { matched = match(Int(strl2ic(v))); return !matched })
				return matched
			}, nil
		}})
	}
	cookieVal("cook_val", request, requestCookies)
	cookieVal("req.cook_val", request, requestCookies)
	cookieVal("res.cook_val", response, setCookies)
	cookieVal("scook_val", response, setCookies)
	for _, name := range []string{"res.cook_cnt", "scook_cnt"} {
		msgIntFetch(name, response, func(m *htx.Message, a string) int64 {
			n := int64(0)
			setCookies(m, a, func([]byte) bool { n++; return true })
			return n
		})
	}

	// The header lists.
	names := func(name string, msg func(Context) *htx.Message) {
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
			delim := byte(',')
			if a != "" {
				delim = a[0]
			}
			return func(c Context) (Sample, bool) {
				m := msg(c)
				if m == nil {
					return Sample{}, false
				}
				var b []byte
				first := true
				if h2Host(m) {
					b, first = append(b, "host"...), false
				}
				for i := 0; i < m.NumFields(); i++ {
					n, v := m.Field(i)
					if dropped(n, v) {
						continue
					}
					if !first {
						b = append(b, delim)
					}
					first = false
					b = lowerName(b, n)
				}
				return Str(string(b)), true
			}, nil
		}})
	}
	names("req.hdr_names", request)
	names("res.hdr_names", response)
	block := func(name string, msg func(Context) *htx.Message, bin bool) {
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Match: MatchRequired, Compile: noArg(func(c Context) (Sample, bool) {
			m := msg(c)
			if m == nil {
				return Sample{}, false
			}
			var b []byte
			if h2Host(m) {
				if a := m.Authority(); bin {
					b = append(peers.AppendVarint(b, 4), "host"...)
					b = append(peers.AppendVarint(b, uint64(len(a))), a...)
				} else {
					b = append(append(append(b, "host: "...), a...), "\r\n"...)
				}
			}
			for i := 0; i < m.NumFields(); i++ {
				n, v := m.Field(i)
				if dropped(n, v) {
					continue
				}
				if bin {
					b = peers.AppendVarint(b, uint64(len(n)))
					b = lowerName(b, n)
					b = peers.AppendVarint(b, uint64(len(v)))
					b = append(b, v...)
					continue
				}
				b = lowerName(b, n)
				b = append(b, ": "...)
				b = append(b, v...)
				b = append(b, "\r\n"...)
			}
			if bin {
				b = append(b, 0, 0)
			} else {
				b = append(b, "\r\n"...)
			}
			return Str(string(b)), true
		})})
	}
	block("req.hdrs", request, false)
	block("req.hdrs_bin", request, true)
	block("res.hdrs", response, false)
	block("res.hdrs_bin", response, true)

	// The URL's parameters and parts.
	for _, name := range []string{"url_param", "urlp", "urlp_val"} {
		asInt := name == "urlp_val"
		t := TypeStr
		if asInt {
			t = TypeInt
		}
		RegisterFetch(Fetch{Name: name, Type: t, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
			pname, delim := urlParamArgs(a)
			return func(c Context) (Sample, bool) {
				m := request(c)
				if m == nil {
					return Sample{}, false
				}
				v, ok := urlParam(m.Path(), pname, delim)
				if !ok {
					return Sample{}, false
				}
				if asInt {
					return Int(strl2ic(v)), true
				}
				return Str(string(v)), true
			}, nil
		}, CompileEach: func(a string) (EachFunc, error) {
			pname, delim := urlParamArgs(a)
			return func(c Context, match func(Sample) bool) bool {
				m := request(c)
				if m == nil {
					return false
				}
				matched := false
				eachURLParam(m.Path(), pname, delim, func(v []byte) bool {
					if asInt {
						matched = match(Int(strl2ic(v)))
					} else {
						matched = match(Str(string(v)))
					}
					return !matched
				})
				return matched
			}, nil
		}})
	}
	RegisterFetch(Fetch{Name: "url_ip", Type: TypeIP, Compile: noArg(func(c Context) (Sample, bool) {
		m := request(c)
		if m == nil {
			return Sample{}, false
		}
		a, _, ok := absoluteAddr(m)
		return IP(a), ok
	})})
	RegisterFetch(Fetch{Name: "url_port", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		m := request(c)
		if m == nil {
			return Sample{}, false
		}
		_, port, ok := absoluteAddr(m)
		return Int(int64(port)), ok
	})})
	httpFetch("pathq", ArgNone, func(m *htx.Message, _ string) (string, bool) {
		p := slashPath(m)
		return string(p), p != nil
	})
	httpFetch("baseq", ArgNone, func(m *htx.Message, _ string) (string, bool) {
		host, ok := hostField(m)
		if ok {
			host, _ = CutValue(host)
		}
		p := slashPath(m)
		if len(host) == 0 {
			return string(p), p != nil
		}
		return string(host) + string(p), true
	})
	hash := func(name string, whole bool) {
		RegisterFetch(Fetch{Name: name, Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
			m := request(c)
			if m == nil {
				return Sample{}, false
			}
			return Int(int64(base32(m, whole))), true
		})})
		RegisterFetch(Fetch{Name: name + "+src", Type: TypeStr, Match: MatchRequired, Compile: noArg(func(c Context) (Sample, bool) {
			m := request(c)
			if m == nil {
				return Sample{}, false
			}
			return withSrc(base32(m, whole), c.Src().Addr())
		})})
	}
	hash("base32", false)
	hash("url32", true)

	// Single facts of the request and the response.
	RegisterFetch(Fetch{Name: "http_first_req", Type: TypeBool, Compile: noArg(func(c Context) (Sample, bool) {
		f, ok := c.(FirstRequestContext)
		if !ok || request(c) == nil {
			return Sample{}, false
		}
		return Bool(f.FirstRequest()), true
	})})
	httpFetch("http_auth_type", ArgNone, func(m *htx.Message, _ string) (string, bool) { return authType(m) })
	httpFetch("http_auth_bearer", ArgOptional, func(m *htx.Message, a string) (string, bool) {
		if a == "" {
			a = "authorization"
		}
		v, ok := m.Get(a)
		if !ok {
			return "", false
		}
		tok, ok := bearer(v)
		return string(tok), ok
	})
	for _, name := range []string{"req.proto_http", "req_proto_http"} {
		RegisterFetch(Fetch{Name: name, Type: TypeBool, Compile: noArg(func(c Context) (Sample, bool) {
			if request(c) != nil {
				return Bool(true), true
			}
			cc, ok := c.(ContentContext)
			if !ok {
				return Sample{}, false
			}
			b, final := cc.Payload()
			switch h1Request(b) {
			case 1:
				return Bool(true), true
			case 0:
				if !final {
					cc.MayChange()
				}
			}
			return Sample{}, false
		})})
	}
	for _, name := range []string{"res.ver", "resp_ver"} {
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
			m := response(c)
			if m == nil {
				return Sample{}, false
			}
			return Str(versionText(m)), true
		})})
	}
	RegisterFetch(Fetch{Name: "capture.res.ver", Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
		m := response(c)
		if m == nil {
			return Sample{}, false
		}
		if m.Version == htx.Version10 {
			return Str("HTTP/1.0"), true
		}
		return Str("HTTP/1.1"), true
	})})
	RegisterFetch(Fetch{Name: "meth", Type: TypeStr, Arg: ArgRequired, Compile: func(a string) (FetchFunc, error) {
		if a == "" {
			return nil, fmt.Errorf("%w: missing method", ErrSyntax)
		}
		return func(Context) (Sample, bool) { return Str(a), true }, nil
	}})
	RegisterFetch(Fetch{Name: "date_us", Type: TypeInt, Compile: noArg(func(Context) (Sample, bool) {
		return Int(int64(time.Now().Nanosecond() / 1000)), true
	})})

	for _, name := range []string{
		"hdr_val", "req.hdr_val", "hdr_ip", "req.hdr_ip", "cook_val", "req.cook_val",
		"req.hdr_names", "req.hdrs", "req.hdrs_bin", "urlp", "urlp_val", "url_ip", "url_port",
		"pathq", "baseq", "base32", "base32+src", "url32", "url32+src", "http_auth_type", "http_auth_bearer",
	} {
		contentFetches[name] = true
	}
	for _, name := range []string{
		"res.hdr_val", "shdr_val", "res.hdr_ip", "shdr_ip", "res.hdr_cnt", "shdr_cnt", "res.fhdr", "res.fhdr_cnt",
		"res.cook_val", "scook_val", "res.cook_cnt", "scook_cnt", "res.hdr_names", "res.hdrs", "res.hdrs_bin",
		"res.ver", "resp_ver",
	} {
		contentFetches[name] = true
		responseFetches[name] = true
	}
}

// h1Request tells whether b starts with a whole HTTP/1 request head (1),
// may still become one (0), or cannot (-1), for req.proto_http in TCP
// mode.
func h1Request(b []byte) int {
	line, _, complete := strings.Cut(string(b), "\r\n")
	if !complete {
		if len(b) > 0 && !isToken(b[0]) {
			return -1
		}
		return 0
	}
	parts := strings.Split(line, " ")
	switch {
	case len(parts) == 2 && parts[0] == "GET" && parts[1] != "":
		// HTTP/0.9, which haproxy takes as HTTP/1.0.
	case len(parts) != 3 || parts[0] == "" || parts[1] == "" || !strings.HasPrefix(parts[2], "HTTP/"):
		return -1
	}
	for i := 0; i < len(parts[0]); i++ {
		if !isToken(parts[0][i]) {
			return -1
		}
	}
	if !strings.Contains(string(b), "\r\n\r\n") {
		return 0
	}
	return 1
}

func isToken(c byte) bool {
	return c > ' ' && c < 0x7f && !strings.ContainsRune("()<>@,;:\\\"/[]?={}", rune(c))
}

// responseFetches are the content fetches that read the response, which
// response rules may use (requestOnly).
var responseFetches = map[string]bool{}

// decodeBasic reads basic credentials, "user:password" in base64.
func decodeBasic(b []byte) (user, password string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		return "", "", false
	}
	u, p, found := strings.Cut(string(raw), ":")
	return u, p, found
}

// dropped tells a Connection field that says only close or keep-alive,
// which haproxy's HTTP/1 parsing takes out of the message it keeps.
func dropped(name, value []byte) bool {
	if !htx.EqualFold(name, "connection") {
		return false
	}
	for rest := value; rest != nil; {
		var tok []byte
		tok, rest = CutValue(rest)
		if len(tok) > 0 && !htx.EqualFold(tok, "close") && !htx.EqualFold(tok, "keep-alive") {
			return false
		}
	}
	return true
}

// CompressionContext is a Context that knows whether the response is
// compressed, and by which algorithm.
type CompressionContext interface {
	ResponseCompression() (algo string, ok bool)
}

func init() {
	// res.comp: whether the response is compressed; res.comp_algo: by
	// which algorithm, no sample when it is not.
	RegisterFetch(Fetch{Name: "res.comp", Type: TypeBool, Compile: noArg(func(c Context) (Sample, bool) {
		cc, ok := c.(CompressionContext)
		if !ok || response(c) == nil {
			return Sample{}, false
		}
		_, on := cc.ResponseCompression()
		return Bool(on), true
	})})
	RegisterFetch(Fetch{Name: "res.comp_algo", Type: TypeStr, Compile: noArg(func(c Context) (Sample, bool) {
		cc, ok := c.(CompressionContext)
		if !ok {
			return Sample{}, false
		}
		algo, on := cc.ResponseCompression()
		return Str(algo), on
	})})
}
