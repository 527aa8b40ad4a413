package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExternalCheckConfig(t *testing.T) {
	cfg, err := Parse(Source{Name: "t.cfg", Data: []byte("global\n  external-check\n  insecure-fork-wanted\ndefaults\n  external-check path /bin\nbackend b\n  option external-check\n  external-check command /bin/true\n  server s 127.0.0.1:1 check\n" + beTimeouts)})
	require.NoError(t, err)
	px := cfg.Proxy("b", KindBackend)
	require.Equal(t, &TCPCheck{External: true}, px.TCPCheck)
	require.Equal(t, "/bin/true", px.ExternalCheckCommand)
	require.Equal(t, "/bin", px.ExternalCheckPath, "inherited from defaults")
	require.Empty(t, cfg.Warnings)

	// A later check option replaces it, as in HAProxy.
	cfg, err = Parse(Source{Name: "t.cfg", Data: []byte("global\n  external-check\nbackend b\n  option external-check\n  option httpchk\n  external-check command /bin/true\n")})
	require.NoError(t, err)
	require.Nil(t, cfg.Proxy("b", KindBackend).TCPCheck)
	require.Equal(t, []string{"'external-check command' will be ignored for backend 'b' (requires 'option external-check')."}, cfg.Warnings)

	cfg, err = Parse(Source{Name: "t.cfg", Data: []byte("global\n  external-check\nbackend b\n  option external-check\n  external-check command /bin/true\n")})
	require.NoError(t, err)
	require.Equal(t, []string{"Proxy 'b' : 'insecure-fork-wanted' not enabled in the global section, 'option external-check' will likely fail."}, cfg.Warnings)

	for _, bad := range []string{
		"global\n  external-check preserve-env\n",
		"global\n  external-check\nbackend b\n  no option external-check\n",
		"backend b\n  external-check command /bin/true x\n",
		"backend b\n  external-check nope x\n",
	} {
		_, err := Parse(Source{Name: "t.cfg", Data: []byte(bad)})
		require.Error(t, err, bad)
	}
}
