package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGlobalTuningKeywords(t *testing.T) {
	parse := func(global string) (*Config, error) {
		return Parse(Source{Name: "t.cfg", Data: []byte("global\n" + global + "listen l\n    bind :80\n    server s 127.0.0.1:1\n" + timeouts)})
	}
	cfg, err := parse("    tune.idletimer 1000\n    noepoll\n    grace 1s\n    quiet\n    zero-warning\n    set-dumpable\n    tune.h2.initial-window-size 65535\n    tune.h2.max-concurrent-streams 50\n    tune.comp.maxlevel 9\n")
	require.NoError(t, err)
	g := cfg.Global
	require.True(t, g.Quiet && g.ZeroWarning && g.SetDumpable)
	require.Equal(t, uint32(65535), g.H2InitialWindow)
	require.Equal(t, uint32(50), g.H2MaxStreams)
	require.Equal(t, 9, g.CompMaxLevel)
	require.Empty(t, cfg.Warnings, "taken without a word, as haproxy takes them")

	for global, msg := range map[string]string{
		"    noepoll now\n":                      "t.cfg:2: bad value: 'noepoll' in 'global' section: 'noepoll' expects 0 argument(s)",
		"    tune.maxaccept\n":                   "'tune.maxaccept' expects 1 argument(s)",
		"    localpeer\n":                        "t.cfg:2: bad value: 'localpeer' in 'global' section: expects a name",
		"    unix-bind prefix\n":                 "expects pairs",
		"    unix-bind owner x\n":                "unknown option 'owner'",
		"    unix-bind mode 999\n":               "'999' is not an octal file mode",
		"    tune.h2.max-concurrent-streams 0\n": "'0' is not an integer in range 1..2147483647",
		"    tune.h2.initial-window-size lots\n": "'lots' is not an integer",
		"    tune.comp.maxlevel 10\n":            "10 out of range [1..9]",
		"    quiet loudly\n":                     "'quiet'",
	} {
		_, err := parse(global)
		require.ErrorContains(t, err, msg, global)
	}
}
