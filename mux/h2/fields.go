package h2

import (
	"encoding/binary"
	"strconv"
	"unsafe"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// onField receives each decoded field of the header block being read,
// checks it against RFC 9113 §8 and stores it in the message. A field
// list over the limit or malformed is still decoded to its end, since
// the HPACK state is shared by the whole connection.
func (m *Mux) onField(f hpack.HeaderField) {
	hs := &m.hs
	hs.listSize += len(f.Name) + len(f.Value) + 32
	if hs.listSize > int(m.cfg.MaxHeaderListSize) {
		hs.oversize = true
	}
	if hs.kind == hdrDiscard || hs.rst || hs.oversize || hs.bad != "" {
		return
	}
	name, value := f.Name, f.Value
	if !validValue(value) {
		hs.bad = "invalid value in field " + strconv.Quote(name)
		return
	}
	if len(name) > 0 && name[0] == ':' {
		hs.pseudoField(name, value)
		return
	}
	hs.sawRegular = true
	if !validName(name) {
		hs.bad = "invalid field name " + strconv.Quote(name)
		return
	}
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		hs.bad = "connection-specific field " + name
		return
	case "te":
		if value != "trailers" {
			hs.bad = "te other than trailers"
			return
		}
	case "content-length":
		if hs.kind == hdrTrailers {
			break
		}
		n, ok := parseLength(value)
		if !ok || (hs.clSet && n != hs.cl) {
			hs.bad = "invalid content-length " + strconv.Quote(value)
			return
		}
		if hs.clSet {
			return
		}
		hs.clSet, hs.cl = true, n
	case "cookie":
		if hs.kind != hdrTrailers {
			// Crumbs are joined as HTTP/1 needs them (RFC 9113 §8.2.3).
			if len(hs.cookie) > 0 {
				hs.cookie = append(hs.cookie, "; "...)
			}
			hs.cookie = append(hs.cookie, value...)
			return
		}
	}
	if hs.kind == hdrTrailers {
		hs.msg.AddTrailer(name, value)
		return
	}
	hs.msg.Add(name, value)
}

func (hs *headerState) pseudoField(name, value string) {
	if hs.sawRegular {
		hs.bad = "pseudo-header " + name + " after regular fields"
		return
	}
	var bit uint8
	var dst *string
	switch hs.kind {
	case hdrRequest:
		switch name {
		case ":method":
			bit, dst = pMethod, &hs.method
		case ":scheme":
			bit, dst = pScheme, &hs.scheme
		case ":authority":
			bit, dst = pAuthority, &hs.authority
		case ":path":
			bit, dst = pPath, &hs.path
		case ":protocol":
			hs.bad = "extended CONNECT is not supported"
			return
		}
	case hdrResponse:
		if name == ":status" {
			bit, dst = pStatus, &hs.status
		}
	}
	if dst == nil {
		hs.bad = "unexpected pseudo-header " + name
		return
	}
	if hs.pseudo&bit != 0 {
		hs.bad = "duplicate pseudo-header " + name
		return
	}
	hs.pseudo |= bit
	*dst = value
}

