// Package htx is the neutral form an HTTP message takes between muxes.
//
// Every HTTP mux (h1, h2) reads the messages it receives into a [Message]
// and writes a [Message] back in its own wire form, so a gateway between
// HTTP/1 and HTTP/2 is only a choice of muxes, and the balancer's header
// rules and ACL fetches are written once. A message holds the start line
// (the request's method, scheme, authority and path as HTTP/2
// pseudo-headers carry them, with the HTTP/1 request-target form kept; or
// the response's status and reason), the header fields in their order,
// flags describing the framing and the connection, and the trailers. The
// body travels apart, through the stream's Read and Write, so a message
// stays small whatever the body's size.
//
// A Message keeps every string it holds in one backing byte slice and
// refers to it by offsets, so that a message reused after [Message.Reset]
// costs no allocation per request once its storage has grown to the
// size of the traffic. Byte-slice accessors return views into that storage:
// they are valid until the next change to the message.
//
// Field names keep the case they arrived with, so HTTP/1 output looks as
// the peer wrote it; every lookup compares names without regard to ASCII
// case.
package htx

import (
	"bytes"
	"strconv"
)

// Version is the HTTP version a message arrived with or is sent as.
type Version uint8

// The HTTP versions.
const (
	VersionUnknown Version = iota
	Version10
	Version11
	Version20
)

// String returns the version as written in an HTTP/1 start line.
func (v Version) String() string {
	switch v {
	case Version10:
		return "HTTP/1.0"
	case Version11:
		return "HTTP/1.1"
	case Version20:
		return "HTTP/2.0"
	}
	return "HTTP/?"
}

// Flags describe a message's framing and what it asks of the connection.
type Flags uint32

// The message flags.
const (
	// FlagRequest marks a request; without it the message is a response.
	FlagRequest Flags = 1 << iota
	// FlagContentLength says ContentLength holds the body's length, as a
	// Content-Length header (HTTP/1) or field (HTTP/2) declared it.
	FlagContentLength
	// FlagChunked says the body arrived, or is to be sent, chunked.
	FlagChunked
	// FlagBodyless says the message has no body whatever its length
	// fields claim: a response to HEAD, a 1xx, 204 or 304 response, a
	// 2xx response to CONNECT, or a request declaring no length.
	FlagBodyless
	// FlagClose says the sender closes the connection after this message.
	FlagClose
	// FlagKeepAlive says an HTTP/1.0 sender asked to keep the connection.
	FlagKeepAlive
	// FlagUpgrade says a request asks to switch protocols (Connection:
	// upgrade with an Upgrade field), or a 101 response agrees to.
	FlagUpgrade
	// FlagConnect marks a CONNECT request.
	FlagConnect
	// FlagHead marks a HEAD request.
	FlagHead
	// FlagTunnel says the connection carries opaque bytes after this
	// message: a 101 response, or a 2xx response to CONNECT.
	FlagTunnel
	// FlagExpectContinue says the request carries Expect: 100-continue.
	FlagExpectContinue
)

// Form is the form an HTTP/1 request-target took (RFC 9112 §3.2).
type Form uint8

// The request-target forms.
const (
	// FormOrigin is an absolute path and query: "/index.html?x=1".
	FormOrigin Form = iota
	// FormAbsolute is an absolute URI, sent to proxies:
	// "http://example.com/index.html".
	FormAbsolute
	// FormAuthority is host:port, used by CONNECT only.
	FormAuthority
	// FormAsterisk is "*", used by OPTIONS only.
	FormAsterisk
)

// span locates a string in the message's storage.
type span struct{ off, n uint32 }

// field is one header or trailer field.
type field struct {
	name, value span
	// hop marks a field that concerns only one HTTP/1 connection (the
	// framing and Connection family): muxes rebuild those from the flags
	// rather than copy them.
	hop bool
}

// Message is one HTTP request or response in neutral form. The zero
// value is an empty message ready to use.
type Message struct {
	// Flags describe framing and connection handling.
	Flags Flags
	// Version is the HTTP version the message arrived with.
	Version Version
	// Status is a response's status code.
	Status int
	// ContentLength is the body's length when FlagContentLength is set.
	ContentLength int64
	// Form is a request's HTTP/1 request-target form.
	Form Form

	buf                                     []byte
	method, scheme, authority, path, reason span
	hdrs, trls                              []field
}

// Reset empties the message and keeps its storage for the next one.
func (m *Message) Reset() {
	buf, hdrs, trls := m.buf[:0], m.hdrs[:0], m.trls[:0]
	*m = Message{buf: buf, hdrs: hdrs, trls: trls}
}

