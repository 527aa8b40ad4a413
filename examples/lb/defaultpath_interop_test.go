package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// TestInteropDefaultPathMatchesHAProxy: with each default-path mode, an
// errorfile named by a relative path is found in exactly the directory
// haproxy finds it in, the mode applying to a second file too, each
// taking its own directory.
func TestInteropDefaultPathMatchesHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "o"), 0o755))
	cfgFile := filepath.Join(sub, "c.cfg")
	second := filepath.Join(sub, "c2.cfg")
	const body = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
	require.NoError(t, os.WriteFile(second, []byte(body+"backend b2\n    errorfile 503 e.http\n"), 0o644))
	places := []string{filepath.Join(root, "a", "b"), filepath.Join(root, "a"), filepath.Join(root, "o"), root}
	for _, mode := range []string{"current", "config", "parent", "origin " + filepath.Join(root, "o"), "origin", "bogus"} {
		for _, place := range places {
			for _, files := range [][]string{{cfgFile}, {cfgFile, second}} {
				text := "global\n    default-path " + mode + "\n" + body + "backend be\n    errorfile 503 e.http\n"
				require.NoError(t, os.WriteFile(cfgFile, []byte(text), 0o644))
				ef := filepath.Join(place, "e.http")
				require.NoError(t, os.WriteFile(ef, []byte("HTTP/1.0 503 x\r\n\r\n"), 0o644))
				args := []string{"-c"}
				var srcs []config.Source
				for _, f := range files {
					args = append(args, "-f", f)
					data, err := os.ReadFile(f)
					require.NoError(t, err)
					srcs = append(srcs, config.Source{Name: f, Data: data})
				}
				out, herr := exec.Command(bin, args...).CombinedOutput()
				_, err := config.Parse(srcs...)
				// No listener makes haproxy -c exit 2 with "no error".
				ok := herr == nil || strings.Contains(string(out), "has no error")
				require.Equal(t, ok, err == nil, "mode %q, file in %s, %d files: haproxy says %s; lb %v", mode, place, len(files), out, err)
				require.NoError(t, os.Remove(ef))
			}
		}
	}
}
