package balancer

import "github.com/proxyblocks/proxyblocks/mux/htx"

// HAProxy counts an HTTP message's bytes (%U, %B, the bin and bout
// statistics) as the sizes of its HTX blocks, not as the bytes on the
// wire: the start line's three parts plus 21 bytes (the start-line
// block's own fields and the end of the headers), each header's name
// and value without separators, the body's bytes, and one byte more
// (and the trailers' names and values) when the body ended in chunked
// encoding's last chunk or with trailers. Its HTTP/1 parser drops the
// close and keep-alive tokens of the Connection field, and the field
// with them when nothing else is left; an HTTP/2 request carries a Host
// field made of its authority. Messages are counted as they were
// received, before any rule changed them. lb counts the same way, so
// that its lines and statistics agree with HAProxy's.

// htxStartOverhead is what HTX counts for a message beyond its start
// line's parts and its fields.
const htxStartOverhead = 21

// htxVersionLen is the length of "HTTP/1.1", "HTTP/1.0" and "HTTP/2.0".
const htxVersionLen = 8

// htxFieldsSize sums the fields' names and values as HTX holds them.
func htxFieldsSize(m *htx.Message) int64 {
	var n int64
	for i := 0; i < m.NumFields(); i++ {
		k, v := m.Field(i)
		if htx.EqualFold(k, "connection") {
			kept, sep := 0, 0
			htx.EachToken(v, func(t []byte) bool {
				if !htx.EqualFold(t, "close") && !htx.EqualFold(t, "keep-alive") {
					kept += sep + len(t)
					sep = 2 // ", " between the tokens left
				}
				return true
			})
			if kept == 0 {
				continue
			}
			n += int64(len(k) + kept)
			continue
		}
		n += int64(len(k) + len(v))
	}
	return n
}

// htxRequestSize is a request head's HTX size; line is its request line
// as logged ("METHOD URI VERSION"), whose URI is HAProxy's (absolute
// for HTTP/2).
func htxRequestSize(m *htx.Message, line []byte) int64 {
	n := int64(htxStartOverhead+len(line)-2) + htxFieldsSize(m)
	if m.Version == htx.Version20 && len(m.Authority()) > 0 {
		if _, ok := m.Get("host"); !ok {
			n += int64(len("host") + len(m.Authority()))
		}
	}
	return n
}

// htxResponseSize is a response head's HTX size. An answer lb makes
// itself carries its length as a flag, which HAProxy holds as a field.
func htxResponseSize(m *htx.Message) int64 {
	n := int64(htxStartOverhead+htxVersionLen+3+len(m.Reason())) + htxFieldsSize(m)
	if m.Flags&htx.FlagContentLength != 0 {
		if _, ok := m.Get("content-length"); !ok {
			n += int64(len("content-length") + digits(m.ContentLength))
		}
	}
	return n
}

// htxEndSize is what HTX counts at the end of a message's body: the
// end-of-trailers block and the trailers, when it came chunked or with
// trailers; nothing otherwise.
func htxEndSize(m *htx.Message) int64 {
	if m.Flags&htx.FlagChunked == 0 && m.NumTrailers() == 0 {
		return 0
	}
	n := int64(1)
	for i := 0; i < m.NumTrailers(); i++ {
		k, v := m.Trailer(i)
		n += int64(len(k) + len(v))
	}
	return n
}

// digits is the length of n written in decimal.
func digits(n int64) int {
	d := 1
	for ; n >= 10 || n <= -10; n /= 10 {
		d++
	}
	if n < 0 {
		d++
	}
	return d
}