// IsRequest reports whether the message is a request.
func (m *Message) IsRequest() bool { return m.Flags&FlagRequest != 0 }

func (m *Message) bytes(s span) []byte { return m.buf[s.off : s.off+s.n : s.off+s.n] }

func (m *Message) store(b []byte) span {
	s := span{off: uint32(len(m.buf)), n: uint32(len(b))}
	m.buf = append(m.buf, b...)
	return s
}

func (m *Message) storeString(b string) span {
	s := span{off: uint32(len(m.buf)), n: uint32(len(b))}
	m.buf = append(m.buf, b...)
	return s
}

// Method returns a request's method.
func (m *Message) Method() []byte { return m.bytes(m.method) }

// MethodIs reports whether the request's method is exactly method
// (methods are case-sensitive).
func (m *Message) MethodIs(method string) bool { return string(m.bytes(m.method)) == method }

// Scheme returns a request's scheme ("http", "https"), empty when the
// HTTP/1 request-target did not carry one.
func (m *Message) Scheme() []byte { return m.bytes(m.scheme) }

// Authority returns a request's authority: the host and port of the
// target, from the absolute-form target or the Host field.
func (m *Message) Authority() []byte { return m.bytes(m.authority) }

// Path returns a request's path with its query, as HTTP/2's :path: the
// origin-form target, "*" for an asterisk-form one, empty for CONNECT.
func (m *Message) Path() []byte { return m.bytes(m.path) }

// Reason returns a response's reason phrase.
func (m *Message) Reason() []byte { return m.bytes(m.reason) }

// SetRequest makes the message a request with the given start line, for
// muxes and callers building messages. path is the path with its query
// (or "*", or empty for CONNECT).
func (m *Message) SetRequest(method, scheme, authority, path string) {
	m.Flags |= FlagRequest
	m.method = m.storeString(method)
	m.scheme = m.storeString(scheme)
	m.authority = m.storeString(authority)
	m.path = m.storeString(path)
	m.setMethodFlags()
}

// SetRequestBytes is SetRequest for byte slices, which muxes hold.
func (m *Message) SetRequestBytes(method, scheme, authority, path []byte) {
	m.Flags |= FlagRequest
	m.method = m.store(method)
	m.scheme = m.store(scheme)
	m.authority = m.store(authority)
	m.path = m.store(path)
	m.setMethodFlags()
}

func (m *Message) setMethodFlags() {
	m.Flags &^= FlagHead | FlagConnect
	switch string(m.bytes(m.method)) {
	case "HEAD":
		m.Flags |= FlagHead
	case "CONNECT":
		m.Flags |= FlagConnect
	}
}

// SetAuthority replaces a request's authority.
func (m *Message) SetAuthority(authority string) { m.authority = m.storeString(authority) }

// SetAuthorityBytes replaces a request's authority with bytes.
func (m *Message) SetAuthorityBytes(authority []byte) { m.authority = m.store(authority) }

// SetScheme replaces a request's scheme.
func (m *Message) SetScheme(scheme string) { m.scheme = m.storeString(scheme) }

// SetResponse makes the message a response with the given status and
// reason phrase.
func (m *Message) SetResponse(status int, reason string) {
	m.Flags &^= FlagRequest
	m.Status = status
	m.reason = m.storeString(reason)
}

// SetResponseBytes is SetResponse for a reason held as bytes.
func (m *Message) SetResponseBytes(status int, reason []byte) {
	m.Flags &^= FlagRequest
	m.Status = status
	m.reason = m.store(reason)
}

// SetURI replaces a request's path and query together, as HAProxy's
// set-uri does for an origin-form target.
func (m *Message) SetURI(pathQuery string) { m.path = m.storeString(pathQuery) }

// SetPath replaces the path of a request and keeps its query string, as
// HAProxy's set-path does.
func (m *Message) SetPath(path string) {
	q := m.Query()
	off := uint32(len(m.buf))
	m.buf = append(m.buf, path...)
	if q != nil {
		m.buf = append(m.buf, '?')
		// q still views the bytes it had even if append moved m.buf,
		// since storage is only ever appended to.
		m.buf = append(m.buf, q...)
	}
	m.path = span{off: off, n: uint32(len(m.buf)) - off}
}

// PathOnly returns the path without its query string.
func (m *Message) PathOnly() []byte {
	p := m.Path()
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// Query returns the query string after '?', or nil when there is none
// (an empty slice when the path ends with '?').
func (m *Message) Query() []byte {
	p := m.Path()
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		return p[i+1:]
	}
	return nil
}

