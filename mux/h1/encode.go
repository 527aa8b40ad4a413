package h1

import (
	"strconv"
	"strings"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// AppendRequest appends the HTTP/1.1 head of request m to dst and returns
// it with the framing the body must then use. Hop-by-hop fields are not
// copied: the framing field is written from the flags (Content-Length
// when the length is known, chunked when the request has a body of
// unknown length, nothing when it has none), and Connection from
// FlagClose and FlagUpgrade. A Host field is written from the authority
// when the message has none, as for a request that arrived over HTTP/2.
func AppendRequest(dst []byte, m *htx.Message) ([]byte, Framing) {
	return appendRequest(dst, m, nil)
}

func appendRequest(dst []byte, m *htx.Message, fc *FieldCase) ([]byte, Framing) {
	dst = append(dst, m.Method()...)
	dst = append(dst, ' ')
	switch m.Form {
	case htx.FormAbsolute:
		dst = append(dst, m.Scheme()...)
		dst = append(dst, "://"...)
		dst = append(dst, m.Authority()...)
		dst = appendPath(dst, m.Path())
	case htx.FormAuthority:
		dst = append(dst, m.Authority()...)
	case htx.FormAsterisk:
		dst = append(dst, '*')
	default:
		if m.Flags&htx.FlagConnect != 0 {
			dst = append(dst, m.Authority()...)
		} else {
			dst = appendPath(dst, m.Path())
		}
	}
	dst = append(dst, " HTTP/1.1\r\n"...)
	if _, ok := m.Get("host"); !ok {
		dst = appendName(dst, fc, "Host")
		dst = append(dst, m.Authority()...)
		dst = append(dst, "\r\n"...)
	}
	dst = appendFields(dst, m, fc)
	f := FrameNone
	switch {
	case m.Flags&htx.FlagBodyless != 0:
	case m.Flags&htx.FlagContentLength != 0:
		f = FrameLength
		dst = appendContentLength(dst, m.ContentLength, fc)
		if m.ContentLength == 0 {
			f = FrameNone
		}
	default:
		f = FrameChunked
		dst = appendName(dst, fc, "Transfer-Encoding")
		dst = append(dst, "chunked\r\n"...)
	}
	dst = appendConnection(dst, m, m.Flags&htx.FlagClose != 0, fc)
	return append(dst, "\r\n"...), f
}

// AppendResponse appends the HTTP/1.1 head of response m to dst and
// returns it with the framing the body must then use. req is the flags
// of the request answered and peer the client's HTTP version: a body of
// unknown length goes chunked to an HTTP/1.1 client and runs to the
// connection's close for an HTTP/1.0 one. The response to HEAD, and 204
// and 304 responses, carry no body; HEAD and 304 keep their
// Content-Length.
func AppendResponse(dst []byte, m *htx.Message, req htx.Flags, peer htx.Version) ([]byte, Framing) {
	return appendResponse(dst, m, req, peer, nil)
}

func appendResponse(dst []byte, m *htx.Message, req htx.Flags, peer htx.Version, fc *FieldCase) ([]byte, Framing) {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(m.Status), 10)
	dst = append(dst, ' ')
	if r := m.Reason(); len(r) > 0 {
		dst = append(dst, r...)
	} else {
		dst = append(dst, StatusText(m.Status)...)
	}
	dst = append(dst, "\r\n"...)
	dst = appendFields(dst, m, fc)
	f := FrameNone
	closing := m.Flags&htx.FlagClose != 0
	switch {
	case m.Status < 200:
		if m.Status == 101 {
			dst = appendConnection(dst, m, false, fc)
		}
		return append(dst, "\r\n"...), FrameNone
	case req&htx.FlagConnect != 0 && m.Status < 300:
		return append(dst, "\r\n"...), FrameNone
	case m.Status == 204:
	case m.Flags&htx.FlagBodyless != 0 || req&htx.FlagHead != 0 || m.Status == 304:
		if m.Flags&htx.FlagContentLength != 0 {
			dst = appendContentLength(dst, m.ContentLength, fc)
		}
	case m.Flags&htx.FlagContentLength != 0:
		dst = appendContentLength(dst, m.ContentLength, fc)
		if m.ContentLength > 0 {
			f = FrameLength
		}
	case peer >= htx.Version11:
		f = FrameChunked
		dst = appendName(dst, fc, "Transfer-Encoding")
		dst = append(dst, "chunked\r\n"...)
	default:
		f = FrameClose
		closing = true
	}
	dst = appendConnection(dst, m, closing, fc)
	return append(dst, "\r\n"...), f
}

