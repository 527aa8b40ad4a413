package h1

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// DefaultBufSize is the default limit on a message's start line and
// header block, HAProxy's tune.bufsize.
const DefaultBufSize = 16384

// DefaultMaxHeaders is the default limit on the number of header fields,
// HAProxy's tune.http.maxhdr.
const DefaultMaxHeaders = 101

// maxChunkLine bounds a chunk-size line with its extensions. HAProxy
// refuses to wait for more than a buffer's worth; extensions carry
// nothing a proxy needs, so a short bound closes a slow-drip channel.
const maxChunkLine = 4096

// Limits bound what the parser accepts. The zero value means the defaults.
type Limits struct {
	// BufSize bounds the start line plus header block (and the trailer
	// block) in bytes, as tune.bufsize does. Default [DefaultBufSize].
	BufSize int
	// MaxHeaders bounds the number of header (and trailer) fields.
	// Default [DefaultMaxHeaders].
	MaxHeaders int
	// MaxBody bounds a request body in bytes; 0 means no limit.
	MaxBody int64
	// RequestTimeout bounds the wait for a complete request head on the
	// front side, as timeout http-request does: a client that sent part
	// of a head and not the rest in time is answered 408 and the
	// connection closed; one that sent nothing is closed quietly, like
	// an idle keep-alive connection. Accept then returns an error
	// wrapping [ErrRequestTimeout]. 0 leaves the wait unbounded (the
	// transport's own deadline, if any, still applies).
	RequestTimeout time.Duration
	// H2Preface makes a front mux look at the first bytes of a
	// connection for HTTP/2's connection preface ("PRI * HTTP/2.0"...,
	// RFC 9113 §3.4), a client speaking HTTP/2 with prior knowledge:
	// Accept then returns [ErrH2Preface], and [Mux.Unread] gives the bytes
	// read, for an HTTP/2 mux to take the connection over, as HAProxy
	// upgrades such a connection on an HTTP/1 listener.
	H2Preface bool
	// FieldCase, when set, spells the header names the mux writes as it
	// gives them (see [FieldCase]); the names it reads are untouched.
	FieldCase *FieldCase
}

// ErrH2Preface is what Accept returns when [Limits.H2Preface] is set
// and the connection opened with HTTP/2's connection preface.
var ErrH2Preface = errors.New("h1: the connection opened with the HTTP/2 preface")

// h2Preface is HTTP/2's connection preface.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

func (l Limits) bufSize() int {
	if l.BufSize <= 0 {
		return DefaultBufSize
	}
	return l.BufSize
}

func (l Limits) maxHeaders() int {
	if l.MaxHeaders <= 0 {
		return DefaultMaxHeaders
	}
	return l.MaxHeaders
}

// ErrRequestTimeout is wrapped by the error Accept returns when
// [Limits.RequestTimeout] passed before a complete request head. It also
// wraps os.ErrDeadlineExceeded.
var ErrRequestTimeout = fmt.Errorf("h1: request head not received in time: %w", os.ErrDeadlineExceeded)

// ErrNeedMore is returned by the parser and the body decoder when the
// bytes given end before the element being parsed does: feed the same
// bytes again with more appended.
var ErrNeedMore = errors.New("h1: need more data")

// ErrMalformed is wrapped by every [*Error]: callers that do not care
// about the status can test errors.Is(err, ErrMalformed).
var ErrMalformed = errors.New("h1: malformed message")

// Error is a message the parser refused. Status is the status to answer
// with (4xx or 5xx for requests; 502 for responses, which a proxy answers
// to its own client), and the connection must be closed after it.
type Error struct {
	// Status is the HTTP status to answer.
	Status int
	// Reason says what was wrong.
	Reason string
	// Offset is the byte offset in the input where the problem was found.
	Offset int
}

// Error describes the refusal.
func (e *Error) Error() string {
	return fmt.Sprintf("h1: %d: %s (at byte %d)", e.Status, e.Reason, e.Offset)
}

// Unwrap returns [ErrMalformed].
func (e *Error) Unwrap() error { return ErrMalformed }

