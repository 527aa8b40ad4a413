package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProxyV2Options(t *testing.T) {
	parse := func(opts string) (*Config, error) {
		return Parse(Source{Name: "t.cfg", Data: []byte("backend b\n    server s 127.0.0.1:1 send-proxy-v2 proxy-v2-options " + opts + "\n")})
	}
	cfg, err := parse("crc32c,authority,unique-id,cert-cn")
	require.NoError(t, err)
	require.Equal(t, PPv2Options{SSL: true, CertCN: true, Authority: true, CRC32C: true, UniqueID: true}, cfg.Proxy("b", KindBackend).Servers[0].PPv2)
	cfg, err = parse("ssl-cipher")
	require.NoError(t, err)
	require.Equal(t, PPv2Options{SSL: true, SSLCipher: true}, cfg.Proxy("b", KindBackend).Servers[0].PPv2)
	_, err = parse("crc32c,bogus")
	require.ErrorContains(t, err, "t.cfg:2: ")
	require.ErrorContains(t, err, "'bogus' : proxy v2 option not implemented")
	_, err = parse("cert-sig")
	require.ErrorContains(t, err, "'cert-sig' : proxy v2 option not supported")
}
