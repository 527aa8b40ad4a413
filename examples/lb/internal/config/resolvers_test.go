package config

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestResolversSection(t *testing.T) {
	cfg, err := Parse(Source{Name: "r.cfg", Data: []byte(`resolvers dns
    nameserver dns1 127.0.0.1:53
    nameserver dns2 udp@10.0.0.2:5353
    resolve_retries 5
    timeout resolve 2s
    timeout retry 300ms
    hold valid 11s
    hold nx 31s
    hold other 32s
    hold refused 33s
    hold timeout 34s
    hold obsolete 35s
    accepted_payload_size 8192
resolvers plain
    nameserver ns 192.0.2.1
backend web
    default-server resolvers dns resolve-prefer ipv4
    server w1 app.example:8080 check resolve-net 10.0.0.0/8,192.168.1.1 resolve-opts allow-dup-ip,ignore-weight init-addr last,libc,none
    server w2 app.example:8081 resolvers plain resolve-prefer ipv6 resolve-opts prevent-dup-ip init-addr none
    server w3 10.0.0.3:80
` + beTimeouts)})
	require.NoError(t, err)
	require.Equal(t, "dns", cfg.Resolvers[0].Name)
	require.Equal(t, "plain", cfg.Resolvers[1].Name)
	r := cfg.ResolversSection("dns")
	require.Equal(t, []Nameserver{{ID: "dns1", Addr: "127.0.0.1:53"}, {ID: "dns2", Addr: "10.0.0.2:5353"}}, r.Nameservers)
	require.Equal(t, 5, r.ResolveRetries)
	require.Equal(t, 2*time.Second, r.TimeoutResolve)
	require.Equal(t, 300*time.Millisecond, r.TimeoutRetry)
	require.Equal(t, Hold{Valid: 11 * time.Second, NX: 31 * time.Second, Other: 32 * time.Second, Refused: 33 * time.Second,
		Timeout: 34 * time.Second, Obsolete: 35 * time.Second}, r.Hold)
	require.Equal(t, 8192, r.AcceptedPayloadSize)
	require.Equal(t, "r.cfg:1", r.Pos.String())

	p := cfg.ResolversSection("plain")
	require.Equal(t, []Nameserver{{ID: "ns", Addr: "192.0.2.1:53"}}, p.Nameservers, "port 53 when none is given")
	// HAProxy's defaults.
	require.Equal(t, 3, p.ResolveRetries)
	require.Equal(t, time.Second, p.TimeoutResolve)
	require.Equal(t, time.Second, p.TimeoutRetry)
	require.Equal(t, Hold{Valid: 10 * time.Second, NX: 30 * time.Second, Other: 30 * time.Second, Refused: 30 * time.Second, Timeout: 30 * time.Second}, p.Hold)
	require.Equal(t, 512, p.AcceptedPayloadSize)

	s := cfg.Proxy("web", KindBackend).Servers
	require.Equal(t, "dns", s[0].Resolvers, "from default-server")
	require.Equal(t, "ipv4", s[0].ResolvePrefer)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32")}, s[0].ResolveNets)
	require.True(t, s[0].ResolveAllowDupIP)
	require.Equal(t, "plain", s[1].Resolvers)
	require.Equal(t, "ipv6", s[1].ResolvePrefer)
	require.False(t, s[1].ResolveAllowDupIP)

	// Resolve keeps the host name of a server with resolvers; init-addr
	// none leaves it waiting for them, not disabled nor warned about.
	require.NoError(t, cfg.Resolve(context.Background(), func(context.Context, string) ([]netip.Addr, error) {
		return nil, errors.New("no such host")
	}))
	require.Equal(t, "app.example", s[0].FQDN)
	require.Equal(t, "app.example:8080", s[0].Addr)
	require.True(t, s[0].Unresolved)
	require.False(t, s[0].Disabled)
	require.Empty(t, cfg.Warnings)
	require.Empty(t, s[2].FQDN, "an address needs no resolution")
}

