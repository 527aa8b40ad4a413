package tls

import (
	"net"
	"syscall"
)

// helloRecorder is a server connection's socket while its ClientHello
// may still be arriving: it copies what crypto/tls reads, until the
// handshake has the hello (keepHello), so that the message can be kept
// as the client sent it. It holds no bytes of its own: its socket is
// the connection's, for the idle poller too.
type helloRecorder struct {
	net.Conn
	buf  []byte
	done bool
}

// maxHelloRecord bounds what is recorded: TLS records of a ClientHello
// (16 KiB each at most), and the message that spans them.
const maxHelloRecord = 64 << 10

func (r *helloRecorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if !r.done && n > 0 {
		if len(r.buf)+n > maxHelloRecord {
			r.done, r.buf = true, nil
		} else {
			r.buf = append(r.buf, p[:n]...)
		}
	}
	return n, err
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
	c.hello = helloMessage(r.buf)
	r.done, r.buf = true, nil
}

// helloMessage joins the handshake records at the start of raw into the
// ClientHello message they carry: its type, 3-byte length and body. It
// returns nil when raw does not start with a whole one.
func helloMessage(raw []byte) []byte {
	var msg []byte
	for len(raw) >= 5 && raw[0] == 22 {
		n := int(raw[3])<<8 | int(raw[4])
		if len(raw) < 5+n {
			return nil
		}
		msg = append(msg, raw[5:5+n]...)
		raw = raw[5+n:]
		if len(msg) >= 4 {
			if total := 4 + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])); len(msg) >= total {
				if msg[0] != 1 {
					return nil
				}
				return msg[:total:total]
			}
		}
	}
	return nil
}
