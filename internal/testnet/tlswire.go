package testnet

import (
	"bytes"
	"net"
	"testing"
)

// Tap is a connection that keeps a copy of what it reads (In) and of
// what it writes (Out), for tests that look at the bytes on the wire.
type Tap struct {
	net.Conn
	In, Out bytes.Buffer
}

// Read reads from the connection and keeps a copy.
func (w *Tap) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	w.In.Write(p[:n])
	return n, err
}

// Write keeps a copy and writes to the connection.
func (w *Tap) Write(p []byte) (int, error) {
	w.Out.Write(p)
	return w.Conn.Write(p)
}

// hrrRandom marks a HelloRetryRequest (RFC 8446, 4.1.3).
var hrrRandom = []byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// HelloIDs returns the random and the session id of the first hello of
// type typ (1 ClientHello, 2 ServerHello, a HelloRetryRequest skipped) in
// the plaintext TLS records at the start of raw, and fails t when there
// is none.
func HelloIDs(t testing.TB, raw []byte, typ byte) (random, sid []byte) {
	t.Helper()
	var msgs []byte
	for len(raw) >= 5 && (raw[0] == 22 || raw[0] == 20) {
		n := int(raw[3])<<8 | int(raw[4])
		if raw[0] == 22 {
			msgs = append(msgs, raw[5:5+n]...)
		}
		raw = raw[5+n:]
	}
	for len(msgs) >= 4 {
		n := 4 + (int(msgs[1])<<16 | int(msgs[2])<<8 | int(msgs[3]))
		m := msgs[:n]
		msgs = msgs[n:]
		if m[0] == typ && !bytes.Equal(m[6:38], hrrRandom) {
			return m[6:38], m[39 : 39+int(m[38])]
		}
	}
	t.Fatalf("no hello of type %d", typ)
	return nil, nil
}
