package acl

import (
	"bytes"
	"strings"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// More HTTP fetches and match methods, as HAProxy has them: base, query,
// req.ver, hdr_cnt, req.fhdr, req.fhdr_cnt, req.cook and cook_cnt; the
// dir, dom and len match methods, whose derived keywords (path_dir,
// hdr_dom, base_beg, cook_sub, url_len...) fetch_http.go registers with
// the others.

func init() {
	RegisterMatch(Matcher{Name: "dir", Compile: wordMatch("dir", "/?")})
	RegisterMatch(Matcher{Name: "dom", Compile: wordMatch("dom", "/?.:")})
	RegisterMatch(Matcher{Name: "len", Compile: func(p []string, o MatchOptions) (func(Sample) bool, error) {
		m, err := compileInt(p, o)
		if err != nil {
			return nil, err
		}
		return func(s Sample) bool { return m(Int(int64(len(s.String())))) }, nil
	}})

	httpFetch("base", ArgNone, func(m *htx.Message, _ string) (string, bool) {
		host, ok := m.Get("host")
		if ok {
			host, _ = CutValue(host)
		} else {
			host = m.Authority()
		}
		return string(host) + string(m.PathOnly()), true
	})
	httpFetch("query", ArgNone, func(m *htx.Message, _ string) (string, bool) {
		q := m.Query()
		return string(q), q != nil
	})
	for _, name := range []string{"req.ver", "req_ver"} {
		httpFetch(name, ArgNone, func(m *htx.Message, _ string) (string, bool) { return versionText(m), true })
	}
	for _, name := range []string{"hdr_cnt", "req.hdr_cnt"} {
		msgIntFetch(name, request, countValues)
	}
	msgIntFetch("req.fhdr_cnt", request, countFields)
	fullFieldFetch("req.fhdr", request)
	for _, name := range []string{"req.cook", "cook"} {
		RegisterFetch(Fetch{Name: name, Type: TypeStr, Arg: ArgOptional, Compile: func(a string) (FetchFunc, error) {
			return func(c Context) (Sample, bool) {
				m := request(c)
				if m == nil {
					return Sample{}, false
				}
				// As a sample, the last occurrence of the name, or
				// the first cookie without one, as in HAProxy; an ACL
				// tries each (CompileEach).
				var val []byte
				found := false
				eachCookie(m, a, func(v []byte) bool { val, found = v, true; return a != "" })
				return Str(string(val)), found
			}, nil
		}, CompileEach: func(a string) (EachFunc, error) {
			return func(c Context, match func(Sample) bool) bool {
				m := request(c)
				if m == nil {
					return false
				}
				matched := false
				eachCookie(m, a, func(v []byte) bool { matched = match(Str(string(v))); return !matched })
				return matched
			}, nil
		}})
	}
	for _, name := range []string{"req.cook_cnt", "cook_cnt"} {
		msgIntFetch(name, request, func(m *htx.Message, a string) int64 {
			n := int64(0)
			eachCookie(m, a, func([]byte) bool { n++; return true })
			return n
		})
	}

}

// request returns the request of an HTTP context, nil elsewhere.
func request(c Context) *htx.Message {
	h, ok := c.(HTTPContext)
	if !ok {
		return nil
	}
	return h.HTTPRequest()
}

// eachField calls fn with the value of each header field called name, or
// of every field when name is empty.
func eachField(m *htx.Message, name string, fn func(v []byte)) {
	for i := 0; i < m.NumFields(); i++ {
		n, v := m.Field(i)
		if name == "" || htx.EqualFold(n, name) {
			fn(v)
		}
	}
}

// eachCookie calls fn with the value of each cookie called name (any
// cookie when name is empty) in the request's Cookie fields, in order,
// until fn returns false.
func eachCookie(m *htx.Message, name string, fn func(v []byte) bool) {
	for i := 0; i < m.NumFields(); i++ {
		n, v := m.Field(i)
		// A field no longer than "NAME=" holds no such cookie for
		// haproxy, which skips it.
		if !htx.EqualFold(n, "cookie") || name != "" && len(v) < len(name)+2 {
			continue
		}
		more := true
		CookiePairs(v, func(_, k, val []byte) bool {
			if k != nil && (name == "" || string(k) == name) {
				more = fn(val)
			}
			return more
		})
		if !more {
			return
		}
	}
}

// CookiePairs calls fn with each ';'-separated part of a Cookie field's
// value v, trimmed, and its name and value, trimmed too (a nil name for a
// part without '='), until fn returns false.
func CookiePairs(v []byte, fn func(part, name, value []byte) bool) {
	for len(v) > 0 {
		var part []byte
		part, v, _ = bytes.Cut(v, []byte(";"))
		part = bytes.TrimSpace(part)
		k, val, ok := bytes.Cut(part, []byte("="))
		if !ok {
			k = nil
		} else {
			k, val = bytes.TrimSpace(k), bytes.TrimSpace(val)
		}
		if !fn(part, k, val) {
			return
		}
	}
}

// wordMatch builds a match method finding a pattern in the sample as a
// whole word between delimiters (or the sample's ends), as HAProxy's dir
// and dom do; delimiters at the pattern's own ends are ignored.
func wordMatch(name, delims string) func([]string, MatchOptions) (func(Sample) bool, error) {
	return stringMatch(name, func(s, pat string) bool {
		pat = strings.Trim(pat, delims)
		if pat == "" {
			return false
		}
		for from := 0; ; {
			i := strings.Index(s[from:], pat)
			if i < 0 {
				return false
			}
			i += from
			end := i + len(pat)
			if (i == 0 || strings.IndexByte(delims, s[i-1]) >= 0) && (end == len(s) || strings.IndexByte(delims, s[end]) >= 0) {
				return true
			}
			from = i + 1
		}
	})
}

// versionText is a message's HTTP version as its request line writes it,
// without the "HTTP/" prefix.
func versionText(m *htx.Message) string {
	switch m.Version {
	case htx.Version10:
		return "1.0"
	case htx.Version20:
		return "2.0"
	}
	return "1.1"
}