// QueryParam returns the raw (still percent-encoded) value of the first
// query parameter called name, as HAProxy's url_param fetch finds it:
// parameters are split on '&' and the name compared case-sensitively.
func (m *Message) QueryParam(name string) ([]byte, bool) {
	q := m.Query()
	for len(q) > 0 {
		var part []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			part, q = q[:i], q[i+1:]
		} else {
			part, q = q, nil
		}
		k, v := part, part[len(part):]
		if i := bytes.IndexByte(part, '='); i >= 0 {
			k, v = part[:i], part[i+1:]
		}
		if string(k) == name {
			return v, true
		}
	}
	return nil, false
}

// NumFields returns the number of header fields.
func (m *Message) NumFields() int { return len(m.hdrs) }

// Field returns the i-th header field's name and value.
func (m *Message) Field(i int) (name, value []byte) {
	f := &m.hdrs[i]
	return m.bytes(f.name), m.bytes(f.value)
}

// SetFieldValue replaces the value of the i-th header field, keeping its
// name and place.
func (m *Message) SetFieldValue(i int, value []byte) { m.hdrs[i].value = m.store(value) }

// DelField removes the i-th header field; the fields after it move up
// one place.
func (m *Message) DelField(i int) { m.hdrs = append(m.hdrs[:i], m.hdrs[i+1:]...) }

// SetMethod replaces a request's method.
func (m *Message) SetMethod(method []byte) {
	m.method = m.store(method)
	m.setMethodFlags()
}

// IsHopByHop reports whether the i-th header field concerns only one
// HTTP/1 connection (Connection, Keep-Alive, Proxy-Connection, TE,
// Transfer-Encoding, Upgrade, Content-Length, and fields the Connection
// field names). Muxes do not copy such fields; they rebuild framing and
// connection fields from the message's flags.
func (m *Message) IsHopByHop(i int) bool { return m.hdrs[i].hop }

// Get returns the value of the first header field called name.
func (m *Message) Get(name string) ([]byte, bool) { return m.get(m.hdrs, name) }

// Count returns how many header fields are called name.
func (m *Message) Count(name string) int {
	n := 0
	for i := range m.hdrs {
		if EqualFold(m.bytes(m.hdrs[i].name), name) {
			n++
		}
	}
	return n
}

// Values calls fn with the value of each header field called name, in
// order, until fn returns false.
func (m *Message) Values(name string, fn func(value []byte) bool) {
	for i := range m.hdrs {
		if EqualFold(m.bytes(m.hdrs[i].name), name) && !fn(m.bytes(m.hdrs[i].value)) {
			return
		}
	}
}

// Add appends a header field.
func (m *Message) Add(name, value string) {
	m.hdrs = append(m.hdrs, field{name: m.storeString(name), value: m.storeString(value), hop: hopName(name)})
}

// AddBytes appends a header field held as bytes.
func (m *Message) AddBytes(name, value []byte) {
	m.hdrs = append(m.hdrs, field{name: m.store(name), value: m.store(value), hop: hopName(string(name))})
}

// Set replaces every header field called name with one carrying value,
// kept at the place of the first one, or appended when there was none.
func (m *Message) Set(name, value string) {
	for i := range m.hdrs {
		if EqualFold(m.bytes(m.hdrs[i].name), name) {
			m.hdrs[i].value = m.storeString(value)
			m.hdrs = m.del(m.hdrs[:i+1], m.hdrs[i+1:], name)
			return
		}
	}
	m.Add(name, value)
}

// Del removes every header field called name and returns how many it
// removed.
func (m *Message) Del(name string) int {
	n := len(m.hdrs)
	m.hdrs = m.del(m.hdrs[:0], m.hdrs, name)
	return n - len(m.hdrs)
}

// HasToken reports whether any header field called name carries token
// in its comma-separated list (compared without regard to ASCII case),
// as for Connection: close.
func (m *Message) HasToken(name, token string) bool {
	for i := range m.hdrs {
		if EqualFold(m.bytes(m.hdrs[i].name), name) && ListHas(m.bytes(m.hdrs[i].value), token) {
			return true
		}
	}
	return false
}

// NumTrailers returns the number of trailer fields.
func (m *Message) NumTrailers() int { return len(m.trls) }

// Trailer returns the i-th trailer field's name and value.
func (m *Message) Trailer(i int) (name, value []byte) {
	f := &m.trls[i]
	return m.bytes(f.name), m.bytes(f.value)
}

// GetTrailer returns the value of the first trailer field called name.
func (m *Message) GetTrailer(name string) ([]byte, bool) { return m.get(m.trls, name) }

