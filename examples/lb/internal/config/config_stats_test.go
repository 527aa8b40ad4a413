package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStatsTimeout(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       time.Duration
		errMsg     string
	}{
		{"default", "global\n stats socket /tmp/x\n", 0, ""},
		{"after socket", "global\n stats socket /tmp/x\n stats timeout 2m\n", 2 * time.Minute, ""},
		{"before socket", "global\n stats timeout 1500\n stats socket /tmp/x\n", 1500 * time.Millisecond, ""},
		{"missing", "global\n stats timeout\n", 0, "'stats timeout' expects a time"},
		{"bad", "global\n stats timeout soon\n", 0, "'stats timeout'"},
		{"zero", "global\n stats timeout 0\n", 0, "greater than 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(t, tc.text)
			if tc.errMsg != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tc.errMsg)
				require.Contains(t, err.Error(), "lb.cfg:2")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, cfg.Global.StatsTimeout)
		})
	}
}