// finishRequest turns the pseudo-headers into the request line and
// returns what is malformed, or "".
func (hs *headerState) finishRequest() string {
	msg := hs.msg
	if hs.pseudo&pMethod == 0 {
		return "missing :method"
	}
	if !validToken(hs.method) {
		return "invalid :method"
	}
	if hs.method == "CONNECT" {
		if hs.pseudo&(pScheme|pPath) != 0 {
			return "CONNECT with :scheme or :path"
		}
		if hs.authority == "" {
			return "CONNECT without :authority"
		}
		msg.SetRequest(hs.method, "", hs.authority, "")
		msg.Form = htx.FormAuthority
	} else {
		if hs.pseudo&pScheme == 0 || hs.pseudo&pPath == 0 {
			return "missing :scheme or :path"
		}
		if hs.path == "" {
			return "empty :path"
		}
		if hs.path == "*" {
			if hs.method != "OPTIONS" {
				return ":path * on a method other than OPTIONS"
			}
			msg.Form = htx.FormAsterisk
		} else if hs.path[0] != '/' && (hs.scheme == "http" || hs.scheme == "https") {
			return ":path is not an absolute path"
		}
		msg.SetRequest(hs.method, hs.scheme, hs.authority, hs.path)
	}
	msg.Version = htx.Version20
	if len(hs.cookie) > 0 {
		msg.AddBytes([]byte("cookie"), hs.cookie)
	}
	if hs.clSet {
		msg.Flags |= htx.FlagContentLength
		msg.ContentLength = hs.cl
	}
	if hs.endStream {
		msg.Flags |= htx.FlagBodyless
	}
	if v, ok := msg.Get("expect"); ok && htx.EqualFold(v, "100-continue") {
		msg.Flags |= htx.FlagExpectContinue
	}
	return ""
}

// finishResponse turns :status into the status line and returns what is
// malformed, or "".
func (hs *headerState) finishResponse(s *Stream) string {
	msg := hs.msg
	if hs.pseudo&pStatus == 0 {
		return "missing :status"
	}
	status, err := strconv.Atoi(hs.status)
	if err != nil || len(hs.status) != 3 || status < 100 || status > 599 {
		return "invalid :status " + strconv.Quote(hs.status)
	}
	if status == 101 {
		return "101 is not allowed in HTTP/2"
	}
	if status < 200 && hs.endStream {
		return "interim response ends the stream"
	}
	msg.SetResponse(status, "")
	msg.Version = htx.Version20
	if len(hs.cookie) > 0 {
		msg.AddBytes([]byte("cookie"), hs.cookie)
	}
	if hs.clSet {
		msg.Flags |= htx.FlagContentLength
		msg.ContentLength = hs.cl
	}
	switch {
	case s.reqConnect && status >= 200 && status < 300:
		msg.Flags |= htx.FlagTunnel
	case s.reqHead || htx.BodylessStatus(status):
		msg.Flags |= htx.FlagBodyless
	case hs.endStream && !hs.clSet:
		// No body and no length: say so, so that an HTTP/1 client is
		// not left reading to the connection's close.
		msg.Flags |= htx.FlagContentLength
		msg.ContentLength = 0
	}
	return ""
}

func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// validName accepts a lower-case token (RFC 9113 §8.2.1).
func validName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if 'A' <= c && c <= 'Z' || !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return true
}

func validToken(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if !httpguts.IsTokenRune(rune(n[i])) {
			return false
		}
	}
	return true
}

// validValue refuses NUL, CR, LF and leading or trailing whitespace
// (RFC 9113 §8.2.1).
func validValue(v string) bool {
	if v == "" {
		return true
	}
	if c := v[0]; c == ' ' || c == '\t' {
		return false
	}
	if c := v[len(v)-1]; c == ' ' || c == '\t' {
		return false
	}
	return httpguts.ValidHeaderFieldValue(v)
}

// encode adds one field, its name in lower case, to the header block
// being built. Called with the writer held.
func (m *Mux) encode(name, value []byte) {
	e := m.henc
	if e == nil {
		e = m.newEncoder()
	}
	m.hblock = e.field(m.hblock, name, value)
}

// encodeString is encode for strings, which it only reads.
func (m *Mux) encodeString(name, value string) {
	m.encode(unsafe.Slice(unsafe.StringData(name), len(name)), unsafe.Slice(unsafe.StringData(value), len(value)))
}

// initialHeaderTable is SETTINGS_HEADER_TABLE_SIZE's initial value (RFC
// 9113 §6.5.2), the largest table the encoder uses.
const initialHeaderTable = 4096

