package config

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeLookup knows app.example; every other name fails.
func fakeLookup(_ context.Context, host string) ([]netip.Addr, error) {
	if host == "app.example" {
		return []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.7"), netip.MustParseAddr("192.0.2.8")}, nil
	}
	return nil, errors.New("no such host")
}

// Resolve follows each server's init-addr methods, in order: the first
// address libc finds (IPv4-mapped ones as IPv4), an IP address given as
// a method, or none, which disables the server with a warning. Servers
// given an IP address are left alone, and a second call changes nothing.
func TestResolveInitAddr(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte(`backend b
  server ip 10.0.0.1:80
  server name app.example:80
  server fallback gone.example:81 init-addr last,libc,10.0.0.9
  server none gone.example:82 init-addr libc,none
  server first gone.example:83 init-addr 10.0.0.3,libc
` + beTimeouts)})
	require.NoError(t, err)
	require.NoError(t, cfg.Resolve(context.Background(), fakeLookup))
	s := cfg.Proxy("b", KindBackend).Servers
	require.Equal(t, []string{"10.0.0.1:80", "192.0.2.7:80", "10.0.0.9:81", "gone.example:82", "10.0.0.3:83"},
		[]string{s[0].Addr, s[1].Addr, s[2].Addr, s[3].Addr, s[4].Addr})
	require.True(t, s[3].Unresolved)
	require.True(t, s[3].Disabled)
	require.False(t, s[2].Disabled)
	require.Equal(t, []string{"test.cfg:5: 'server b/none' : could not resolve address 'gone.example', disabling server"}, cfg.Warnings)
	require.NoError(t, cfg.Resolve(context.Background(), fakeLookup))
	require.Len(t, cfg.Warnings, 1, "a second call changes nothing")
}

// A server no method resolves stops the start, with its line; each such
// server is named.
func TestResolveFails(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  default-server init-addr last,libc\n  server a gone.example:80\n  server b app.example:80\n  server c other.example:80\n")})
	require.NoError(t, err)
	err = cfg.Resolve(context.Background(), fakeLookup)
	require.ErrorIs(t, err, ErrUnresolved)
	require.ErrorContains(t, err, "test.cfg:3: 'server b/a' : could not resolve address 'gone.example': no such host")
	require.ErrorContains(t, err, "test.cfg:5: 'server b/c' : could not resolve address 'other.example'")
	require.NotContains(t, err.Error(), "server b/b")
}

// init-addr takes last, libc, none and IP addresses, and nothing else.
func TestInitAddrKeyword(t *testing.T) {
	for _, bad := range []string{"dns", "libc,,none", "10.0.0.300", ""} {
		_, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  server a x.example:80 init-addr '" + bad + "'\n")})
		require.ErrorIs(t, err, ErrBadValue, bad)
		require.ErrorContains(t, err, "test.cfg:2", bad)
		require.ErrorContains(t, err, "server option 'init-addr'", bad)
	}
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  default-server init-addr none\n  server a x.example:80\n")})
	require.NoError(t, err)
	require.Equal(t, []string{"none"}, cfg.Proxy("b", KindBackend).Servers[0].InitAddr)
}
