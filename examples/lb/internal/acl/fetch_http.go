package acl

import (
	"fmt"
	"regexp"
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

// lastHeader returns the value of the last occurrence of name, as
// HAProxy's hdr() does by default, each comma-separated value counting
// as one occurrence.
func lastHeader(m *htx.Message, name string) (string, bool) {
	var last []byte
	found := false
	m.Values(name, func(v []byte) bool {
		htx.EachToken(v, func(tok []byte) bool { last, found = tok, true; return true })
		if !found {
			last, found = htx.TrimOWS(v), true
		}
		return true
	})
	return string(last), found
}

func init() {
	httpFetch("path", ArgNone, func(m *htx.Message, _ string) (string, bool) { return string(m.PathOnly()), true })
	httpFetch("method", ArgNone, func(m *htx.Message, _ string) (string, bool) { return string(m.Method()), true })
	httpFetch("url", ArgNone, func(m *htx.Message, _ string) (string, bool) { return string(m.Path()), true })
	httpFetch("hdr", ArgRequired, lastHeader)
	httpFetch("req.hdr", ArgRequired, lastHeader)
	httpFetch("url_param", ArgRequired, func(m *htx.Message, a string) (string, bool) {
		v, ok := m.QueryParam(a)
		return string(v), ok
	})
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

	for _, f := range []string{"path", "hdr", "url"} {
		for _, m := range []string{"beg", "end", "sub", "reg"} {
			RegisterKeyword(f+"_"+m, f, m)
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
