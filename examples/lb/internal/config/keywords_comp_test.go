package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompressionKeywords(t *testing.T) {
	cfg, err := parse(t, `defaults
    mode http
    compression algo gzip
    compression type text/html
listen a
    bind :8080
    compression algo deflate
    compression type text/plain
    compression offload
listen b
    bind :8081
`)
	require.NoError(t, err)
	a, b := cfg.Proxy("a", KindListen).HTTP.Compression, cfg.Proxy("b", KindListen).HTTP.Compression
	require.Equal(t, &Compression{Algos: []string{"gzip", "deflate"}, Types: []string{"text/html", "text/plain"}, Offload: true}, a)
	require.Equal(t, &Compression{Algos: []string{"gzip"}, Types: []string{"text/html"}}, b, "the defaults stay as they were")

	for _, tc := range []struct{ line, msg string }{
		{"compression", "expects 'algo', 'type' or 'offload'"},
		{"compression algo", "'compression algo' expects <algorithm>"},
		{"compression algo gzip br", "'br' is not a supported algorithm"},
		{"compression type", "'compression type' expects <type>"},
		{"compression offload now", "takes no argument"},
		{"compression direction both", "not supported"},
		{"compression bogus", "'compression bogus'"},
	} {
		_, err := parse(t, "listen a\n    mode http\n    bind :8080\n    "+tc.line+"\n")
		require.ErrorContains(t, err, tc.msg, tc.line)
		require.ErrorContains(t, err, "lb.cfg:4", tc.line)
	}
	_, err = parse(t, "defaults\n    compression offload\n")
	require.ErrorContains(t, err, "'compression offload' is not allowed in a 'defaults' section")
}
