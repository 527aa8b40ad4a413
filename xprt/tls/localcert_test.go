package tls_test

import (
	stdtls "crypto/tls"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// TestInfoLocalCertificate: a server conn's Info tells which of the
// bind's certificates its handshake presented, the one SNI picked, and
// keeps telling on a resumed session, which presents none.
func TestInfoLocalCertificate(t *testing.T) {
	testnet.LeakCheck(t)
	f := newSNIFixture(t)
	in, err := ptls.NewInbound(f.bind(), nil)
	require.NoError(t, err)
	s := serve(t, in, "line")
	for _, version := range []uint16{stdtls.VersionTLS12, stdtls.VersionTLS13} {
		cache := stdtls.NewLRUClientSessionCache(8)
		for _, tc := range sniCases {
			for _, resumed := range []bool{false, true} {
				cfg := &stdtls.Config{ServerName: tc.sni, InsecureSkipVerify: true, ClientSessionCache: cache, MaxVersion: version}
				_, _, err := goDial(t, s.addr, cfg)
				require.NoError(t, err, tc.sni)
				info := <-s.infos
				what := fmt.Sprintf("%s sni %q resumed %v", ptls.VersionName(version), tc.sni, resumed)
				require.Equal(t, resumed, info.Resumed, what)
				require.NotNil(t, info.LocalCertificate, what)
				require.Equal(t, tc.wantCN, info.LocalCertificate.Subject.CommonName, what)
			}
		}
	}
}