func perr(status int, off int, reason string) *Error {
	return &Error{Status: status, Reason: reason, Offset: off}
}

// Character classes (RFC 9110 §5.6.2 tchar; §5.5 field-vchar; RFC 3986
// for the request-target).
var tchar, vchar, uchar [256]bool

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		isAlnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		tchar[c] = isAlnum || bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), b) >= 0
		// Field values: VCHAR, obs-text, SP and HTAB.
		vchar[c] = (b >= 0x21 && b <= 0x7e) || b >= 0x80 || b == ' ' || b == '\t'
		// Request-target: visible ASCII without '#' (a fragment is never
		// sent), as HAProxy takes it: the characters RFC 3986 leaves out
		// but clients send unencoded ('"', '<', '>', '\\', '^', '`', '{',
		// '|', '}') pass, as they do through haproxy; controls, spaces
		// and anything outside ASCII do not.
		uchar[c] = b > 0x20 && b < 0x7f && b != '#'
	}
}

// Parser parses HTTP/1 message heads. It is incremental: give it the bytes
// received so far; it returns [ErrNeedMore] until the whole head is there,
// remembering how far it has scanned so that bytes arriving one at a time
// cost linear time. A Parser is reused for every message of a connection;
// the zero value uses the default [Limits].
type Parser struct {
	// Limits bound what is accepted.
	Limits Limits

	scanned int // bytes known to hold no end of head
	line    int // start of the line being scanned
	skipped int // leading empty lines before a request line
}

// Reset forgets a partly scanned head, for a new connection.
func (p *Parser) Reset() { p.scanned, p.line, p.skipped = 0, 0, 0 }

// ParseRequest parses a request head from the start of buf into m (which
// it resets). It returns the number of bytes the head took; the body
// follows. On [ErrNeedMore], call again with the same bytes and more.
// Any other error is an [*Error] whose Status is the answer to give.
func (p *Parser) ParseRequest(buf []byte, m *htx.Message) (int, error) {
	// RFC 9112 §2.2: ignore empty lines before a request line, which
	// some clients send after a POST body.
	for p.skipped < len(buf) {
		switch buf[p.skipped] {
		case '\n':
			p.skipped++
			continue
		case '\r':
			if p.skipped+1 >= len(buf) {
				return 0, ErrNeedMore
			}
			if buf[p.skipped+1] == '\n' {
				p.skipped += 2
				continue
			}
		}
		break
	}
	if p.skipped > p.Limits.bufSize() {
		return 0, perr(400, p.skipped, "too many empty lines before the request line")
	}
	off := p.skipped
	end, err := p.findEnd(buf[off:], true)
	if err != nil {
		return 0, err
	}
	m.Reset()
	if err := parseRequestHead(buf[off:off+end], m, p.Limits); err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Offset += off
		}
		p.Reset()
		return 0, err
	}
	p.Reset()
	return off + end, nil
}

// ParseResponse parses a response head from the start of buf into m
// (which it resets). req is the flags of the request it answers, whose
// method decides the framing (HEAD and CONNECT). Returns as
// [Parser.ParseRequest] does; errors carry status 502.
func (p *Parser) ParseResponse(buf []byte, m *htx.Message, req htx.Flags) (int, error) {
	end, err := p.findEnd(buf, false)
	if err != nil {
		return 0, err
	}
	m.Reset()
	err = parseResponseHead(buf[:end], m, req, p.Limits)
	p.Reset()
	if err != nil {
		return 0, err
	}
	return end, nil
}

// findEnd finds the end of the head (the empty line) in buf and returns
// the length of the head including it.
func (p *Parser) findEnd(buf []byte, request bool) (int, error) {
	limit := p.Limits.bufSize()
	for {
		i := bytes.IndexByte(buf[p.scanned:], '\n')
		if i < 0 {
			p.scanned = len(buf)
			break
		}
		p.scanned += i + 1
		if p.scanned > limit {
			break
		}
		line := buf[p.line : p.scanned-1]
		start := p.line
		p.line = p.scanned
		if start > 0 && (len(line) == 0 || len(line) == 1 && line[0] == '\r') {
			return p.scanned, nil
		}
	}
	if p.scanned > limit || len(buf) > limit {
		status := 431
		if !request {
			status = 502
		} else if bytes.IndexByte(buf[:limit], '\n') < 0 {
			status = 414
		}
		reason := "header block larger than the buffer"
		if status == 414 {
			reason = "request line larger than the buffer"
		}
		p.Reset()
		return 0, perr(status, limit, reason)
	}
	return 0, ErrNeedMore
}

