package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDynamicCookie: "cookie ... dynamic" and "dynamic-cookie-key",
// the key taken from defaults.
func TestDynamicCookie(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte("defaults\n  mode http\n  dynamic-cookie-key k1\nbackend b\n  cookie S insert dynamic\n  server s 127.0.0.1:80\nbackend c\n  dynamic-cookie-key k2\n  cookie S insert\n")})
	require.NoError(t, err)
	b, c := cfg.Proxies[0], cfg.Proxies[1]
	require.True(t, b.Cookie.Dynamic)
	require.Equal(t, "k1", b.DynamicCookieKey)
	require.False(t, c.Cookie.Dynamic)
	require.Equal(t, "k2", c.DynamicCookieKey)
	_, err = Parse(Source{Name: "t.cfg", Data: []byte("backend b\n  dynamic-cookie-key\n")})
	require.ErrorContains(t, err, "t.cfg:2")
	require.ErrorContains(t, err, "'dynamic-cookie-key' expects <secret_key> as argument")
}
