package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServerSocketOptions(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`backend b
    mode tcp
    default-server non-stick
    server s1 127.0.0.1:1 tcp-ut 5s tfo
    server s2 127.0.0.1:2 stick
` + beTimeouts + `backend r
    retry-on conn-failure empty-response response-timeout
    server s 127.0.0.1:1 tfo
` + beTimeouts)})
	require.NoError(t, err)
	s := cfg.Proxy("b", KindBackend).Servers
	require.Equal(t, 5*time.Second, s[0].UserTimeout)
	require.True(t, s[0].FastOpen)
	require.True(t, s[0].NonStick, "from default-server")
	require.False(t, s[1].NonStick, "stick undoes it")
	require.Len(t, cfg.Warnings, 1, "only the backend that cannot retry is warned about")
	require.Contains(t, cfg.Warnings[0], "t.cfg:4: 'server b/s1' : server has tfo activated")
	_, err = Parse(Source{Name: "t.cfg", Data: []byte("backend b\n    server s 127.0.0.1:1 tcp-ut soon\n")})
	require.ErrorContains(t, err, "t.cfg:2: ")
	require.ErrorContains(t, err, "tcp-ut")
}
