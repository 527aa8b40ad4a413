package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStatsPageKeywords(t *testing.T) {
	cfg, err := parse(t, `defaults
`+timeouts+`    mode http
    stats auth admin:secret
    stats refresh 10s
listen a
    bind :8080
    stats uri /s
    stats auth second:pw
    stats show-legends
    stats hide-version
    stats show-node n1
    stats show-desc
    stats scope a
    stats admin if TRUE
listen b
    bind :8081
listen c
    bind :8082
    mode tcp
`+timeouts+`defaults
    mode http
`+timeouts+`listen d
    bind :8083
`)
	require.NoError(t, err)
	a, b, d := cfg.Proxy("a", KindListen), cfg.Proxy("b", KindListen), cfg.Proxy("d", KindListen)
	pa := a.HTTP.Stats
	require.NotNil(t, pa)
	require.Equal(t, "/s", pa.URI)
	require.Equal(t, DefaultStatsRealm, pa.Realm)
	require.Equal(t, 10*time.Second, pa.Refresh)
	require.Equal(t, []StatsUser{{"admin", "secret"}, {"second", "pw"}}, pa.Users)
	require.True(t, pa.ShowLegends && pa.HideVersion && pa.ShowNode && pa.ShowDesc)
	require.Equal(t, "n1", pa.Node)
	require.Equal(t, []string{"a"}, pa.Scope)
	require.NotNil(t, pa.Admin)

	// b inherits the defaults' page untouched by a's changes.
	pb := b.HTTP.Stats
	require.NotNil(t, pb)
	require.NotSame(t, pa, pb)
	require.Equal(t, DefaultStatsURI, pb.URI)
	require.Equal(t, []StatsUser{{"admin", "secret"}}, pb.Users)
	require.Nil(t, pb.Admin)
	require.Nil(t, d.HTTP.Stats, "a new defaults section starts without a page")
	require.Len(t, cfg.Warnings, 1)
	require.Equal(t, "'stats' statement ignored for proxy 'c' as it requires HTTP mode.", cfg.Warnings[0])
}

func TestStatsPageKeywordErrors(t *testing.T) {
	for _, tc := range []struct{ line, errMsg string }{
		{"stats", "expects 'enable'"},
		{"stats enable now", "takes no argument"},
		{"stats uri", "'stats uri' expects one argument"},
		{"stats auth nocolon", "'stats auth' expects <user>:<password>"},
		{"stats auth :pw", "'stats auth' expects <user>:<password>"},
		{"stats refresh soon", "'stats refresh'"},
		{"stats admin", "'stats admin' expects 'if <cond>' or 'unless <cond>'"},
		{"stats socket /tmp/x", "belongs in the 'global' section"},
		{"stats bogus", "'stats bogus'"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, err := parse(t, "listen a\n    mode http\n    bind :8080\n    "+tc.line+"\n")
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.errMsg)
			require.Contains(t, err.Error(), "lb.cfg:4")
		})
	}
	_, err := parse(t, "defaults\n    mode http\n    stats admin if TRUE\n")
	require.ErrorContains(t, err, "'stats admin' is not allowed in a 'defaults' section")
}
