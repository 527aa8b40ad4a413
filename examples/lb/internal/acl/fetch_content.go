package acl

import "encoding/binary"

// The content fetches of "tcp-request content" rules: what the first
// bytes of a TCP-mode connection hold, read through ContentContext. On a
// Context without it they find no sample.

// ContentContext is a Context that holds the first bytes a TCP-mode
// client sent, for the req.* fetches.
type ContentContext interface {
	Context
	// Payload returns the bytes received so far (nil when the connection
	// shows none, as through TLS), and whether no more will be waited for
	// (the inspect delay is over, the buffer is full or the client ended
	// its side).
	Payload() (b []byte, final bool)
	// MayChange notes that a fetch found too few bytes to decide while
	// more may come: a rule that did not match then waits for them, as
	// HAProxy's do.
	MayChange()
}

func init() {
	content := func(names []string, t Type, fn func(c ContentContext, b []byte, final bool) (Sample, bool)) {
		for _, name := range names {
			RegisterFetch(Fetch{Name: name, Type: t, Compile: noArg(func(c Context) (Sample, bool) {
				cc, ok := c.(ContentContext)
				if !ok {
					return Sample{}, false
				}
				b, final := cc.Payload()
				return fn(cc, b, final)
			})})
		}
	}
	content([]string{"req.len", "req_len"}, TypeInt, func(c ContentContext, b []byte, final bool) (Sample, bool) {
		if b == nil {
			return Sample{}, false // no bytes to look at (a TLS connection's)
		}
		if !final {
			c.MayChange()
		}
		return Int(int64(len(b))), true
	})
	content([]string{"req.ssl_hello_type", "req_ssl_hello_type"}, TypeInt, func(c ContentContext, b []byte, final bool) (Sample, bool) {
		h, st := tlsHandshake(b)
		if st == helloShort && !final {
			c.MayChange()
		}
		if st != helloWhole {
			return Sample{}, false
		}
		return Int(int64(h[0])), true
	})
	content([]string{"req.ssl_sni", "req_ssl_sni"}, TypeStr, func(c ContentContext, b []byte, final bool) (Sample, bool) {
		h, st := tlsHandshake(b)
		if st == helloShort && !final {
			c.MayChange()
		}
		if st != helloWhole {
			return Sample{}, false
		}
		sni, ok := clientHelloSNI(h)
		return Str(sni), ok
	})
}

// What tlsHandshake found.
const (
	helloWhole = iota // a whole handshake message in the first record
	helloShort        // the start of one: more bytes are needed
	helloNone         // not a TLS handshake record
)

// tlsHandshake returns the handshake message at the start of the first
// TLS record in b (its 4-byte header included), as HAProxy's
// req_ssl_hello_type and req_ssl_sni read it: from one record, SSLv3 or
// later.
func tlsHandshake(b []byte) ([]byte, int) {
	if len(b) >= 1 && b[0] != 0x16 {
		return nil, helloNone
	}
	if len(b) >= 2 && b[1] < 3 {
		return nil, helloNone
	}
	if len(b) < 9 {
		return nil, helloShort
	}
	rec := int(binary.BigEndian.Uint16(b[3:5]))
	hs := 4 + (int(b[6])<<16 | int(b[7])<<8 | int(b[8]))
	if hs > rec {
		return nil, helloNone // a message split over records: not read, as in HAProxy
	}
	if len(b) < 5+hs {
		return nil, helloShort
	}
	return b[5 : 5+hs], helloWhole
}

// clientHelloSNI returns the server name a TLS ClientHello handshake
// message (its 4-byte header included) asks for, and false when it names
// none or is malformed.
func clientHelloSNI(h []byte) (string, bool) {
	if len(h) < 4 || h[0] != 1 {
		return "", false
	}
	p := h[4:]
	skip := func(n int) bool {
		if n > len(p) {
			return false
		}
		p = p[n:]
		return true
	}
	vec := func(lenBytes int) ([]byte, bool) {
		if len(p) < lenBytes {
			return nil, false
		}
		n := 0
		for _, c := range p[:lenBytes] {
			n = n<<8 | int(c)
		}
		p = p[lenBytes:]
		if n > len(p) {
			return nil, false
		}
		v := p[:n]
		p = p[n:]
		return v, true
	}
	if !skip(2 + 32) { // version, random
		return "", false
	}
	for _, n := range []int{1, 2, 1} { // session id, cipher suites, compression methods
		if _, ok := vec(n); !ok {
			return "", false
		}
	}
	exts, ok := vec(2)
	if !ok {
		return "", false
	}
	data, found, ok := findExtension(exts, 0) // server_name
	if !found || !ok {
		return "", false
	}
	p = data
	list, ok := vec(2)
	if !ok {
		return "", false
	}
	p = list
	for len(p) >= 3 {
		nameType := p[0]
		p = p[1:]
		name, ok := vec(2)
		if !ok {
			return "", false
		}
		if nameType == 0 && len(name) > 0 {
			return string(name), true
		}
	}
	return "", false
}
