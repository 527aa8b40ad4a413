package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultPath(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "a", "e.http"), []byte("HTTP/1.0 503 parent\r\n\r\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(sub, "e.http"), []byte("HTTP/1.0 503 config\r\n\r\n"), 0o644))
	parse := func(mode string) (*Config, error) {
		return Parse(Source{Name: filepath.Join(sub, "c.cfg"), Data: []byte("global\n  default-path " + mode + "\ndefaults\n  mode http\nbackend be\n  errorfile 503 e.http\n")})
	}
	for mode, want := range map[string]string{"config": "config", "parent": "parent", "origin " + filepath.Join(root, "a"): "parent"} {
		cfg, err := parse(mode)
		require.NoError(t, err, mode)
		require.Contains(t, string(cfg.Proxy("be", KindBackend).HTTP.ErrorFiles[0].Data), want, mode)
	}
	_, err := parse("current")
	require.ErrorContains(t, err, "e.http")
	_, err = parse("bogus")
	require.ErrorContains(t, err, "unsupported default-path mode 'bogus'")
	_, err = parse("origin")
	require.ErrorContains(t, err, "expects a directory")
}
