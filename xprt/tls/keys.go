package tls

import (
	"bytes"
	stdtls "crypto/tls"
	"encoding/hex"
	"io"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// Key capture (BindConfig.CaptureKeys, ServerConfig.CaptureKeys): the
// randoms and the session id are read from the hellos as they crossed
// the socket, which the conn's recorder copies until the handshake is
// over; the secrets come from a key log written by crypto/tls into the
// conn (a per-conn config clone whose KeyLogWriter is the conn's). A
// resumed TLS 1.2 session logs no secret, so its master secret is taken
// from the session state the ticket or the client's cache gave back.

// hrrRandom is the random of a HelloRetryRequest (RFC 8446, 4.1.3),
// which is not the ServerHello whose random the keys are derived from.
var hrrRandom = []byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// findHello returns the first handshake message of type typ (1:
// ClientHello, 2: ServerHello, HelloRetryRequests skipped) among the
// plaintext records at the start of raw: its type, 3-byte length and
// body; nil when there is none whole, or, for a ClientHello, when
// another message comes first.
func findHello(raw []byte, typ byte) []byte {
	var msg []byte
	for len(raw) >= 5 {
		n := int(raw[3])<<8 | int(raw[4])
		if len(raw) < 5+n {
			return nil
		}
		switch raw[0] {
		case 20: // change_cipher_spec, between an HRR and the hello
			raw = raw[5+n:]
			continue
		case 22:
		default:
			return nil
		}
		msg = append(msg, raw[5:5+n]...)
		raw = raw[5+n:]
		for len(msg) >= 4 {
			total := 4 + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
			if len(msg) < total {
				break
			}
			m := msg[:total:total]
			msg = msg[total:]
			if m[0] != typ {
				if typ == 1 {
					return nil
				}
				continue
			}
			if typ == 2 && len(m) >= 38 && bytes.Equal(m[6:38], hrrRandom) {
				continue
			}
			return m
		}
	}
	return nil
}

// helloRandom returns a hello's random, nil when the message is too
// short to hold one.
func helloRandom(m []byte) []byte {
	if len(m) < 38 {
		return nil
	}
	return bytes.Clone(m[6:38])
}

// helloSessionID returns a hello's session id, nil when the message is
// too short to hold the one its length announces.
func helloSessionID(m []byte) []byte {
	if len(m) < 39 || len(m) < 39+int(m[38]) {
		return nil
	}
	return append([]byte{}, m[39:39+int(m[38])]...)
}

// keyLog is the KeyLogWriter of one conn: each NSS key log line crypto/tls
// writes fills the field of its label.
type keyLog struct{ k *xprt.TLSKeys }

func (w keyLog) Write(line []byte) (int, error) {
	f := bytes.Fields(line)
	if len(f) != 3 {
		return len(line), nil
	}
	secret := make([]byte, hex.DecodedLen(len(f[2])))
	if _, err := hex.Decode(secret, f[2]); err != nil {
		return len(line), nil
	}
	switch string(f[0]) {
	case "CLIENT_RANDOM":
		w.k.MasterSecret = secret
	case "CLIENT_HANDSHAKE_TRAFFIC_SECRET":
		w.k.ClientHandshakeTrafficSecret = secret
	case "SERVER_HANDSHAKE_TRAFFIC_SECRET":
		w.k.ServerHandshakeTrafficSecret = secret
	case "CLIENT_TRAFFIC_SECRET_0":
		w.k.ClientTrafficSecret0 = secret
	case "SERVER_TRAFFIC_SECRET_0":
		w.k.ServerTrafficSecret0 = secret
	}
	return len(line), nil
}

var _ io.Writer = keyLog{}

// sessionSecret returns the master secret a TLS 1.2 session state holds
// (its serialized form: version, type, suite, creation time, then the
// secret with a one-byte length); nil for other versions.
func sessionSecret(ss *stdtls.SessionState) []byte {
	b, err := ss.Bytes()
	if err != nil || len(b) < 14 {
		return nil
	}
	if v := uint16(b[0])<<8 | uint16(b[1]); v > stdtls.VersionTLS12 || v < stdtls.VersionTLS10 {
		return nil
	}
	n := int(b[13])
	if len(b) < 14+n {
		return nil
	}
	return bytes.Clone(b[14 : 14+n])
}

// serverKeysConfig returns the config a key-capturing server conn
// handshakes with: src (the config picked for the client) with the
// conn's key log, and the resumed session's secret noted. base decrypts
// tickets when src has no UnwrapSession of its own, with the keys the
// handshake itself uses.
func (c *Conn) serverKeysConfig(src, base *stdtls.Config) *stdtls.Config {
	cfg := src.Clone()
	cfg.KeyLogWriter = keyLog{c.keys}
	unwrap := src.UnwrapSession
	if unwrap == nil {
		unwrap = base.DecryptTicket
	}
	cfg.UnwrapSession = func(id []byte, cs stdtls.ConnectionState) (*stdtls.SessionState, error) {
		ss, err := unwrap(id, cs)
		if ss != nil {
			c.resumed = sessionSecret(ss)
		}
		return ss, err
	}
	return cfg
}

// sessionTap is a dialing conn's session cache: the session it hands
// out for resumption has its secret noted on the conn.
type sessionTap struct {
	stdtls.ClientSessionCache
	c *Conn
}

func (s sessionTap) Get(key string) (*stdtls.ClientSessionState, bool) {
	cs, ok := s.ClientSessionCache.Get(key)
	if ok && cs != nil {
		if _, ss, err := cs.ResumptionState(); err == nil && ss != nil {
			s.c.resumed = sessionSecret(ss)
		}
	}
	return cs, ok
}

// finishKeys reads the randoms and the session id out of what the
// recorder saw, once the handshake is over, and stops it.
func (c *Conn) finishKeys() {
	k, r := c.keys, c.rec
	if k == nil || c.keysDone {
		return
	}
	c.keysDone = true
	var sh []byte
	if c.client {
		k.ClientRandom = helloRandom(findHello(r.out, 1))
		sh = findHello(r.buf, 2)
	} else {
		sh = findHello(r.out, 2)
	}
	r.done, r.buf, r.tapOut, r.out = true, nil, false, nil
	cs := c.tc.ConnectionState()
	if sid := helloSessionID(sh); sid != nil {
		k.ServerRandom = helloRandom(sh)
		if cs.Version <= stdtls.VersionTLS12 {
			k.SessionID = sid
		}
	}
	if cs.Version <= stdtls.VersionTLS12 && k.MasterSecret == nil && cs.DidResume {
		k.MasterSecret = c.resumed
	}
	c.resumed = nil
}