func TestResolversErrors(t *testing.T) {
	const ns = "resolvers dns\n    nameserver a 127.0.0.1:53\n"
	for _, tc := range []struct {
		text     string
		line     int
		kw, want string
	}{
		{"backend b\n    server s app.example:80 resolvers nope\n", 2, "server", "backend 'b', server 's': unable to find required resolvers 'nope'"},
		{"resolvers dns\n    nameserver a tcp@127.0.0.1:53\n", 2, "nameserver", "only UDP"},
		{ns + "    nameserver a 127.0.0.2:53\n", 3, "nameserver", "nameserver 'a' already declared"},
		{"resolvers dns\n    nameserver a nothere:53\n", 2, "nameserver", "invalid address 'nothere:53'"},
		{ns + "    hold forever 1s\n", 3, "hold", "'forever' is not a status"},
		{ns + "    timeout connect 1s\n", 3, "timeout", "'connect' is not 'resolve' nor 'retry'"},
		{ns + "    accepted_payload_size 100\n", 3, "accepted_payload_size", "out of range"},
		{ns + "    bogus 1\n", 3, "bogus", "unknown keyword 'bogus' in 'resolvers' section"},
		{ns + ns, 3, "resolvers", "resolvers 'dns' has the same name as the one declared at e.cfg:1"},
		{"backend b\n    server s app.example:80 resolve-prefer ipv5\n", 2, "server", "expects 'ipv4' or 'ipv6'"},
		{"backend b\n    server s app.example:80 resolve-opts nope\n", 2, "server", "unknown option 'nope'"},
		{"backend b\n    server s app.example:80 resolve-net 10.0.0.0/40\n", 2, "server", "'10.0.0.0/40' is not a network"},
	} {
		_, err := Parse(Source{Name: "e.cfg", Data: []byte(tc.text)})
		var e *Error
		require.True(t, errors.As(err, &e), "%s: %v", tc.text, err)
		require.Equal(t, tc.line, e.Pos.Line, tc.text)
		require.Equal(t, tc.kw, e.Keyword, tc.text)
		require.Contains(t, err.Error(), tc.want, tc.text)
	}
}

func TestParseResolvConf(t *testing.T) {
	f := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(f, []byte("# comment\nsearch example\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions ndots:2\n"), 0o644))
	old := resolvConf
	resolvConf = f
	t.Cleanup(func() { resolvConf = old })
	cfg, err := Parse(Source{Name: "r.cfg", Data: []byte("resolvers sys\n    parse-resolv-conf\nbackend b\n    server s app.example:80 resolvers default\n")})
	require.NoError(t, err)
	r := cfg.ResolversSection("sys")
	require.True(t, r.ParseResolvConf)
	want := []Nameserver{{ID: "192.0.2.53", Addr: "192.0.2.53:53"}, {ID: "2001:db8::53", Addr: "[2001:db8::53]:53"}}
	require.Equal(t, want, r.Nameservers)

	// As in HAProxy, a "default" section made from resolv.conf comes
	// last, and servers may name it.
	require.Len(t, cfg.Resolvers, 2)
	d := cfg.Resolvers[1]
	require.Equal(t, "default", d.Name)
	require.True(t, d.Implicit)
	require.Equal(t, want, d.Nameservers)
	require.Equal(t, 3, d.ResolveRetries)

	// Not when the configuration declares its own, nor when resolv.conf
	// lists no name server.
	cfg, err = Parse(Source{Name: "r.cfg", Data: []byte("resolvers default\n    nameserver a 10.0.0.1:53\n")})
	require.NoError(t, err)
	require.Len(t, cfg.Resolvers, 1)
	require.False(t, cfg.Resolvers[0].Implicit)
	require.NoError(t, os.WriteFile(f, []byte("search example\n"), 0o644))
	cfg, err = Parse(Source{Name: "r.cfg", Data: []byte("backend b\n    server s 10.0.0.1:80\n")})
	require.NoError(t, err)
	require.Empty(t, cfg.Resolvers)
	_, err = Parse(Source{Name: "r.cfg", Data: []byte("backend b\n    server s app.example:80 resolvers default\n")})
	require.ErrorContains(t, err, "unable to find required resolvers 'default'")
}

// A nameserver's address expands the environment, unquoted, as every
// address does in haproxy.
func TestResolversNameserverEnv(t *testing.T) {
	t.Setenv("LB_TEST_DNS", "10.0.0.53")
	c := mustParse(t, "resolvers dns\n    nameserver a $LB_TEST_DNS:5353\n    nameserver b ${LB_TEST_DNS}\n")
	var got []string
	for _, r := range c.Resolvers {
		if r.Name != "dns" {
			continue // the default section, from resolv.conf
		}
		for _, ns := range r.Nameservers {
			got = append(got, ns.Addr)
		}
	}
	require.Equal(t, []string{"10.0.0.53:5353", "10.0.0.53:53"}, got)
}
