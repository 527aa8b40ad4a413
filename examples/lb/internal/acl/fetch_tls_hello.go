package acl

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// What a TLS client offered in its ClientHello, as HAProxy keeps it under
// tune.ssl.capture-buffer-size (the JA3 fingerprint's parts): the hello's
// version (ssl_fc_protocol_hello_id), its cipher suites
// (ssl_fc_cipherlist_bin, _hex, _str, and _xxh, a hash of the whole
// list), its extensions' types (ssl_fc_extlist_bin), its supported groups
// (ssl_fc_eclist_bin) and point formats (ssl_fc_ecformats_bin). The
// buffer holds the suites, then the extensions, the groups and the
// formats, each cut to the room the ones before left; without the
// setting, or on a plain connection, there is no sample. An argument of
// 1 leaves out the GREASE values (RFC 8701).

// HelloCaptureContext is a TLSContext that tells the capture buffer's
// size (tune.ssl.capture-buffer-size), 0 for none.
type HelloCaptureContext interface {
	TLSContext
	HelloCaptureSize() int
}

// helloCapture is what the buffer holds of one ClientHello.
type helloCapture struct {
	version                        int
	ciphers, exts, groups, formats []byte
	xxh                            uint64
}

// captureHello reads a ClientHello handshake message into what a buffer
// of size bytes keeps of it; ok is false for a message that is not one.
func captureHello(msg []byte, size int) (hc helloCapture, ok bool) {
	if len(msg) < 4+2+32+1 || msg[0] != 1 || int(msg[1])<<16|int(msg[2])<<8|int(msg[3]) != len(msg)-4 {
		return hc, false
	}
	p := msg[4:]
	hc.version = int(binary.BigEndian.Uint16(p))
	p = p[34:]
	take := func(lenBytes int) ([]byte, bool) {
		if len(p) < lenBytes {
			return nil, false
		}
		n := 0
		for i := range lenBytes {
			n = n<<8 | int(p[i])
		}
		if len(p) < lenBytes+n {
			return nil, false
		}
		v := p[lenBytes : lenBytes+n]
		p = p[lenBytes+n:]
		return v, true
	}
	var ciphers, exts []byte
	if _, ok = take(1); !ok { // session id
		return hc, false
	}
	if ciphers, ok = take(2); !ok {
		return hc, false
	}
	if _, ok = take(1); !ok { // compression methods
		return hc, false
	}
	if len(p) > 0 {
		if exts, ok = take(2); !ok {
			return hc, false
		}
	}
	hc.xxh = XXH64(ciphers, 0)
	room := size
	keep := func(b []byte) []byte {
		b = b[:min(len(b), room)]
		room -= len(b)
		return b
	}
	hc.ciphers = keep(ciphers)
	var types []byte
	var groups, formats []byte
	for len(exts) >= 4 {
		t := binary.BigEndian.Uint16(exts)
		n := int(binary.BigEndian.Uint16(exts[2:]))
		if n > len(exts)-4 {
			return hc, false
		}
		data := exts[4 : 4+n]
		types = binary.BigEndian.AppendUint16(types, t)
		switch {
		case t == 10 && len(data) >= 2:
			if l := int(binary.BigEndian.Uint16(data)); l <= len(data)-2 {
				groups = data[2 : 2+l]
			}
		case t == 11 && len(data) >= 1:
			if l := int(data[0]); l <= len(data)-1 {
				formats = data[1 : 1+l]
			}
		}
		exts = exts[4+n:]
	}
	hc.exts, hc.groups, hc.formats = keep(types), keep(groups), keep(formats)
	return hc, true
}

// grease reports whether a 16-bit value is one RFC 8701 reserves.
func grease(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// noGrease is the list of 16-bit values without the GREASE ones.
func noGrease(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i+1 < len(b); i += 2 {
		if !grease(binary.BigEndian.Uint16(b[i:])) {
			out = append(out, b[i], b[i+1])
		}
	}
	return out
}

func init() {
	hello := func(name string, t Type, arg ArgMode, fn func(hc helloCapture, filter bool) (Sample, bool)) {
		RegisterFetch(Fetch{Name: name, Type: t, Arg: arg, Compile: func(a string) (FetchFunc, error) {
			filter := false
			if a = strings.TrimSpace(a); a != "" {
				n, err := strconv.Atoi(a)
				if err != nil {
					return nil, fmt.Errorf("expects an integer argument (1 leaves out GREASE values), not '%s'", a)
				}
				filter = n != 0
			}
			return func(c Context) (Sample, bool) {
				hcc, ok := c.(HelloCaptureContext)
				if !ok {
					return Sample{}, false
				}
				size := hcc.HelloCaptureSize()
				info := hcc.TLSInfo()
				if size <= 0 || !info.TLS || info.ClientHello == nil {
					return Sample{}, false
				}
				hc, ok := captureHello(info.ClientHello, size)
				if !ok {
					return Sample{}, false
				}
				return fn(hc, filter)
			}, nil
		}})
	}
	list := func(pick func(hc helloCapture) []byte) func(hc helloCapture, filter bool) (Sample, bool) {
		return func(hc helloCapture, filter bool) (Sample, bool) {
			b := pick(hc)
			if filter {
				b = noGrease(b)
			}
			return Str(string(b)), true
		}
	}
	hello("ssl_fc_protocol_hello_id", TypeInt, ArgNone, func(hc helloCapture, _ bool) (Sample, bool) {
		return Int(int64(hc.version)), true
	})
	ciphers := list(func(hc helloCapture) []byte { return hc.ciphers })
	hello("ssl_fc_cipherlist_bin", TypeStr, ArgOptional, ciphers)
	hello("ssl_fc_cipherlist_hex", TypeStr, ArgOptional, func(hc helloCapture, filter bool) (Sample, bool) {
		s, _ := ciphers(hc, filter)
		return Str(strings.ToUpper(hex.EncodeToString([]byte(s.Str)))), true
	})
	hello("ssl_fc_cipherlist_str", TypeStr, ArgOptional, func(hc helloCapture, filter bool) (Sample, bool) {
		s, _ := ciphers(hc, filter)
		var sb strings.Builder
		for i := 0; i+1 < len(s.Str); i += 2 {
			if i > 0 {
				sb.WriteByte(',')
			}
			id := binary.BigEndian.Uint16([]byte(s.Str[i:]))
			if name, ok := tls.OpenSSLCipherName(id); ok {
				sb.WriteString(name)
			} else {
				fmt.Fprintf(&sb, "UNKNOWN(%04x)", id)
			}
		}
		return Str(sb.String()), true
	})
	hello("ssl_fc_cipherlist_xxh", TypeInt, ArgNone, func(hc helloCapture, _ bool) (Sample, bool) {
		return Int(int64(hc.xxh)), true
	})
	hello("ssl_fc_extlist_bin", TypeStr, ArgOptional, list(func(hc helloCapture) []byte { return hc.exts }))
	hello("ssl_fc_eclist_bin", TypeStr, ArgOptional, list(func(hc helloCapture) []byte { return hc.groups }))
	hello("ssl_fc_ecformats_bin", TypeStr, ArgNone, func(hc helloCapture, _ bool) (Sample, bool) {
		return Str(string(hc.formats)), true
	})
	for _, name := range []string{"ssl_fc_protocol_hello_id", "ssl_fc_cipherlist_bin", "ssl_fc_cipherlist_hex",
		"ssl_fc_cipherlist_str", "ssl_fc_cipherlist_xxh", "ssl_fc_eclist_bin", "ssl_fc_ecformats_bin", "ssl_fc_extlist_bin"} {
		delete(unavailableTLSFetches, name)
	}
}
