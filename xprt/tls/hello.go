package tls

import (
	"net"
	"syscall"
)

// helloRecorder is a connection's socket while its hellos may still be
// crossing it: it copies what crypto/tls reads, until the handshake has
// the ClientHello (keepHello) or is over (finishKeys), so that the
// message can be kept as the client sent it; with tapOut, it copies what
// crypto/tls writes too, for the other hello. It holds no bytes of its
// own: its socket is the connection's, for the idle poller too.
type helloRecorder struct {
	net.Conn
	buf  []byte
	done bool
	// out is what was written while tapOut holds.
	out    []byte
	tapOut bool
}

// maxHelloRecord bounds what is recorded: TLS records of a ClientHello
// (16 KiB each at most), and the message that spans them.
const maxHelloRecord = 64 << 10

func (r *helloRecorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if !r.done && n > 0 {
		r.buf = appendCapped(r.buf, p[:n])
	}
	return n, err
}

func (r *helloRecorder) Write(p []byte) (int, error) {
	if r.tapOut {
		r.out = appendCapped(r.out, p)
	}
	return r.Conn.Write(p)
}

// appendCapped appends what fits under maxHelloRecord: what the hellos
// need is at the start, and a cut message is not one.
func appendCapped(b, p []byte) []byte {
	if room := maxHelloRecord - len(b); len(p) > room {
		p = p[:max(room, 0)]
	}
	return append(b, p...)
}

// SyscallConn is the socket's: the recorder keeps nothing unread.
func (r *helloRecorder) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := r.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, syscall.EINVAL
}

// keepHello takes the ClientHello message out of what the recorder saw
// and stops it; nothing when the conn does not record.
func (c *Conn) keepHello() {
	r := c.rec
	if r == nil || r.done {
		return
	}
	hello := findHello(r.buf, 1)
	if c.keys != nil {
		c.keys.ClientRandom = helloRandom(hello)
	}
	if c.keepHelloMsg {
		c.hello = hello
	}
	r.done, r.buf = true, nil
}