// nextLine splits the first line off b, dropping its CRLF or LF, and
// refuses a CR anywhere but just before the LF.
func nextLine(b []byte, off int, status int) (line, rest []byte, err error) {
	i := bytes.IndexByte(b, '\n')
	line, rest = b[:i], b[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if j := bytes.IndexByte(line, '\r'); j >= 0 {
		return nil, nil, perr(status, off+j, "bare CR in message head")
	}
	return line, rest, nil
}

func parseRequestHead(b []byte, m *htx.Message, lim Limits) error {
	line, rest, err := nextLine(b, 0, 400)
	if err != nil {
		return err
	}
	m.Flags = htx.FlagRequest
	// method SP request-target SP HTTP-version
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return perr(400, 0, "request line has no method")
	}
	method := line[:sp]
	for i, c := range method {
		if !tchar[c] {
			return perr(400, i, "invalid character in method")
		}
	}
	t := line[sp+1:]
	sp2 := bytes.IndexByte(t, ' ')
	if sp2 <= 0 {
		return perr(400, sp+1, "request line has no request-target or version")
	}
	target, ver := t[:sp2], t[sp2+1:]
	for i, c := range target {
		if !uchar[c] {
			return perr(400, sp+1+i, "invalid character in request-target")
		}
	}
	v, status := parseVersion(ver)
	if v == htx.VersionUnknown {
		if status == 505 {
			return perr(505, sp+sp2+2, "HTTP version not supported")
		}
		return perr(400, sp+sp2+2, "malformed HTTP version")
	}
	m.Version = v

	var scheme, authority, path []byte
	switch {
	case string(method) == "CONNECT":
		// authority-form: host:port, nothing else (RFC 9112 §3.2.3).
		if !validAuthority(target) || bytes.IndexByte(target, ':') < 0 || target[0] == '/' {
			return perr(400, sp+1, "CONNECT needs a host:port target")
		}
		m.Form = htx.FormAuthority
		authority = target
	case target[0] == '/':
		m.Form = htx.FormOrigin
		path = target
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return perr(400, sp+1, "asterisk-form target outside OPTIONS")
		}
		m.Form = htx.FormAsterisk
		path = target
	default:
		i := bytes.Index(target, []byte("://"))
		if i <= 0 || !validScheme(target[:i]) {
			return perr(400, sp+1, "request-target is neither origin nor absolute form")
		}
		m.Form = htx.FormAbsolute
		scheme = target[:i]
		hp := target[i+3:]
		j := bytes.IndexAny(hp, "/?")
		if j < 0 {
			authority, path = hp, slash
		} else {
			authority, path = hp[:j], hp[j:]
		}
		if len(authority) == 0 || !validAuthority(authority) {
			return perr(400, sp+1, "absolute-form target has a bad authority")
		}
		if bytes.IndexByte(authority, '@') >= 0 {
			return perr(400, sp+1, "userinfo in request-target")
		}
	}
	m.SetRequestBytes(method, scheme, authority, path)
	if len(path) > 0 && path[0] == '?' {
		// RFC 9112 §3.2.1: an empty path is sent as "/".
		m.SetURI("/" + string(path))
	}

	h := headState{status: 400}
	if err := parseFields(rest, len(line)+1, m, lim, &h, false); err != nil {
		return err
	}
	return finishRequest(m, &h, lim)
}

var slash = []byte("/")

