package tls_test

import (
	stdtls "crypto/tls"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// A bind that captures hellos keeps each client's ClientHello message as
// it came: its type and length, the suites offered in their order, the
// server name; one that does not keeps nothing.
func TestCaptureHello(t *testing.T) {
	p := newPKI(t)
	crt := p.leaf("a.pem", leafOpts{cn: "a.test", dns: []string{"a.test"}})
	for _, capture := range []bool{true, false} {
		in, err := ptls.NewInbound(ptls.BindConfig{Crt: []string{crt}, CaptureHello: capture}, nil)
		require.NoError(t, err)
		s := serve(t, in, "")
		suites := []uint16{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, stdtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305}
		c, err := stdtls.Dial("tcp", s.addr, &stdtls.Config{ServerName: "a.test", InsecureSkipVerify: true, MaxVersion: stdtls.VersionTLS12, CipherSuites: suites})
		require.NoError(t, err)
		_ = c.Close()
		info := testnet.Signalled(t, s.infos, "the handshake")
		if !capture {
			require.Nil(t, info.ClientHello)
			continue
		}
		h := info.ClientHello
		require.GreaterOrEqual(t, len(h), 4+2+32+1)
		require.Equal(t, byte(1), h[0], "a ClientHello")
		require.Equal(t, len(h)-4, int(h[1])<<16|int(h[2])<<8|int(h[3]))
		require.Equal(t, uint16(0x0303), binary.BigEndian.Uint16(h[4:]))
		sid := int(h[38])
		n := int(binary.BigEndian.Uint16(h[39+sid:]))
		var got []uint16
		for i := 0; i < n; i += 2 {
			got = append(got, binary.BigEndian.Uint16(h[41+sid+i:]))
		}
		require.Equal(t, suites, got[:2], "the suites as offered")
		require.Contains(t, string(h), "a.test")
	}
	// OpenSSL's names, for suites crypto/tls lacks too.
	for id, want := range map[uint16]string{0xC02F: "ECDHE-RSA-AES128-GCM-SHA256", 0x009F: "DHE-RSA-AES256-GCM-SHA384", 0x1301: "TLS_AES_128_GCM_SHA256", 0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"} {
		got, ok := ptls.OpenSSLCipherName(id)
		require.True(t, ok)
		require.Equal(t, want, got)
	}
	_, ok := ptls.OpenSSLCipherName(0x0A0A)
	require.False(t, ok, "GREASE")
}