// newEncoder makes the HPACK encoder again after an idle connection let
// go of it (trimIdle). The peer's decoder still holds the entries the
// former one indexed: the first block sets the table's size to zero,
// which empties it, then back to what the peer allows, up to
// initialHeaderTable (RFC 7541 §4.2). Called with the writer held.
func (m *Mux) newEncoder() *hpackEncoder {
	e := newHPACKEncoder(0, m.peerTable)
	// The table grows back to the protocol's initial size at most, as a
	// fresh connection's does, whatever larger size the peer allows: a
	// peer's SETTINGS may offer up to 4 GiB, which the connection would
	// then fill with every distinct field it sends.
	e.minSize = 0
	e.setMaxSize(m.peerTable)
	m.henc = e
	return e
}

// encodeFields adds a message's fields (or trailers), lower-cased,
// leaving out what HTTP/2 carries otherwise or forbids. skipHost drops
// Host when :authority carries it.
func (m *Mux) encodeFields(msg *htx.Message, trailers, skipHost bool) {
	n := msg.NumFields()
	if trailers {
		n = msg.NumTrailers()
	}
	for i := 0; i < n; i++ {
		var name, value []byte
		if trailers {
			name, value = msg.Trailer(i)
		} else {
			if msg.IsHopByHop(i) {
				continue
			}
			name, value = msg.Field(i)
		}
		ln := m.lowerName(name)
		switch string(ln) {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "content-length":
			continue
		case "host":
			if skipHost {
				continue
			}
		}
		m.encode(ln, value)
	}
}

// encodeInt encodes a field with a decimal value.
func (m *Mux) encodeInt(name string, n int64) {
	m.num = strconv.AppendInt(m.num[:0], n, 10)
	m.encode(unsafe.Slice(unsafe.StringData(name), len(name)), m.num)
}

// lowerName returns b in lower case, in scratch space valid until the
// next call.
func (m *Mux) lowerName(b []byte) []byte {
	m.lower = append(m.lower[:0], b...)
	for i, c := range m.lower {
		if 'A' <= c && c <= 'Z' {
			m.lower[i] = c + 'a' - 'A'
		}
	}
	return m.lower
}

// writeBlock writes the header block in m.hblock as HEADERS and as many
// CONTINUATION frames as the peer's frame size needs. Called with the
// writer held, which also guards peerMaxFrame's changes.
func (m *Mux) writeBlock(id uint32, endStream bool) error {
	block := m.hblock
	limit := int(m.peerMaxFrame)
	typ := http2.FrameHeaders
	for first := true; first || len(block) > 0; first = false {
		frag := block
		if len(frag) > limit {
			frag = frag[:limit]
		}
		block = block[len(frag):]
		var flags http2.Flags
		if len(block) == 0 {
			flags |= http2.FlagHeadersEndHeaders
		}
		if first && endStream {
			flags |= http2.FlagHeadersEndStream
		}
		if err := m.writeFrameHeader(typ, flags, id, len(frag)); err != nil {
			return err
		}
		if err := m.bw.copyIn(frag); err != nil {
			return err
		}
		typ = http2.FrameContinuation
	}
	return nil
}

// writeFrameHeader writes a frame's header into the buffered writer.
// Called with the writer held.
func (m *Mux) writeFrameHeader(typ http2.FrameType, flags http2.Flags, id uint32, n int) error {
	h := &m.fhdr
	h[0], h[1], h[2] = byte(n>>16), byte(n>>8), byte(n)
	h[3] = byte(typ)
	h[4] = byte(flags)
	binary.BigEndian.PutUint32(h[5:], id&(1<<31-1))
	return m.bw.copyIn(h[:])
}

func statusText(status int) string {
	switch status {
	case 200:
		return "200"
	case 204:
		return "204"
	case 206:
		return "206"
	case 304:
		return "304"
	case 400:
		return "400"
	case 404:
		return "404"
	case 500:
		return "500"
	}
	return strconv.Itoa(status)
}
