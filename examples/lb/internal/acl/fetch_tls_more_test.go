package acl

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/xprt"
)

// TestDNFetchArguments: the entry, occurrence and format arguments of
// the DN fetches, and the arguments HAProxy refuses.
func TestDNFetchArguments(t *testing.T) {
	name := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "FR"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "a"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "b+c"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "#x y "}},
		{{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: "é"}},
	}
	raw, err := asn1.Marshal(name)
	require.NoError(t, err)
	ctx := tlsCtx{info: xprt.Info{TLS: true, PeerCertificates: []*x509.Certificate{{RawSubject: raw}}}}
	for expr, want := range map[string]string{
		"ssl_c_s_dn":              `/C=FR/OU=a/OU=b+c/CN=#x y /1.2.3.4=\xC3\xA9`,
		"ssl_c_s_dn(ou)":          "a",
		"ssl_c_s_dn(OU,2)":        "b+c",
		"ssl_c_s_dn(OU,-2)":       "a",
		"ssl_c_s_dn(,0,rfc2253)":  `1.2.3.4=#0C02C3A9,CN=\#x y\ ,OU=a+OU=b\+c,C=FR`,
		"ssl_c_s_dn(CN,1,ignore)": "#x y ",
	} {
		if expr == "ssl_c_s_dn(CN,1,ignore)" {
			_, _, err := CompileFetch(expr)
			assert.ErrorContains(t, err, "only rfc2253 or a blank value", expr)
			continue
		}
		s, ok := fetchOn(t, expr, ctx)
		require.True(t, ok, expr)
		assert.Equal(t, want, s.Str, expr)
	}
	for _, expr := range []string{"ssl_c_s_dn(OU,3)", "ssl_c_s_dn(OU,0)", "ssl_c_s_dn(L)"} {
		_, ok := fetchOn(t, expr, ctx)
		assert.False(t, ok, expr)
	}
	for _, expr := range []string{"ssl_c_s_dn(CN,x)", "ssl_c_i_dn(,,rfc2253)", "ssl_c_s_dn(a,1,,)"} {
		_, _, err := CompileFetch(expr)
		assert.Error(t, err, expr)
	}
}

// TestKeyFetchesCompile: the key material fetches, once refused, are
// there; their binary ones need a match method in an ACL, as HAProxy's.
func TestKeyFetchesCompile(t *testing.T) {
	for _, expr := range []string{"ssl_fc_session_id", "ssl_fc_client_random", "ssl_fc_server_random", "ssl_fc_session_key",
		"ssl_bc_session_id", "ssl_bc_client_random", "ssl_bc_server_random", "ssl_bc_session_key"} {
		_, _, err := CompileFetch(expr)
		require.NoError(t, err, expr)
		_, err = ParseExpr([]string{expr, "-m", "found"})
		require.NoError(t, err, expr)
		_, err = ParseExpr([]string{expr, "x"})
		require.Error(t, err, expr)
	}
	for _, expr := range []string{"ssl_fc_client_traffic_secret_0", "ssl_fc_exporter_secret", "ssl_fc_early_exporter_secret", "ssl_fc_client_early_traffic_secret"} {
		_, _, err := CompileFetch(expr)
		require.NoError(t, err, expr)
	}
	_, _, err := CompileFetch("ssl_fc_no_such_thing")
	require.ErrorIs(t, err, ErrUnknownFetch)
}
