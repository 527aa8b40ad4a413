package acl

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// HTTP fetches and the string match methods, as HAProxy names them:
// path, method, hdr(NAME), req.hdr(NAME), url_param(NAME), ssl_fc,
// ssl_fc_sni, the match methods beg, end, sub and reg, and the derived
// keywords (path_beg is "path -m beg", hdr_end(host) is "hdr(host) -m
// end").

// HTTPContext is a Context carrying an HTTP request, which the HTTP
// fetches read. In another Context they find no sample.
type HTTPContext interface {
	Context
	HTTPRequest() *htx.Message
}

// HTTPResponseContext is a Context that may carry the server's response
// (while http-response rules run), which the status fetch reads; a nil
// response means none yet.
type HTTPResponseContext interface {
	Context
	HTTPResponse() *htx.Message
}

// TLSContext is a Context that knows the client connection's TLS state,
// for ssl_fc and ssl_fc_sni.
type TLSContext interface {
	Context
	TLSInfo() xprt.Info
}

func httpFetch(name string, arg ArgMode, get func(m *htx.Message, arg string) (string, bool)) {
	RegisterFetch(Fetch{Name: name, Type: TypeStr, Arg: arg, Compile: func(a string) (FetchFunc, error) {
		return func(c Context) (Sample, bool) {
			h, ok := c.(HTTPContext)
			if !ok || h.HTTPRequest() == nil {
				return Sample{}, false
			}
			v, ok := get(h.HTTPRequest(), a)
			if !ok {
				return Sample{}, false
			}
			return Str(v), true
		}, nil
	}})
}

// headerArg splits hdr()'s argument "NAME[,OCC]": OCC counts values
// from the first (1) or, negative, from the last (-1); 0, as haproxy
// reads it, is the same as none.
func headerArg(arg string) (name string, occ int, err error) {
	name, o, found := strings.Cut(arg, ",")
	name = strings.TrimSpace(name)
	if name == "" {
		return "", 0, fmt.Errorf("%w: missing header name in '%s'", ErrSyntax, arg)
	}
	if !found {
		return name, 0, nil
	}
	occ, err = strconv.Atoi(strings.TrimSpace(o))
	if err != nil {
		return "", 0, fmt.Errorf("%w: header occurrence '%s' is not an integer", ErrSyntax, o)
	}
	return name, occ, nil
}

// eachHeaderValue calls fn with each value of the header name, in
// order, each comma-separated value counting as one, as HAProxy's hdr()
// reads them; it stops when fn returns false.
func eachHeaderValue(m *htx.Message, name string, fn func(v []byte) bool) {
	more := true
	m.Values(name, func(v []byte) bool {
		for more {
			var val []byte
			val, v = CutValue(v)
			more = fn(val)
			if v == nil {
				break
			}
		}
		return more
	})
}

// CutValue splits a field value at its first comma outside a quoted
// string, as HTTP lists are written: the first value, trimmed of
// spaces, and the rest after the comma (nil when there is no comma).
func CutValue(v []byte) (first, rest []byte) {
	quoted := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted:
			i++
		case c == ',' && !quoted:
			return htx.TrimOWS(v[:i]), v[i+1:]
		}
	}
	return htx.TrimOWS(v), nil
}

// headerFetch registers hdr() under name, reading the message msg
// returns (nil: no sample): as a sample the last value (or the one its
// occurrence names), in an ACL every value.
func headerFetch(name string, msg func(Context) *htx.Message) {
	headerConvFetch(name, TypeStr, msg, func(v []byte) (Sample, bool) { return Str(string(v)), true })
}

