package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tune.ssl.capture-buffer-size, and its older name with haproxy 2.6's
// warning; a size that is not a count is refused.
func TestSSLCaptureSize(t *testing.T) {
	cfg := mustParse(t, "global\n    tune.ssl.capture-buffer-size 96\n")
	require.Equal(t, 96, cfg.Global.SSLCaptureSize)
	require.Empty(t, cfg.Warnings)
	cfg = mustParse(t, "global\n    tune.ssl.capture-cipherlist-size 64\n")
	require.Equal(t, 64, cfg.Global.SSLCaptureSize)
	require.Contains(t, strings.Join(cfg.Warnings, "\n"), "'tune.ssl.capture-cipherlist-size' is deprecated")
	for _, v := range []string{"-1", "x", "1 2"} {
		_, err := parse(t, "global\n    tune.ssl.capture-buffer-size "+v+"\n")
		require.ErrorIs(t, err, ErrBadValue, v)
		require.ErrorContains(t, err, "lb.cfg:2", v)
	}
}
