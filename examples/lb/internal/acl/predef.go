package acl

import (
	"bytes"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// The predefined ACLs of HAProxy 2.6 whose fetches lb does not offer
// under a name of their own: HTTP (req.proto_http) and HTTP_CONTENT
// (req.hdr_val(content-length) gt 0). They are built here from private
// fetch functions, so that registering those fetches later, under their
// names, does not clash.
func predefinedPrivate() map[string]*Expr {
	return map[string]*Expr{
		"HTTP": {text: "req.proto_http", fetch: protoHTTP, match: func(s Sample) bool { return s.Int != 0 }},
		"HTTP_CONTENT": {text: "req.hdr_val(content-length) gt 0", fetch: contentLengthVal,
			match: func(s Sample) bool { return s.Int > 0 }, reqOnly: "req.hdr_val"},
	}
}

// protoHTTP is true when the request is HTTP: always once an HTTP proxy
// has parsed it; in a TCP-mode content rule, when the first bytes form
// an HTTP/1 request line and headers (more bytes are waited for while
// they may still form one).
func protoHTTP(c Context) (Sample, bool) {
	if m := request(c); m != nil {
		return Bool(true), true
	}
	cc, ok := c.(ContentContext)
	if !ok {
		return Sample{}, false
	}
	b, final := cc.Payload()
	switch looksHTTP1(b) {
	case httpWhole:
		return Bool(true), true
	case httpShort:
		if !final {
			cc.MayChange()
		}
	}
	return Sample{}, false
}

// What looksHTTP1 found.
const (
	httpNot   = iota // the bytes cannot start an HTTP/1 request
	httpShort        // they may, but the headers are not complete
	httpWhole        // a request line and its headers
)

// looksHTTP1 checks that b starts with "METHOD SP TARGET SP HTTP/x.y"
// and holds the end of the headers.
func looksHTTP1(b []byte) int {
	i := 0
	for i < len(b) && isTokenChar(b[i]) {
		i++
	}
	switch {
	case i == len(b):
		return httpShort
	case i == 0 || b[i] != ' ':
		return httpNot
	}
	i++
	for i < len(b) && b[i] > ' ' && b[i] < 0x7f {
		i++
	}
	switch {
	case i == len(b):
		return httpShort
	case b[i] != ' ':
		return httpNot
	}
	rest := b[i+1:]
	// "HTTP/d.d" then the line's end, 'd' standing for a digit.
	const ver = "HTTP/d.d"
	for j := 0; j < len(ver); j++ {
		switch {
		case j == len(rest):
			return httpShort
		case ver[j] == 'd' && rest[j] >= '0' && rest[j] <= '9', ver[j] == rest[j]:
		default:
			return httpNot
		}
	}
	rest = rest[len(ver):]
	switch {
	case len(rest) == 0, len(rest) == 1 && rest[0] == '\r':
		return httpShort
	case rest[0] == '\n':
		return headersEnd(rest[1:])
	case rest[0] == '\r' && rest[1] == '\n':
		return headersEnd(rest[2:])
	}
	return httpNot
}

// headersEnd tells whether b, the bytes after a request line, holds the
// empty line that ends the headers.
func headersEnd(b []byte) int {
	if bytes.HasPrefix(b, []byte("\r\n")) || bytes.HasPrefix(b, []byte("\n")) ||
		bytes.Contains(b, []byte("\n\r\n")) || bytes.Contains(b, []byte("\n\n")) {
		return httpWhole
	}
	return httpShort
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// contentLengthVal is req.hdr_val(content-length): the last
// Content-Length value read as an integer, as HAProxy's strl2ic reads it
// (an optional sign, then the leading digits).
func contentLengthVal(c Context) (Sample, bool) {
	m := request(c)
	if m == nil {
		return Sample{}, false
	}
	var last []byte
	found := false
	eachHeaderValue(m, "content-length", func(v []byte) bool { last, found = v, true; return true })
	if !found {
		return Sample{}, false
	}
	return Int(leadingInt(string(last))), true
}

// requestTarget is the request's target as HAProxy's url fetch reads it:
// the absolute URI when the client sent one (or HTTP/2 gave a scheme),
// the authority of a CONNECT, the path and query otherwise.
func requestTarget(m *htx.Message) string {
	switch {
	case m.Flags&htx.FlagConnect != 0:
		return string(m.Authority())
	case m.Form == htx.FormAbsolute || m.Version == htx.Version20 && len(m.Scheme()) > 0:
		return string(m.Scheme()) + "://" + string(m.Authority()) + string(m.Path())
	}
	return string(m.Path())
}
