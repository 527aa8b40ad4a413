package acl

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIPConstFetches(t *testing.T) {
	for expr, want := range map[string]string{
		"ipv4(192.0.2.10)":         "192.0.2.10",
		"ipv6(2001:db8::1)":        "2001:db8::1",
		"ipv4(10.1.2.3),ipmask(8)": "10.0.0.0",
	} {
		typ, f, err := CompileFetch(expr)
		require.NoError(t, err, expr)
		smp, ok := f(plain{})
		require.True(t, ok, expr)
		require.Equal(t, TypeIP, smp.Type, "%s: %v", expr, typ)
		require.Equal(t, netip.MustParseAddr(want), smp.IP, expr)
	}
	for expr, msg := range map[string]string{
		"ipv4(2001:db8::1)": "'2001:db8::1' is not an IPv4 address",
		"ipv6(192.0.2.1)":   "'192.0.2.1' is not an IPv6 address",
		"ipv4(nonsense)":    "not an IPv4 address",
		"ipv4":              "ipv4",
	} {
		_, _, err := CompileFetch(expr)
		require.ErrorContains(t, err, msg, expr)
	}
}
