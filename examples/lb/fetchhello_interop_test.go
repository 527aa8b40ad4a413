package main

import (
	"bytes"
	stdtls "crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goHello returns the first flight of a Go TLS client on cfg: its
// ClientHello record.
func goHello(t *testing.T, cfg *stdtls.Config) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	cfg.InsecureSkipVerify = true
	go func() {
		// A config the client refuses ends the pipe, failing the read.
		_ = stdtls.Client(a, cfg).Handshake()
		_ = a.Close()
	}()
	buf := make([]byte, 16384)
	n, err := b.Read(buf)
	require.NoError(t, err)
	return append([]byte(nil), buf[:n]...)
}

// helloExt is one extension of a hand-made ClientHello.
type helloExt struct {
	typ  uint16
	data []byte
}

// craftHello builds a ClientHello record asking for version, offering
// one cipher suite and exts.
func craftHello(version uint16, exts ...helloExt) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, version)
	body = append(body, bytes.Repeat([]byte{7}, 32)...)
	body = append(body, 0)                // no session id
	body = append(body, 0, 2, 0x00, 0x2f) // one cipher suite
	body = append(body, 1, 0)             // null compression
	var e []byte
	for _, x := range exts {
		e = binary.BigEndian.AppendUint16(e, x.typ)
		e = binary.BigEndian.AppendUint16(e, uint16(len(x.data)))
		e = append(e, x.data...)
	}
	body = binary.BigEndian.AppendUint16(body, uint16(len(e)))
	body = append(body, e...)
	hs := append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	rec := []byte{0x16, 3, 1, byte(len(hs) >> 8), byte(len(hs))}
	return append(rec, hs...)
}

// alpnExt is an ALPN extension offering names.
func alpnExt(names ...string) helloExt {
	var list []byte
	for _, n := range names {
		list = append(list, byte(len(n)))
		list = append(list, n...)
	}
	return helloExt{16, append([]byte{byte(len(list) >> 8), byte(len(list))}, list...)}
}

// helloCfg copies each ClientHello fetch into a variable (once the
// fetch has decided) that the log line shows, and routes by ALPN.
func helloCfg(port int, srv map[string]string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option dontlognull
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    log-format "H ver=%%[var(sess.ver)] alpn=%%[var(sess.alpn)] ec=%%[var(sess.ec)] st=%%[var(sess.st)] v2=%%[var(sess.v2)] be=%%b"
    tcp-request inspect-delay 2s
    tcp-request content set-var(sess.ver) req.ssl_ver if { req.ssl_ver -m found }
    tcp-request content set-var(sess.v2) req_ssl_ver if { req_ssl_ver -m found }
    tcp-request content set-var(sess.alpn) req.ssl_alpn if { req.ssl_alpn -m found }
    tcp-request content set-var(sess.ec) req.ssl_ec_ext if { req.ssl_ec_ext -m found }
    tcp-request content set-var(sess.st) req.ssl_st_ext if { req.ssl_st_ext -m found }
    use_backend acme if { req.ssl_alpn acme-tls/1 }
    use_backend old if { req.ssl_ver lt 3.3 }
    default_backend d
backend acme
    server a %s
backend old
    server o %s
backend d
    server d %s
`, port, srv["acme"], srv["old"], srv["d"])
}

// TestInteropClientHelloFetchesMatchHAProxy sends ClientHellos from Go
// clients and hand-made ones (ALPN lists, no curves extension, a session
// ticket, an SSLv2 hello, plain text, a hello in two pieces) through
// haproxy and lb, which log what req.ssl_ver, req.ssl_alpn,
// req.ssl_ec_ext and req.ssl_st_ext gave and the backend ALPN and the
// version chose: the lines must be equal.
func TestInteropClientHelloFetchesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := greeters(t, "acme", "old", "d")
	sslv2 := []byte{0x80, 28, 1, 3, 1, 0, 3, 0, 0, 0, 16, 0, 0, 0x2f}
	sslv2 = append(sslv2, bytes.Repeat([]byte{9}, 16)...)
	twoPieces := goHello(t, &stdtls.Config{NextProtos: []string{"h2", "acme-tls/1"}})
	cases := []contentCase{
		{name: "go acme", pieces: [][]byte{goHello(t, &stdtls.Config{NextProtos: []string{"acme-tls/1"}})}},
		{name: "go h2 then acme, in two pieces", pieces: [][]byte{twoPieces[:30], twoPieces[30:]}, pause: 100 * time.Millisecond},
		{name: "go tls1.0 no tickets", pieces: [][]byte{goHello(t, &stdtls.Config{MinVersion: stdtls.VersionTLS10, MaxVersion: stdtls.VersionTLS10, SessionTicketsDisabled: true})}},
		{name: "crafted ticket", pieces: [][]byte{craftHello(0x0303, helloExt{35, []byte{1, 2, 3}}, alpnExt("http/1.1", ""))}},
		{name: "crafted empty ticket, curves", pieces: [][]byte{craftHello(0x0302, helloExt{35, nil}, helloExt{10, []byte{0, 2, 0, 23}})}},
		{name: "crafted bad alpn", pieces: [][]byte{craftHello(0x0303, helloExt{16, []byte{0, 5, 9, 'a'}})}},
		{name: "crafted ssl3", pieces: [][]byte{craftHello(0x0300)}},
		{name: "sslv2", pieces: [][]byte{sslv2}},
		{name: "plain", pieces: [][]byte{[]byte("GET / HTTP/1.0\r\n\r\n")}},
		{name: "cut hello", pieces: [][]byte{twoPieces[:40]}, fin: true},
	}
	hLines := func(out func() string) []string {
		var lines []string
		for _, l := range strings.Split(out(), "\n") {
			if strings.HasPrefix(l, "H ") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	run := func(addr string, out func() string, base int) []string {
		require.Eventually(t, func() bool { return len(hLines(out)) == base }, 5*time.Second, 10*time.Millisecond)
		var got []string
		for _, tc := range cases {
			res := route(t, addr, []contentCase{tc})
			var lines []string
			require.Eventually(t, func() bool {
				lines = hLines(out)
				return len(lines) == base+len(got)+1
			}, 5*time.Second, 10*time.Millisecond, "%s: %s", tc.name, out())
			got = append(got, tc.name+" -> "+res[tc.name]+": "+lines[len(lines)-1])
		}
		return got
	}
	port := freePorts(t, 1)[0]
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	want := run(addr, startHAProxy(t, helloCfg(port, srv), func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}), 1) // the readiness probe reached a server, and is logged
	b, logs, mu := startInProcess(t, helloCfg(freePorts(t, 1)[0], srv))
	got := run(b.Addrs("f")[0].String(), func() string {
		mu.Lock()
		defer mu.Unlock()
		return logs.String()
	}, 0)
	assert.Equal(t, want, got)
	require.Len(t, got, len(cases))
	assert.Equal(t, "go acme -> acme: H ver=196611 alpn=acme-tls/1 ec=1 st=0 v2=196611 be=acme", got[0])
	t.Logf("%q", got)
}