func validScheme(s []byte) bool {
	if len(s) == 0 || !('a' <= s[0]|0x20 && s[0]|0x20 <= 'z') {
		return false
	}
	for _, c := range s {
		if !('a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validAuthority accepts host[:port] with the characters of reg-name,
// IP literals in brackets, and a numeric port.
func validAuthority(a []byte) bool {
	for _, c := range a {
		if !uchar[c] || c == '/' || c == '?' {
			return false
		}
	}
	return true
}

func parseVersion(v []byte) (htx.Version, int) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return htx.VersionUnknown, 400
	}
	if v[5] != '1' {
		return htx.VersionUnknown, 505
	}
	if v[7] == '0' {
		return htx.Version10, 0
	}
	// RFC 9110 §2.5: a later 1.x minor version is handled as 1.1.
	return htx.Version11, 0
}

// headState collects what the framing and connection fields said.
type headState struct {
	status int // status for errors: 400 requests, 502 responses

	clSeen    bool
	cl        int64
	teSeen    bool
	teChunked int  // how many times chunked appears
	teLast    bool // chunked is the last coding
	teOther   bool // a coding other than chunked appears
	hosts     int
	host      []byte
	connClose bool
	connKeep  bool
	connUpg   bool
	upgrade   bool
	expect100 bool
}

// parseFields parses header (or trailer) lines up to the empty line.
// off is b's offset in the message for error reports.
func parseFields(b []byte, off int, m *htx.Message, lim Limits, h *headState, trailers bool) error {
	n := 0
	for {
		line, rest, err := nextLine(b, off, h.status)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			// RFC 9112 §5.2: obs-fold is refused, the safe choice for a
			// proxy since downstream parsers disagree on it.
			return perr(h.status, off, "obsolete line folding")
		}
		n++
		if n > lim.maxHeaders() {
			st := 431
			if h.status != 400 {
				st = h.status
			}
			return perr(st, off, "too many header fields")
		}
		colon := -1
		for i, c := range line {
			if c == ':' {
				colon = i
				break
			}
			if !tchar[c] {
				if c == ' ' || c == '\t' {
					// RFC 9112 §5.1: whitespace before the colon MUST be
					// rejected; it is a classic smuggling vector.
					return perr(h.status, off+i, "whitespace between field name and colon")
				}
				return perr(h.status, off+i, "invalid character in field name")
			}
		}
		if colon <= 0 {
			return perr(h.status, off, "field line without a name and colon")
		}
		name := line[:colon]
		value := line[colon+1:]
		for i, c := range value {
			if !vchar[c] {
				return perr(h.status, off+colon+1+i, "invalid character in field value")
			}
		}
		value = htx.TrimOWS(value)
		if trailers {
			m.AddTrailerBytes(name, value)
		} else {
			if err := h.field(name, value, off); err != nil {
				return err
			}
			m.AddBytes(name, value)
		}
		off += len(b) - len(rest)
		b = rest
	}
}

// field interprets the fields that frame the message or steer the
// connection.
func (h *headState) field(name, value []byte, off int) error {
	switch len(name) {
	case 4:
		if htx.EqualFold(name, "host") {
			h.hosts++
			h.host = value
		}
	case 6:
		if htx.EqualFold(name, "expect") && htx.EqualFold(value, "100-continue") {
			h.expect100 = true
		}
	case 7:
		if htx.EqualFold(name, "upgrade") {
			h.upgrade = true
		}
	case 10:
		if htx.EqualFold(name, "connection") {
			htx.EachToken(value, func(t []byte) bool {
				switch {
				case htx.EqualFold(t, "close"):
					h.connClose = true
				case htx.EqualFold(t, "keep-alive"):
					h.connKeep = true
				case htx.EqualFold(t, "upgrade"):
					h.connUpg = true
				}
				return true
			})
		}
	case 14:
		if htx.EqualFold(name, "content-length") {
			return h.contentLength(value, off)
		}
	case 17:
		if htx.EqualFold(name, "transfer-encoding") {
			return h.transferEncoding(value, off)
		}
	}
	return nil
}