func init() {
	httpFetch("path", ArgNone, func(m *htx.Message, _ string) (string, bool) { return string(m.PathOnly()), true })
	httpFetch("method", ArgNone, func(m *htx.Message, _ string) (string, bool) { return string(m.Method()), true })
	httpFetch("url", ArgNone, func(m *htx.Message, _ string) (string, bool) { return requestTarget(m), true })
	headerFetch("hdr", current)
	headerFetch("req.hdr", request)
	// url_param is registered with urlp (fetch_http_extra.go).
	RegisterFetch(Fetch{Name: "ssl_fc", Type: TypeBool, Compile: func(string) (FetchFunc, error) {
		return func(c Context) (Sample, bool) {
			t, ok := c.(TLSContext)
			return Bool(ok && t.TLSInfo().TLS), true
		}, nil
	}})
	RegisterFetch(Fetch{Name: "ssl_fc_sni", Type: TypeStr, Compile: func(string) (FetchFunc, error) {
		return func(c Context) (Sample, bool) {
			t, ok := c.(TLSContext)
			if !ok || !t.TLSInfo().TLS || t.TLSInfo().ServerName == "" {
				return Sample{}, false
			}
			return Str(t.TLSInfo().ServerName), true
		}, nil
	}})

	RegisterMatch(Matcher{Name: "beg", Compile: stringMatch("beg", strings.HasPrefix)})
	RegisterMatch(Matcher{Name: "end", Compile: stringMatch("end", strings.HasSuffix)})
	RegisterMatch(Matcher{Name: "sub", Compile: stringMatch("sub", strings.Contains)})
	RegisterMatch(Matcher{Name: "reg", Compile: compileReg})

	// The derived names: path_beg is "path -m beg", and so on (dir, dom
	// and len and the fetches after url are in fetch_http_more.go).
	for _, f := range []string{"path", "hdr", "url", "base", "cook", "req.cook", "query"} {
		for _, m := range []string{"beg", "end", "sub", "reg", "dir", "dom", "len"} {
			// The derived header names read the request, as HAProxy's
			// (which never match in response rules): only hdr() itself
			// follows the direction.
			fetch := f
			if f == "hdr" {
				fetch = "req.hdr"
			}
			RegisterKeyword(f+"_"+m, fetch, m)
		}
	}
	RegisterKeyword("req.hdr_beg", "req.hdr", "beg")
	RegisterKeyword("req.hdr_end", "req.hdr", "end")
	RegisterKeyword("url_param_beg", "url_param", "beg")
}

// stringMatch builds a match method comparing the sample with each
// pattern through cmp (sample first).
func stringMatch(name string, cmp func(s, pattern string) bool) func([]string, MatchOptions) (func(Sample) bool, error) {
	return func(p []string, o MatchOptions) (func(Sample) bool, error) {
		if len(p) == 0 {
			return nil, fmt.Errorf("%w: match method '%s' expects at least one string", ErrBadPattern, name)
		}
		pats := append([]string(nil), p...)
		if o.IgnoreCase {
			for i := range pats {
				pats[i] = strings.ToLower(pats[i])
			}
		}
		return func(s Sample) bool {
			v := s.String()
			if o.IgnoreCase {
				v = strings.ToLower(v)
			}
			for _, pat := range pats {
				if cmp(v, pat) {
					return true
				}
			}
			return false
		}, nil
	}
}

func compileReg(p []string, o MatchOptions) (func(Sample) bool, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: match method 'reg' expects at least one regular expression", ErrBadPattern)
	}
	res := make([]*regexp.Regexp, 0, len(p))
	for _, pat := range p {
		if o.IgnoreCase {
			pat = "(?i)" + pat
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, fmt.Errorf("%w: regular expression '%s': %w", ErrBadPattern, pat, err)
		}
		res = append(res, re)
	}
	return func(s Sample) bool {
		v := s.String()
		for _, re := range res {
			if re.MatchString(v) {
				return true
			}
		}
		return false
	}, nil
}

func init() {
	// status: the response's status, in http-response rules.
	RegisterFetch(Fetch{Name: "status", Type: TypeInt, Compile: noArg(func(c Context) (Sample, bool) {
		rc, ok := c.(HTTPResponseContext)
		if !ok {
			return Sample{}, false
		}
		resp := rc.HTTPResponse()
		if resp == nil {
			return Sample{}, false
		}
		return Int(int64(resp.Status)), true
	})})
}
