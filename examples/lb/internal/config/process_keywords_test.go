package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The process and proxy keywords haproxy configurations often carry:
// hard-stop-after, ulimit-n, spread-checks, node, description, a proxy's
// id, description and backlog, a bind line's backlog and maxconn, and a
// backend's source.
func TestProcessKeywords(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`global
    hard-stop-after 30s
    ulimit-n 4096
    spread-checks 5
    node lb1
    description edge balancer
defaults
    mode tcp
    source 127.0.0.2
listen a
    id 7
    description the a service
    backlog 64
    bind 127.0.0.1:1 backlog 12 maxconn 50
    server s 127.0.0.1:2
backend b
    source 127.0.0.3:0
    server s 127.0.0.1:2
`)})
	require.NoError(t, err)
	g := cfg.Global
	require.Equal(t, 30*time.Second, g.HardStopAfter)
	require.Equal(t, 4096, g.UlimitN)
	require.Equal(t, 5, g.SpreadChecks)
	require.Equal(t, "lb1", g.Node)
	require.Equal(t, "edge balancer", g.Description)
	a := cfg.Proxy("a", KindBackend)
	require.Equal(t, 7, a.ID)
	require.Equal(t, "the a service", a.Description)
	require.Equal(t, 64, a.Backlog)
	require.Equal(t, 12, a.Binds[0].Backlog)
	require.Equal(t, 50, a.Binds[0].MaxConn)
	require.Equal(t, "127.0.0.2", a.Source, "from defaults")
	require.Equal(t, "127.0.0.3:0", cfg.Proxy("b", KindBackend).Source)

	for text, msg := range map[string]string{
		"global\n  spread-checks 51\n":                    "t.cfg:2: bad value: 'spread-checks' in 'global' section: '51' is not a percentage in range 0..50",
		"global\n  hard-stop-after soon\n":                "t.cfg:2:",
		"defaults\n  description x\n":                     "t.cfg:2: keyword not allowed here: 'description' not allowed in 'defaults' section",
		"frontend f\n  bind :1 backlog 0\n":               "bind option 'backlog': 0 out of range",
		"defaults\n  id 3\n":                              "'id' not allowed in 'defaults' section",
		"frontend f\n  source 127.0.0.1\n":                "'source' not allowed in 'frontend' section",
		"backend b\n  source 127.0.0.1 usesrc clientip\n": "not supported: 'source' takes one address (usesrc and interface are not supported)",
		"backend b\n  id 3\nbackend c\n  id 3\n":          "t.cfg:4: bad reference: proxy c reuses same custom id as proxy b (declared at t.cfg:1)",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(text)})
		require.Error(t, err, text)
		require.Contains(t, err.Error(), msg, text)
	}
}

// balance rdp-cookie and persist rdp-cookie, with their default names.
func TestRDPCookieKeywords(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte("backend a\n  balance rdp-cookie\n  persist rdp-cookie\nbackend b\n  balance rdp-cookie(user)\n  persist rdp-cookie(route)\n")})
	require.NoError(t, err)
	a, b := cfg.Proxy("a", KindBackend), cfg.Proxy("b", KindBackend)
	require.Equal(t, "rdp-cookie", a.Balance)
	require.Equal(t, "mstshash", a.HTTP.BalanceArg)
	require.Equal(t, "msts", a.PersistRDPCookie)
	require.Equal(t, "user", b.HTTP.BalanceArg)
	require.Equal(t, "route", b.PersistRDPCookie)
	for text, msg := range map[string]string{
		"backend b\n  balance rdp-cookie(\n":  "balance rdp-cookie : missing cookie name",
		"backend b\n  balance rdp-cookiex\n":  "balance rdp-cookie : missing cookie name",
		"backend b\n  persist rdp-cookie()\n": "persist rdp-cookie(name)' requires an rdp cookie name",
		"backend b\n  persist cookie\n":       "unknown persist method 'cookie'",
		"backend b\n  persist\n":              "missing persist method",
		"frontend f\n  persist rdp-cookie\n":  "'persist' not allowed in 'frontend' section",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(text)})
		require.Error(t, err, text)
		require.Contains(t, err.Error(), msg, text)
	}
}