// contentLength accepts a list of equal decimal lengths (RFC 9110 §8.6
// allows "5, 5" as a duplicate) and refuses anything else: signs,
// spaces inside digits, empty elements, differing values, overflow.
func (h *headState) contentLength(v []byte, off int) error {
	if len(v) == 0 {
		return perr(h.status, off, "empty Content-Length")
	}
	for len(v) > 0 {
		var e []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			e, v = htx.TrimOWS(v[:i]), v[i+1:]
			if len(v) == 0 {
				return perr(h.status, off, "empty element in Content-Length")
			}
		} else {
			e, v = htx.TrimOWS(v), nil
		}
		if len(e) == 0 || len(e) > 18 {
			return perr(h.status, off, "malformed Content-Length")
		}
		var n int64
		for _, c := range e {
			if c < '0' || c > '9' {
				return perr(h.status, off, "non-numeric Content-Length")
			}
			n = n*10 + int64(c-'0')
		}
		if h.clSeen && n != h.cl {
			return perr(h.status, off, "conflicting Content-Length values")
		}
		h.clSeen, h.cl = true, n
	}
	return nil
}

func (h *headState) transferEncoding(v []byte, off int) error {
	h.teSeen = true
	var bad bool
	htx.EachToken(v, func(t []byte) bool {
		for _, c := range t {
			if !tchar[c] {
				bad = true
				return false
			}
		}
		if htx.EqualFold(t, "chunked") {
			h.teChunked++
			h.teLast = true
		} else {
			h.teOther = true
			h.teLast = false
		}
		return true
	})
	if bad {
		return perr(h.status, off, "malformed Transfer-Encoding")
	}
	return nil
}

// finishRequest decides a request's framing and connection handling
// from its fields, refusing the ambiguous cases request smuggling relies
// on. See the package documentation for the decisions.
func finishRequest(m *htx.Message, h *headState, lim Limits) error {
	if h.hosts > 1 {
		return perr(400, 0, "more than one Host field")
	}
	if m.Version == htx.Version11 && h.hosts == 0 {
		return perr(400, 0, "HTTP/1.1 request without Host")
	}
	switch m.Form {
	case htx.FormAbsolute, htx.FormAuthority:
		// RFC 9112 §3.2.2 says to ignore Host here; a Host naming another
		// site is refused instead, as HAProxy does, so that routing on
		// Host and on the authority can never disagree.
		if h.hosts == 1 && !bytes.EqualFold(h.host, m.Authority()) {
			return perr(400, 0, "Host field does not match the request-target's authority")
		}
	default:
		if h.hosts == 1 {
			if !validAuthority(h.host) && len(h.host) > 0 {
				return perr(400, 0, "invalid Host field")
			}
			m.SetAuthorityBytes(h.host)
		}
	}
	if h.teSeen {
		switch {
		case m.Version == htx.Version10:
			// RFC 9112 §6.1: HTTP/1.0 has no chunked framing, so a
			// Transfer-Encoding there is faulty framing.
			return perr(400, 0, "Transfer-Encoding in an HTTP/1.0 request")
		case h.clSeen:
			return perr(400, 0, "both Content-Length and Transfer-Encoding")
		case h.teChunked > 1:
			return perr(400, 0, "chunked applied more than once")
		case !h.teLast:
			// RFC 9112 §6.3: chunked must be last or the length is
			// unknown, which a request cannot be.
			return perr(400, 0, "Transfer-Encoding does not end with chunked")
		case h.teOther:
			return perr(501, 0, "transfer coding other than chunked")
		}
		m.Flags |= htx.FlagChunked
	} else if h.clSeen {
		m.Flags |= htx.FlagContentLength
		m.ContentLength = h.cl
		if lim.MaxBody > 0 && h.cl > lim.MaxBody {
			return perr(413, 0, "Content-Length above the body limit")
		}
	} else {
		m.Flags |= htx.FlagBodyless
	}
	if m.Flags&htx.FlagConnect != 0 {
		// A CONNECT request's content has no defined meaning: what follows
		// the head is the tunnel.
		m.Flags = m.Flags&^(htx.FlagChunked|htx.FlagContentLength) | htx.FlagBodyless
		m.ContentLength = 0
	}
	if h.expect100 {
		m.Flags |= htx.FlagExpectContinue
	}
	connFlags(m, h)
	if h.connUpg && h.upgrade && m.Version == htx.Version11 {
		m.Flags |= htx.FlagUpgrade
	}
	return nil
}