func appendPath(dst, p []byte) []byte {
	if len(p) == 0 {
		return append(dst, '/')
	}
	return append(dst, p...)
}

func appendFields(dst []byte, m *htx.Message, fc *FieldCase) []byte {
	for i := 0; i < m.NumFields(); i++ {
		if m.IsHopByHop(i) {
			continue
		}
		n, v := m.Field(i)
		if fc == nil {
			dst = append(dst, n...)
			dst = append(dst, ": "...)
		} else {
			dst = appendName(dst, fc, n)
		}
		dst = append(dst, v...)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

func appendContentLength(dst []byte, n int64, fc *FieldCase) []byte {
	dst = appendName(dst, fc, "Content-Length")
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, "\r\n"...)
}

// appendConnection writes Connection (and Upgrade) from the flags.
func appendConnection(dst []byte, m *htx.Message, closing bool, fc *FieldCase) []byte {
	switch {
	case m.Flags&htx.FlagUpgrade != 0 && !closing:
		dst = appendName(dst, fc, "Connection")
		dst = append(dst, "upgrade\r\n"...)
		m.Values("upgrade", func(v []byte) bool {
			dst = appendName(dst, fc, "Upgrade")
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
			return true
		})
	case closing:
		dst = appendName(dst, fc, "Connection")
		dst = append(dst, "close\r\n"...)
	case m.Flags&htx.FlagKeepAlive != 0:
		dst = appendName(dst, fc, "Connection")
		dst = append(dst, "keep-alive\r\n"...)
	}
	return dst
}

// FieldCase gives header names the spelling that some HTTP/1 peers
// insist on, though HTTP/1 names are case-insensitive: a mux whose
// [Limits.FieldCase] is set writes each name it knows (whatever the case
// it came in, the framing fields included) in its spelling, and the
// others as they are. The names of the trailers are left as they are.
type FieldCase struct {
	names map[string]string // lower-case name -> spelling
}

// NewFieldCase returns the spellings of names, keyed by any case: each
// value must be its key in another case.
func NewFieldCase(names map[string]string) *FieldCase {
	fc := &FieldCase{names: make(map[string]string, len(names))}
	for k, v := range names {
		fc.names[strings.ToLower(k)] = v
	}
	return fc
}

// appendName appends name and ": ", name spelt as fc gives it (fc may
// be nil).
func appendName[T string | []byte](dst []byte, fc *FieldCase, name T) []byte {
	if fc != nil && len(name) <= 64 {
		var low [64]byte
		for i := 0; i < len(name); i++ {
			c := name[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			low[i] = c
		}
		if s, ok := fc.names[string(low[:len(name)])]; ok {
			dst = append(dst, s...)
			return append(dst, ": "...)
		}
	}
	dst = append(dst, name...)
	return append(dst, ": "...)
}

// AppendChunkHeader appends the size line of a chunk of n bytes.
func AppendChunkHeader(dst []byte, n int) []byte {
	dst = strconv.AppendInt(dst, int64(n), 16)
	return append(dst, "\r\n"...)
}

// AppendLastChunk appends the last chunk and m's trailers (m may be nil),
// ending a chunked body.
func AppendLastChunk(dst []byte, m *htx.Message) []byte {
	dst = append(dst, "0\r\n"...)
	if m != nil {
		for i := 0; i < m.NumTrailers(); i++ {
			n, v := m.Trailer(i)
			dst = append(dst, n...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	return append(dst, "\r\n"...)
}

// StatusText returns the reason phrase of a registered status, or
// "Unknown" (the reason phrase carries no meaning in HTTP/1.1).
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 103:
		return "Early Hints"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 421:
		return "Misdirected Request"
	case 425:
		return "Too Early"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	if r, ok := moreReasons[code]; ok {
		return r
	}
	return "Unknown"
}

// moreReasons are the registered statuses the switch leaves out, kept
// apart so that the common ones stay a jump table.
var moreReasons = map[int]string{
	102: "Processing", 203: "Non-Authoritative Information", 205: "Reset Content",
	207: "Multi-Status", 208: "Already Reported", 226: "IM Used", 300: "Multiple Choices",
	305: "Use Proxy", 402: "Payment Required", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 409: "Conflict", 410: "Gone", 411: "Length Required",
	412: "Precondition Failed", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
	417: "Expectation Failed", 418: "I'm a teapot", 422: "Unprocessable Content", 423: "Locked",
	424: "Failed Dependency", 426: "Upgrade Required", 428: "Precondition Required",
	451: "Unavailable For Legal Reasons", 506: "Variant Also Negotiates",
	507: "Insufficient Storage", 508: "Loop Detected", 510: "Not Extended",
	511: "Network Authentication Required",
}
