package config

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// compatCfg wraps lines in an HTTP frontend.
func compatCfg(lines string) string {
	return "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend f\n    bind :8080\n" + lines
}

// A redirect rule takes its type and options in any order; a missing
// type or type argument is named.
func TestRedirectOptionsInAnyOrder(t *testing.T) {
	c := mustParse(t, compatCfg("    http-request redirect code 301 drop-query location /x if { path /a }\n"))
	r := c.Proxies[0].HTTP.RequestRules[0]
	require.Equal(t, "location", r.RedirectType)
	require.Equal(t, "/x", r.Value)
	require.Equal(t, 301, r.Status)
	require.True(t, r.Redirect.DropQuery)

	_, err := parse(t, compatCfg("    http-request redirect code 301\n"))
	require.ErrorContains(t, err, "lb.cfg:8")
	require.ErrorContains(t, err, "expects a redirection type")
	_, err = parse(t, compatCfg("    http-request redirect code 301 location\n"))
	require.ErrorContains(t, err, "missing argument for 'location'")
}

// A server's "addr" may name a host: Resolve gives it the host's first
// address, and a name that does not resolve is an error at the line.
func TestServerCheckAddrHostName(t *testing.T) {
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		if host == "checker.example" {
			return []netip.Addr{netip.MustParseAddr("192.0.2.7")}, nil
		}
		return nil, errors.New("no such host")
	}
	c := mustParse(t, "backend b\n  server s 127.0.0.1:1 check addr checker.example port 99\n")
	require.NoError(t, c.Resolve(context.Background(), lookup))
	require.Equal(t, "192.0.2.7", c.Proxies[0].Servers[0].CheckAddr)

	c = mustParse(t, "backend b\n  server s 127.0.0.1:1 check addr nowhere.example\n")
	err := c.Resolve(context.Background(), lookup)
	require.ErrorContains(t, err, "lb.cfg:2")
	require.ErrorContains(t, err, "'server b/s' : 'addr' : invalid address: 'nowhere.example'")
}
