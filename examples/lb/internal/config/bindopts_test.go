package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBindTCPOptions(t *testing.T) {
	parse := func(binds string) (*Config, error) {
		return Parse(Source{Name: "t.cfg", Data: []byte("listen l\n    mode tcp\n" + binds + "    server s 127.0.0.1:1\n" + timeouts)})
	}
	cfg, err := parse("    bind 127.0.0.1:81 tcp-ut 7s mss -40 interface lo transparent v6only id 3 nice -5\n    bind 127.0.0.1:90-92 v4v6\n")
	require.NoError(t, err)
	b := cfg.Proxy("l", KindListen).Binds
	require.Equal(t, 7*time.Second, b[0].UserTimeout)
	require.Equal(t, -40, b[0].MaxSeg)
	require.Equal(t, "lo", b[0].Interface)
	require.True(t, b[0].Transparent)
	require.Equal(t, "v6only", b[0].V6Only)
	require.Equal(t, 3, b[0].ID)
	require.Equal(t, -5, b[0].Nice)
	require.Equal(t, []string{"127.0.0.1:90", "127.0.0.1:91", "127.0.0.1:92"}, b[1].Addrs)
	require.Equal(t, "v4v6", b[1].V6Only)
	require.Empty(t, cfg.Warnings, "haproxy says nothing of nice")

	for binds, msg := range map[string]string{
		"    bind :80 mss 0\n":                   "t.cfg:3: bad value: 'bind' in 'listen' section: bind option 'mss': expects an MSS with an absolute value between 1 and 65535",
		"    bind :80 mss 70000\n":               "expects an MSS",
		"    bind :80 nice 2000\n":               "2000 out of range [-1024..1024]",
		"    bind :80 tcp-ut x\n":                "bind option 'tcp-ut'",
		"    bind :80,:81 id 2\n":                "'id' can only be used with a single socket",
		"    bind :80-81 id 2\n":                 "'id' can only be used with a single socket",
		"    bind :80 id 2\n    bind :81 id 2\n": "t.cfg:4: bad value: 'bind' in 'listen' section: 'id' : custom id 2 already used at t.cfg:3 ('bind :80')",
		"    bind :90-80\n":                      "port range 90-80: expects LOW-HIGH with LOW <= HIGH",
		"    bind :1-5000\n":                     "4096 ports at most",
		"    bind :0-3\n":                        "port range: 0 out of range",
		"    bind :80 interface\n":               "bind option 'interface' expects 1 argument",
	} {
		_, err := parse(binds)
		require.ErrorContains(t, err, msg, binds)
	}
}

func TestUnixBinds(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte(`global
    unix-bind prefix /run/lb/ mode 660 uid 5
listen l
    mode tcp
    bind unix@a.sock
    bind /b.sock mode 600 gid 7
    bind :80
    server s 127.0.0.1:1
`)})
	require.NoError(t, err)
	b := cfg.Proxy("l", KindListen).Binds
	require.Equal(t, []string{"unix@/run/lb/a.sock"}, b[0].Addrs)
	require.Equal(t, []int{0o660, 5, -1}, []int{b[0].UnixMode, b[0].UnixUID, b[0].UnixGID})
	require.Equal(t, []string{"unix@/run/lb//b.sock"}, b[1].Addrs, "the prefix goes before absolute paths too, as in haproxy")
	require.Equal(t, []int{0o600, 5, 7}, []int{b[1].UnixMode, b[1].UnixUID, b[1].UnixGID})
	require.Equal(t, []int{-1, -1, -1}, []int{b[2].UnixMode, b[2].UnixUID, b[2].UnixGID}, "a TCP line keeps none")

	for binds, msg := range map[string]string{
		"    bind unix@\n":              "missing socket path",
		"    bind abns@\n":              "missing socket name",
		"    bind /a mode 8\n":          "'8' is not an octal file mode",
		"    bind /a user nobodyhere\n": "nobodyhere",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte("listen l\n" + binds)})
		require.ErrorContains(t, err, msg, binds)
	}
}
