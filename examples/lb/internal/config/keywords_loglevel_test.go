package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetLogLevelAndEarlyHint(t *testing.T) {
	cfg, err := parse(t, `frontend f
    mode http
    bind 127.0.0.1:0
    http-request set-log-level silent if { path /x }
    http-request set-log-level emerg
    http-request early-hint link "</a.css>; rel=preload"
    http-response set-log-level debug
    http-after-response set-log-level err
`)
	require.NoError(t, err)
	h := cfg.Proxy("f", KindFrontend).HTTP
	require.Equal(t, -1, h.RequestRules[0].LogLevel)
	require.Equal(t, 1, h.RequestRules[1].LogLevel)
	require.Equal(t, "early-hint", h.RequestRules[2].Action)
	require.Equal(t, "link", h.RequestRules[2].Name)
	require.Equal(t, "</a.css>; rel=preload", h.RequestRules[2].Value)
	require.Equal(t, 8, h.ResponseRules[0].LogLevel)
	require.Equal(t, 4, h.AfterResponseRules[0].LogLevel)

	for _, tc := range []struct{ text, want string }{
		{"http-request set-log-level\n", "expects exactly 1 argument"},
		{"http-request set-log-level loud\n", "unknown level 'loud'"},
		{"http-request set-log-level info debug\n", "expects exactly 1 argument"},
		{"http-request early-hint link\n", "'early-hint' expects <name> <fmt>"},
		{"http-response early-hint link x\n", "'http-response early-hint'"},
	} {
		_, err := parse(t, "frontend f\n    mode http\n    bind 127.0.0.1:0\n    "+tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
}
