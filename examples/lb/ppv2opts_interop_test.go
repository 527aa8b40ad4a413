package main

import (
	"bufio"
	stdtls "crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/stretchr/testify/require"
)

// ppv2Peer reads each connection's PROXY header and answers one line
// telling its TLVs, in the order they came.
func ppv2Peer(t *testing.T) string {
	t.Helper()
	return serveEach(t, func(c net.Conn) {
		var h conn.ProxyHeader
		if err := conn.ReadProxyHeader(c, &h, 0); err != nil {
			_, _ = fmt.Fprintf(c, "bad proxy header: %v\n", err)
			return
		}
		var parts []string
		for typ, v := range h.TLVs() {
			switch typ {
			case conn.TLVCRC32C:
				parts = append(parts, "crc32c") // the parser checked it
			case conn.TLVSSL:
				s, _ := h.SSL()
				parts = append(parts, fmt.Sprintf("ssl(client=%d verify=%d version=%s cn=%s cipher=%s)", s.Client, s.Verify, s.Version, s.CN, s.Cipher))
			default:
				parts = append(parts, fmt.Sprintf("0x%02x=%s", uint8(typ), v))
			}
		}
		_, _ = fmt.Fprintf(c, "v%d %s\n", h.Version, strings.Join(parts, " "))
	})
}

// TestInteropProxyV2OptionsMatchHAProxy: proxy-v2-options (crc32c,
// authority, unique-id, ssl, cert-cn, ssl-cipher) put the same TLVs, in
// the same order, into the v2 header haproxy and lb send, for a plain
// client, a TLS client with ALPN and a certificate, and a client whose
// own PROXY header brought an authority.
func TestInteropProxyV2OptionsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	pki := newPKI(t, "ppv2")
	front := pki.issue("front.pem", "front.test", []string{"front.test"}, false, false)
	clientPEM := pki.issue("client.pem", "alice", nil, false, true)
	cert, err := stdtls.LoadX509KeyPair(clientPEM, clientPEM)
	require.NoError(t, err)
	caPEM, err := os.ReadFile(pki.caFile)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	peer := ppv2Peer(t)
	const opts = "send-proxy-v2 proxy-v2-options crc32c,authority,unique-id,ssl,cert-cn,ssl-cipher"
	run := func(start func(text string)) []string {
		p := freePorts(t, 4)
		start(fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    unique-id-format id-%%[src]
listen plain
    bind 127.0.0.1:%[1]d
    server s %[5]s %[6]s
listen tls
    bind 127.0.0.1:%[2]d ssl crt %[7]s alpn h2,http/1.1 ca-file %[8]s verify optional
    server s %[5]s %[6]s
listen fromproxy
    bind 127.0.0.1:%[3]d accept-proxy
    server s %[5]s %[6]s
listen sslonly
    bind 127.0.0.1:%[4]d
    server s %[5]s send-proxy-v2-ssl
`, p[0], p[1], p[2], p[3], peer, opts, front, pki.caFile))
		line := func(c net.Conn) string {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			l, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			_ = c.Close()
			return strings.TrimSpace(l)
		}
		var got []string
		got = append(got, "plain: "+line(dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[0]))))
		for _, withCert := range []bool{false, true} {
			cfg := &stdtls.Config{ServerName: "front.test", RootCAs: roots, NextProtos: []string{"h2"},
				MaxVersion: stdtls.VersionTLS12, CipherSuites: []uint16{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
			if withCert {
				cfg.Certificates = []stdtls.Certificate{cert}
			}
			c, err := stdtls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p[1]), cfg)
			require.NoError(t, err)
			got = append(got, fmt.Sprintf("tls cert=%v: %s", withCert, line(c)))
		}
		c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[2]))
		h := conn.NewProxyHeader(c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort())
		require.NoError(t, h.AddTLV(conn.TLVAuthority, []byte("told.example")))
		_, err = h.WriteTo(c)
		require.NoError(t, err)
		got = append(got, "fromproxy: "+line(c))
		got = append(got, "sslonly: "+line(dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[3]))))
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "what haproxy's server saw, then lb's")
	require.Equal(t, "plain: v2 crc32c 0x05=id-127.0.0.1 ssl(client=0 verify=0 version= cn= cipher=)", got[0])
}
