package config

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServerSOCKS4(t *testing.T) {
	parse := func(line string) (*Config, error) {
		return Parse(Source{Name: "t.cfg", Data: []byte("backend b\n    default-server check-via-socks4\n    " + line + "\n")})
	}
	for line, want := range map[string]string{
		"server s 127.0.0.1:1 socks4 127.0.0.2:1080":         "127.0.0.2:1080",
		"server s 127.0.0.1:1 socks4 ipv4@127.0.0.2:1080":    "127.0.0.2:1080",
		"server s 127.0.0.1:1 socks4 [::1]:1080":             "[::1]:1080",
		"server s 127.0.0.1:1 socks4 *:1080":                 "0.0.0.0:1080",
		"server s 127.0.0.1:1 socks4 proxy.example.net:1080": "proxy.example.net:1080",
	} {
		cfg, err := parse(line)
		require.NoError(t, err, line)
		s := cfg.Proxy("b", KindBackend).Servers[0]
		require.Equal(t, want, s.SOCKS4, line)
		require.True(t, s.CheckViaSOCKS4, "from default-server")
	}
	for line, want := range map[string]string{
		"server s 127.0.0.1:1 socks4":                    "expects 1 argument",
		"server s 127.0.0.1:1 socks4 127.0.0.2":          "'127.0.0.2' : missing port specification",
		"server s 127.0.0.1:1 socks4 127.0.0.2:0":        "invalid port '0'",
		"server s 127.0.0.1:1 socks4 127.0.0.2:1-2":      "port range not permitted here",
		"server s 127.0.0.1:1 socks4 127.0.0.2:+1":       "port offset not permitted here",
		"server s 127.0.0.1:1 socks4 unix@/tmp/socks":    "only ipv4@ and ipv6@ prefixes",
		"server s 127.0.0.1:1 no-check-via-socks4":       "server option 'no-check-via-socks4'",
		"server s 127.0.0.1:1 socks4 bad/host:1080":      "invalid host name",
		"server s 127.0.0.1:1 check-via-socks4 socks4 $": "missing port",
	} {
		_, err := parse(line)
		require.ErrorContains(t, err, "t.cfg:3: ", line)
		require.ErrorContains(t, err, want, line)
	}

	// A host name resolves at start; one that does not is an error that
	// names the line.
	cfg, err := parse("server s 127.0.0.1:1 socks4 proxy.example.net:1080")
	require.NoError(t, err)
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		if host == "proxy.example.net" {
			return []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.8")}, nil
		}
		return nil, errors.New("no such host")
	}
	require.NoError(t, cfg.Resolve(context.Background(), lookup))
	require.Equal(t, "192.0.2.8:1080", cfg.Proxy("b", KindBackend).Servers[0].SOCKS4)
	cfg, err = parse("server s 127.0.0.1:1 socks4 other.example.net:1080")
	require.NoError(t, err)
	err = cfg.Resolve(context.Background(), lookup)
	require.ErrorContains(t, err, "t.cfg:3: ")
	require.ErrorContains(t, err, "'socks4 other.example.net:1080' : invalid address: 'other.example.net': no such host")
}
