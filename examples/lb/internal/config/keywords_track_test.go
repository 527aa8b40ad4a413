package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTrack(t *testing.T) {
	base := `defaults
    mode tcp
backend b1
    server s0 127.0.0.1:1 check
    server a0 127.0.0.1:1 agent-check agent-port 9
    server n0 127.0.0.1:1
`
	parse := func(extra string) (*Config, error) {
		return Parse(Source{Name: "t.cfg", Data: []byte(base + extra)})
	}
	cfg, err := parse("    server s1 127.0.0.1:2 track s0\nbackend b2\n    server x1 127.0.0.1:3 track b1/s1\n    server x2 127.0.0.1:3 track b1/a0\n")
	require.NoError(t, err)
	s1 := cfg.Proxy("b1", KindBackend).Servers[3]
	require.Equal(t, []string{"b1", "s0"}, []string{s1.TrackBackend, s1.TrackServer})
	x1 := cfg.Proxy("b2", KindBackend).Servers[0]
	require.Equal(t, []string{"b1", "s1"}, []string{x1.TrackBackend, x1.TrackServer}, "a chain")
	for extra, want := range map[string]string{
		"    server s1 127.0.0.1:2 track nosuch\n":                                 "t.cfg:7: bad reference: 'server b1/s1' : unable to find required server 'nosuch' for tracking.",
		"    server s1 127.0.0.1:2 track b9/s0\n":                                  "unable to find required proxy 'b9' for tracking.",
		"    server s1 127.0.0.1:2 track n0\n":                                     "unable to use b1/n0 for tracking as it does not have any check nor agent enabled.",
		"    server s1 127.0.0.1:2 track s1\n":                                     "unable to track b1/s1 as it belongs to a tracking chain looping back to b1/s1.",
		"    server s1 127.0.0.1:2 track s0 check\n":                               "unable to enable checks and tracking at the same time!",
		"    server s1 127.0.0.1:2 track\n":                                        "expects 1 argument",
		"    server s1 127.0.0.1:2 track s2\n    server s2 127.0.0.1:2 track s1\n": "tracking chain looping back to b1/s1.",
	} {
		_, err := parse(extra)
		require.Error(t, err, extra)
		require.True(t, strings.Contains(err.Error(), want), "%s: %v", extra, err)
	}
}
