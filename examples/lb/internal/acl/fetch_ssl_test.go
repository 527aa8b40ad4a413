package acl

import (
	stdtls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/netip"
	"strings"
	"testing"

	"github.com/proxyblocks/proxyblocks/xprt"
	"github.com/stretchr/testify/require"
)

// tlsCtx is a connection context whose front side negotiated info.
type tlsCtx struct {
	plain
	info xprt.Info
}

func (c tlsCtx) TLSInfo() xprt.Info { return c.info }

func TestSSLFetches(t *testing.T) {
	addrs := plain{netip.MustParseAddrPort("10.0.0.1:4000"), netip.MustParseAddrPort("127.0.0.1:443")}
	tlsc := tlsCtx{plain: addrs, info: xprt.Info{
		TLS: true, Version: stdtls.VersionTLS13, CipherSuite: stdtls.TLS_AES_128_GCM_SHA256,
		ALPN: "h2", ServerName: "www.example.org", Resumed: true, Verified: true,
		PeerCertificates: []*x509.Certificate{{Subject: pkix.Name{CommonName: "alice"}, RawSubject: rawName(t, pkix.Name{CommonName: "alice"})}},
	}}
	clear := tlsCtx{plain: addrs}
	for _, tc := range []struct {
		expr       string
		onTLS      bool
		onClear    bool
		onNoTLSCtx bool
	}{
		{"ssl_fc", true, false, false},
		{"ssl_c_used", true, false, false},
		{"ssl_fc_sni www.example.org", true, false, false},
		{"ssl_fc_sni -i WWW.EXAMPLE.ORG", true, false, false},
		{"ssl_fc_sni other.example.org", false, false, false},
		{"ssl_fc_sni -m found", true, false, false},
		{"ssl_fc_alpn h2", true, false, false},
		{"ssl_fc_protocol TLSv1.3", true, false, false},
		{"ssl_fc_cipher TLS_AES_128_GCM_SHA256", true, false, false},
		{"ssl_fc_is_resumed", true, false, false},
		{"ssl_c_verify 0", true, false, false},
		{"ssl_c_s_dn /CN=alice", true, false, false},
		{"ssl_c_s_dn(CN) alice", true, false, false},
	} {
		e, err := ParseExpr(strings.Fields(tc.expr))
		require.NoError(t, err, tc.expr)
		require.Equal(t, tc.onTLS, e.Eval(tlsc), "%s on TLS", tc.expr)
		require.Equal(t, tc.onClear, e.Eval(clear), "%s on a plain connection", tc.expr)
		require.Equal(t, tc.onNoTLSCtx, e.Eval(addrs), "%s on a context without TLS", tc.expr)
	}
}

// rawName is the DER encoding of n, as a certificate carries it.
func rawName(t *testing.T, n pkix.Name) []byte {
	t.Helper()
	b, err := asn1.Marshal(n.ToRDNSequence())
	require.NoError(t, err)
	return b
}