// AddTrailer appends a trailer field.
func (m *Message) AddTrailer(name, value string) {
	m.trls = append(m.trls, field{name: m.storeString(name), value: m.storeString(value)})
}

// AddTrailerBytes appends a trailer field held as bytes.
func (m *Message) AddTrailerBytes(name, value []byte) {
	m.trls = append(m.trls, field{name: m.store(name), value: m.store(value)})
}

// CopyFrom makes m a copy of src, reusing m's storage.
func (m *Message) CopyFrom(src *Message) {
	buf, hdrs, trls := append(m.buf[:0], src.buf...), append(m.hdrs[:0], src.hdrs...), append(m.trls[:0], src.trls...)
	*m = *src
	m.buf, m.hdrs, m.trls = buf, hdrs, trls
}

// String renders the message's start line and fields for logs and
// debugging, in HTTP/1 style.
func (m *Message) String() string {
	var b []byte
	if m.IsRequest() {
		b = append(b, m.Method()...)
		b = append(b, ' ')
		b = append(b, m.Scheme()...)
		if len(m.Scheme()) > 0 {
			b = append(b, "://"...)
		}
		b = append(b, m.Authority()...)
		b = append(b, m.Path()...)
		b = append(b, ' ')
		b = append(b, m.Version.String()...)
	} else {
		b = append(b, m.Version.String()...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(m.Status), 10)
		b = append(b, ' ')
		b = append(b, m.Reason()...)
	}
	for i := range m.hdrs {
		n, v := m.Field(i)
		b = append(b, '\n')
		b = append(b, n...)
		b = append(b, ": "...)
		b = append(b, v...)
	}
	return string(b)
}

func (m *Message) get(fs []field, name string) ([]byte, bool) {
	for i := range fs {
		if EqualFold(m.bytes(fs[i].name), name) {
			return m.bytes(fs[i].value), true
		}
	}
	return nil, false
}

// del appends to dst the fields of src not called name. dst may alias
// src's start, since it never grows faster than src is read.
func (m *Message) del(dst, src []field, name string) []field {
	for _, f := range src {
		if !EqualFold(m.bytes(f.name), name) {
			dst = append(dst, f)
		}
	}
	return dst
}

// MarkHopByHop flags every header field called name as hop-by-hop, as
// the HTTP/1 parser does for the names a Connection field lists.
func (m *Message) MarkHopByHop(name []byte) {
	for i := range m.hdrs {
		if equalFoldBytes(m.bytes(m.hdrs[i].name), name) {
			m.hdrs[i].hop = true
		}
	}
}

// hopName reports whether a field name is one of the connection-specific
// fields of HTTP/1 (RFC 9110 §7.6.1), or one of the framing fields the
// muxes write from the flags.
func hopName(name string) bool {
	switch len(name) {
	case 2:
		return eqFold(name, "te")
	case 7:
		return eqFold(name, "upgrade")
	case 10:
		return eqFold(name, "connection") || eqFold(name, "keep-alive")
	case 14:
		return eqFold(name, "content-length")
	case 16:
		return eqFold(name, "proxy-connection")
	case 17:
		return eqFold(name, "transfer-encoding")
	}
	return false
}

func eqFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// EqualFold reports whether b equals s without regard to ASCII case.
// Unlike bytes.EqualFold it ignores Unicode folding, which HTTP field
// names never need, and it does not allocate.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// ListHas reports whether the comma-separated list v holds token,
// compared without regard to ASCII case, ignoring optional whitespace
// and parameters after ';'.
func ListHas(v []byte, token string) bool {
	found := false
	EachToken(v, func(t []byte) bool {
		if EqualFold(t, token) {
			found = true
			return false
		}
		return true
	})
	return found
}

// EachToken calls fn with every non-empty element of the comma-separated
// list v, trimmed of whitespace and of parameters after ';', until fn
// returns false.
func EachToken(v []byte, fn func(tok []byte) bool) {
	for len(v) > 0 {
		var t []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			t, v = v, nil
		}
		if i := bytes.IndexByte(t, ';'); i >= 0 {
			t = t[:i]
		}
		t = TrimOWS(t)
		if len(t) > 0 && !fn(t) {
			return
		}
	}
}

// TrimOWS trims spaces and horizontal tabs from both ends of b.
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// BodylessStatus reports whether a response with this status never has
// a body (RFC 9110 §6.4.1): 1xx, 204 and 304.
func BodylessStatus(status int) bool {
	return status < 200 || status == 204 || status == 304
}
