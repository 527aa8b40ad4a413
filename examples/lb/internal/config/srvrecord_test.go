package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A server-template naming an SRV record with resolvers takes its ports
// from the records: no port is needed, and its servers start without an
// address. Without resolvers the name is a host name like any other.
func TestSRVServerTemplate(t *testing.T) {
	cfg := mustParse(t, `resolvers dns
    nameserver ns 127.0.0.1:53
backend b
    mode tcp
    server-template www 3 _http._tcp.example.test resolvers dns resolve-opts ignore-weight check
`)
	be := cfg.Proxy("b", KindBackend)
	require.Len(t, be.Servers, 3)
	for i, s := range be.Servers {
		require.Equal(t, "www"+string(rune('1'+i)), s.Name)
		require.Equal(t, "_http._tcp.example.test", s.SRV)
		require.Equal(t, ":0", s.Addr)
		require.False(t, s.MapPorts)
		require.True(t, s.Unresolved)
		require.True(t, s.ResolveIgnoreWeight)
	}
	_, err := parse(t, `backend b
    mode tcp
    server-template www 3 _http._tcp.example.test check
`)
	require.ErrorContains(t, err, "has neither service port nor check port")
}
