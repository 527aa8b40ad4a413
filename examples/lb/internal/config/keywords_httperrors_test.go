package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHTTPErrorsSection(t *testing.T) {
	dir := t.TempDir()
	f := func(name string, status int) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("HTTP/1.1 "+map[int]string{403: "403 Forbidden", 503: "503 Service Unavailable"}[status]+"\r\nContent-Length: 0\r\n\r\n"), 0o644))
		return p
	}
	e403, e503, own := f("403.http", 403), f("503.http", 503), f("own.http", 503)
	cfg, err := parse(t, `defaults
    mode http
    errorfiles site 503
backend a
backend b
    errorfile 503 `+own+`
    errorfiles site
http-errors site
    errorfile 403 `+e403+`
    errorfile 503 `+e503+`
`)
	require.NoError(t, err)
	a, b := cfg.Proxy("a", KindBackend).HTTP, cfg.Proxy("b", KindBackend).HTTP
	require.Len(t, a.ErrorFiles, 1)
	require.Equal(t, e503, a.ErrorFiles[0].Path, "only 503 imported, the section read after")
	require.Len(t, b.ErrorFiles, 4, "the defaults' import, its own line, then the whole section")
	require.Equal(t, e503, b.ErrorFiles[3].Path, "the last line for 503 wins")
	data, _ := os.ReadFile(e503)
	require.Equal(t, data, b.ErrorFile(503))

	for _, tc := range []struct {
		name, text string
		sentinel   error
		want       string
	}{
		{"unknown section", "backend a\n    mode http\n    errorfiles nope\n", ErrReference, "lb.cfg:3: bad reference: backend 'a': unable to find global 'http-errors' section 'nope'"},
		{"bad code", "backend a\n    errorfiles site 999\n", ErrBadValue, "status code '999' cannot be overridden"},
		{"no name", "backend a\n    errorfiles\n", ErrBadValue, "expects <name> as argument"},
		{"other keyword", "http-errors s\n    errorloc 503 /x\n", ErrUnknownKeyword, "unknown keyword 'errorloc' in 'http-errors' section (only 'errorfile')"},
		{"missing file", "http-errors s\n    errorfile 503 " + dir + "/none\n", ErrBadValue, "error reading file"},
		{"twice", "http-errors s\nhttp-errors s\n", ErrReference, "lb.cfg:2: bad reference: http-errors section 's' has the same name as the one declared at lb.cfg:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.text)
			require.ErrorIs(t, err, tc.sentinel)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
