package h1

import (
	"bytes"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// Framing is how an HTTP/1 message's body is delimited.
type Framing uint8

// The HTTP/1 body framings.
const (
	// FrameNone: no body.
	FrameNone Framing = iota
	// FrameLength: Content-Length bytes.
	FrameLength
	// FrameChunked: chunked transfer coding, with optional trailers.
	FrameChunked
	// FrameClose: everything until the connection closes.
	FrameClose
)

// FramingOf returns how a parsed message's body is delimited.
func FramingOf(m *htx.Message) Framing {
	switch {
	case m.Flags&htx.FlagBodyless != 0:
		return FrameNone
	case m.Flags&htx.FlagChunked != 0:
		return FrameChunked
	case m.Flags&htx.FlagContentLength != 0:
		if m.ContentLength == 0 {
			return FrameNone
		}
		return FrameLength
	}
	return FrameClose
}

type chunkState uint8

const (
	chunkSize chunkState = iota
	chunkData
	chunkDataEnd
	chunkTrailers
)

// BodyDecoder removes a message's HTTP/1 framing from its body bytes,
// incrementally. It is reused for every message of a connection.
type BodyDecoder struct {
	// Limits bound the trailer block and, for requests, the body.
	Limits Limits

	framing Framing
	remain  int64 // bytes left in the body (length) or chunk (chunked)
	total   int64
	state   chunkState
	limited bool
	done    bool
	tp      Parser // scans the trailer block
}

// Reset prepares the decoder for the body of m, just parsed. A request's
// body is held to Limits.MaxBody.
func (d *BodyDecoder) Reset(m *htx.Message) {
	*d = BodyDecoder{Limits: d.Limits, framing: FramingOf(m), limited: m.IsRequest()}
	d.tp.Limits = d.Limits
	if d.framing == FrameLength {
		d.remain = m.ContentLength
	}
	d.done = d.framing == FrameNone
}

// Framing returns the framing of the body being decoded.
func (d *BodyDecoder) Framing() Framing { return d.framing }

// Done reports whether the body has ended.
func (d *BodyDecoder) Done() bool { return d.done }

// Remaining returns, for a Content-Length body, how many bytes are still
// to come.
func (d *BodyDecoder) Remaining() int64 { return d.remain }

// Decode consumes framed bytes from in and returns how many it consumed
// and the body bytes found, a sub-slice of in. It stops after one run of
// data so the caller can pass it on; call again with in[n:]. At the end of
// the body Done turns true (trailers, if any, are added to m). When in
// holds no complete element it returns [ErrNeedMore]; other errors are
// [*Error] values. A FrameClose body never ends here: the caller ends it
// when the connection reaches end of file.
func (d *BodyDecoder) Decode(in []byte, m *htx.Message) (n int, data []byte, err error) {
	for !d.done {
		switch d.framing {
		case FrameClose:
			if len(in) == 0 {
				return n, nil, ErrNeedMore
			}
			if err := d.count(int64(len(in))); err != nil {
				return n, nil, err
			}
			return n + len(in), in, nil
		case FrameLength:
			if len(in) == 0 {
				return n, nil, ErrNeedMore
			}
			k := int64(len(in))
			if k > d.remain {
				k = d.remain
			}
			d.remain -= k
			d.done = d.remain == 0
			return n + int(k), in[:k], nil
		}
		// Chunked.
		switch d.state {
		case chunkSize:
			i := bytes.IndexByte(in, '\n')
			if i < 0 {
				if len(in) > maxChunkLine {
					return n, nil, perr(d.status(), n, "chunk-size line too long")
				}
				return n, nil, ErrNeedMore
			}
			size, err := parseChunkLine(in[:i])
			if err != nil {
				return n, nil, perr(d.status(), n, err.Error())
			}
			in = in[i+1:]
			n += i + 1
			if size == 0 {
				d.state = chunkTrailers
				continue
			}
			if err := d.count(size); err != nil {
				return n, nil, err
			}
			d.remain, d.state = size, chunkData
		case chunkData:
			if len(in) == 0 {
				return n, nil, ErrNeedMore
			}
			k := int64(len(in))
			if k > d.remain {
				k = d.remain
			}
			d.remain -= k
			if d.remain == 0 {
				d.state = chunkDataEnd
			}
			return n + int(k), in[:k], nil
		case chunkDataEnd:
			switch {
			case len(in) == 0, len(in) == 1 && in[0] == '\r':
				return n, nil, ErrNeedMore
			case in[0] == '\n':
				in, n = in[1:], n+1
			case in[0] == '\r' && in[1] == '\n':
				in, n = in[2:], n+2
			default:
				return n, nil, perr(d.status(), n, "chunk data not followed by CRLF")
			}
			d.state = chunkSize
		case chunkTrailers:
			k, err := d.trailers(in, m)
			if err != nil {
				if err != ErrNeedMore {
					if e, ok := err.(*Error); ok {
						e.Offset += n
					}
				}
				return n, nil, err
			}
			n += k
			d.done = true
		}
	}
	return n, nil, nil
}

// EOF tells the decoder the connection reached end of file. It returns
// nil when that ends a close-delimited body, and an error when the body
// was cut short.
func (d *BodyDecoder) EOF() error {
	if d.done {
		return nil
	}
	if d.framing == FrameClose {
		d.done = true
		return nil
	}
	return perr(d.status(), 0, "connection closed before the end of the body")
}

func (d *BodyDecoder) status() int {
	if d.limited {
		return 400
	}
	return 502
}

func (d *BodyDecoder) count(k int64) error {
	d.total += k
	if d.limited && d.Limits.MaxBody > 0 && d.total > d.Limits.MaxBody {
		return perr(413, 0, "body larger than the limit")
	}
	return nil
}

// trailers parses the trailer section after the last chunk: either a
// lone CRLF or fields up to an empty line.
func (d *BodyDecoder) trailers(in []byte, m *htx.Message) (int, error) {
	switch {
	case len(in) == 0, len(in) == 1 && in[0] == '\r':
		return 0, ErrNeedMore
	case in[0] == '\n':
		return 1, nil
	case in[0] == '\r' && in[1] == '\n':
		return 2, nil
	}
	// findEnd looks for an empty line after the first; trailers start at
	// a field line, so a fake leading line keeps the logic shared.
	end, err := d.tp.findEnd(in, false)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Status = d.status()
			e.Reason = "trailer section larger than the buffer"
		}
		return 0, err
	}
	d.tp.Reset()
	h := headState{status: d.status()}
	if err := parseFields(in[:end], 0, m, d.Limits, &h, true); err != nil {
		return 0, err
	}
	return end, nil
}

// parseChunkLine reads chunk-size [ chunk-ext ] with its optional CR. Chunk
// extensions are tolerated and dropped; their characters are still
// checked so a CR or NUL cannot hide in them.
func parseChunkLine(line []byte) (int64, error) {
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	var size int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			goto ext
		}
		if i >= 15 {
			return 0, errChunkSize
		}
		size = size<<4 | int64(v)
	}
ext:
	if i == 0 {
		return 0, errChunkSize
	}
	rest := line[i:]
	// BWS before ';' is allowed by RFC 9112 §7.1.1.
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 {
		if rest[0] != ';' {
			return 0, errChunkSize
		}
		for _, c := range rest {
			if !vchar[c] {
				return 0, errChunkExt
			}
		}
	}
	return size, nil
}

type chunkErr string

func (e chunkErr) Error() string { return string(e) }

const (
	errChunkSize = chunkErr("malformed chunk size")
	errChunkExt  = chunkErr("invalid character in chunk extension")
)
