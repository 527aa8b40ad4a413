package balancer

import (
	"bytes"
	"testing"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/stretchr/testify/require"
)

// TestTrackFollowsAndMaintenance: trackers take the tracked server's
// state, down a chain, except while in maintenance, and take it on
// leaving; the lines say "via".
func TestTrackFollowsAndMaintenance(t *testing.T) {
	cfg, err := config.Parse(config.Source{Name: "t.cfg", Data: []byte(`defaults
    mode tcp
backend chk
    server s0 127.0.0.1:1 check
backend web
    server x1 127.0.0.1:2 track chk/s0
    server x2 127.0.0.1:2 track x1
`)})
	require.NoError(t, err)
	var buf bytes.Buffer
	logs := &logSet{targets: []logTarget{{cfg: config.Log{Format: "raw"}, w: &lockedWriter{w: &buf}}}}
	chk := newBackend(cfg.Proxy("chk", config.KindBackend), logs)
	web := newBackend(cfg.Proxy("web", config.KindBackend), logs)
	track(map[string]*Backend{"chk": chk, "web": web})
	s0, x1, x2 := chk.servers[0], web.servers[0], web.servers[1]
	require.True(t, x1.Up() && x2.Up())

	chk.setState(s0, false, "Layer4 timeout", 0)
	require.False(t, x1.Up(), "x1 follows s0")
	require.False(t, x2.Up(), "x2 follows x1")
	require.Contains(t, buf.String(), "Server web/x1 is DOWN via chk/s0. 1 active and 0 backup servers left.")
	require.Contains(t, buf.String(), "Server web/x2 is DOWN via web/x1.")

	buf.Reset()
	require.NoError(t, x1.SetState(StateMaint))
	require.Contains(t, buf.String(), "Server web/x2 was DOWN and now enters maintenance via web/x1.")
	buf.Reset()
	chk.setState(s0, true, "Layer4 check passed", 0)
	require.False(t, x1.Up(), "in maintenance x1 keeps its state")
	require.False(t, x2.Up(), "and so does what tracks it")
	require.NotContains(t, buf.String(), "web/x1 is UP")
	require.NoError(t, x1.SetState(StateReady))
	require.True(t, x1.Up(), "x1 takes s0's state on leaving maintenance")
	require.True(t, x2.Up(), "and x2 x1's")
	require.Contains(t, buf.String(), "Server web/x1 is UP/READY (leaving forced maintenance).")
	require.Contains(t, buf.String(), "Server web/x2 is UP/READY (leaving maintenance).")
	require.True(t, x2.inUse())

	// Drain passes down the chain, and so does its end.
	buf.Reset()
	require.NoError(t, s0.SetState(StateDrain))
	require.False(t, x2.inUse(), "x2 drains with s0")
	require.Contains(t, buf.String(), "Server web/x2 enters drain state via web/x1.")
	require.NoError(t, x2.SetState(StateDrain))
	require.NoError(t, s0.SetState(StateReady))
	require.True(t, x1.inUse())
	require.False(t, x2.inUse(), "x2's own drain stays")
	require.Contains(t, buf.String(), "Server web/x2 remains in forced drain mode.")
}