func connFlags(m *htx.Message, h *headState) {
	if h.connClose || m.Version == htx.Version10 && !h.connKeep {
		m.Flags |= htx.FlagClose
	} else if m.Version == htx.Version10 {
		m.Flags |= htx.FlagKeepAlive
	}
	// Fields the Connection field nominates are hop-by-hop too.
	for i := 0; i < m.NumFields(); i++ {
		name, value := m.Field(i)
		if !htx.EqualFold(name, "connection") {
			continue
		}
		htx.EachToken(value, func(t []byte) bool {
			m.MarkHopByHop(t)
			return true
		})
	}
}

func parseResponseHead(b []byte, m *htx.Message, req htx.Flags, lim Limits) error {
	line, rest, err := nextLine(b, 0, 502)
	if err != nil {
		return err
	}
	// HTTP-version SP 3DIGIT SP [ reason-phrase ]
	if len(line) < 12 || line[8] != ' ' {
		return perr(502, 0, "malformed status line")
	}
	v, _ := parseVersion(line[:8])
	if v == htx.VersionUnknown {
		return perr(502, 0, "unsupported HTTP version in status line")
	}
	m.Version = v
	st := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return perr(502, 9, "non-numeric status code")
		}
		st = st*10 + int(c-'0')
	}
	if st < 100 {
		return perr(502, 9, "status code below 100")
	}
	var reason []byte
	if len(line) > 12 {
		if line[12] != ' ' {
			return perr(502, 12, "malformed status line")
		}
		reason = line[13:]
		for i, c := range reason {
			if !vchar[c] {
				return perr(502, 13+i, "invalid character in reason phrase")
			}
		}
	}
	m.SetResponseBytes(st, reason)
	h := headState{status: 502}
	if err := parseFields(rest, len(line)+1, m, lim, &h, false); err != nil {
		return err
	}
	return finishResponse(m, &h, req)
}

// finishResponse decides a response's framing (RFC 9112 §6.3).
func finishResponse(m *htx.Message, h *headState, req htx.Flags) error {
	if h.clSeen {
		m.Flags |= htx.FlagContentLength
		m.ContentLength = h.cl
	}
	connFlags(m, h)
	switch {
	case m.Status < 200:
		// An interim response: no body, and its length fields claim
		// nothing. 101 switches to the protocol the request asked for.
		m.Flags = m.Flags&^(htx.FlagContentLength|htx.FlagClose|htx.FlagKeepAlive) | htx.FlagBodyless
		m.ContentLength = 0
		if m.Status == 101 {
			if req&htx.FlagUpgrade == 0 || !h.upgrade {
				return perr(502, 0, "101 response without an upgrade request")
			}
			m.Flags |= htx.FlagTunnel | htx.FlagUpgrade
		}
		return nil
	case req&htx.FlagConnect != 0 && m.Status < 300:
		m.Flags = m.Flags&^(htx.FlagContentLength|htx.FlagChunked) | htx.FlagBodyless | htx.FlagTunnel
		m.ContentLength = 0
		return nil
	case req&htx.FlagHead != 0 || m.Status == 204 || m.Status == 304:
		// The length fields describe the entity a GET would get; keep
		// Content-Length for forwarding, but there is no body.
		m.Flags |= htx.FlagBodyless
		return nil
	}
	if h.teSeen {
		if m.Version == htx.Version10 {
			return perr(502, 0, "Transfer-Encoding in an HTTP/1.0 response")
		}
		if h.teChunked > 1 {
			return perr(502, 0, "chunked applied more than once")
		}
		// Transfer-Encoding overrides Content-Length; a message with both
		// is suspect, so the connection is not reused after it.
		if h.clSeen {
			m.Flags = m.Flags&^htx.FlagContentLength | htx.FlagClose
			m.ContentLength = 0
		}
		if h.teLast {
			m.Flags |= htx.FlagChunked
		} else {
			// Not chunked last: the body runs to the connection's close.
			m.Flags |= htx.FlagClose
		}
		return nil
	}
	if !h.clSeen {
		m.Flags |= htx.FlagClose
	}
	return nil
}
