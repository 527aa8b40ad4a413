package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTCPSmartOptions checks option tcp-smart-accept (frontend side,
// remembered as written either way) and tcp-smart-connect (backend
// side), from defaults and in sections, and their misplacement.
func TestTCPSmartOptions(t *testing.T) {
	c := mustParse(t, `defaults
    option tcp-smart-connect
frontend on
    bind 127.0.0.1:1
    option tcp-smart-accept
    default_backend b
frontend off
    bind 127.0.0.1:2
    no option tcp-smart-accept
    default_backend b
frontend unset
    bind 127.0.0.1:3
    default_backend b
backend b
    server s 127.0.0.1:4
backend nb
    no option tcp-smart-connect
    server s 127.0.0.1:4
`)
	on, off, unset := c.Proxy("on", KindFrontend).Options, c.Proxy("off", KindFrontend).Options, c.Proxy("unset", KindFrontend).Options
	assert.True(t, on.SmartAccept && on.SmartAcceptSet)
	assert.True(t, !off.SmartAccept && off.SmartAcceptSet)
	assert.False(t, unset.SmartAcceptSet)
	assert.True(t, c.Proxy("b", KindBackend).Options.SmartConnect, "from defaults")
	assert.False(t, c.Proxy("nb", KindBackend).Options.SmartConnect)
	// Misplaced, each is ignored with haproxy's warning.
	c = mustParse(t, "backend b\n    option tcp-smart-accept\nfrontend f\n    option tcp-smart-connect\n")
	assert.Equal(t, []string{
		"lb.cfg:2: 'tcp-smart-accept' ignored because backend 'b' has no frontend capability.",
		"lb.cfg:4: 'tcp-smart-connect' ignored because frontend 'f' has no backend capability.",
	}, c.Warnings[:2])
	for text, want := range map[string]string{
		"frontend f\n    option tcp-smart-accept x\n": "lb.cfg:2: ",
	} {
		_, err := parse(t, text)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, text)
		assert.Contains(t, err.Error(), "tcp-smart", text)
	}
}

// TestAbortOnCloseOption checks option abortonclose: a backend option,
// inherited from defaults, ignored on a frontend with haproxy's warning.
func TestAbortOnCloseOption(t *testing.T) {
	c := mustParse(t, "defaults\n    option abortonclose\nbackend b\n    server s 127.0.0.1:1\nbackend n\n    no option abortonclose\n    server s 127.0.0.1:1\n")
	assert.True(t, c.Proxy("b", KindBackend).Options.AbortOnClose)
	assert.False(t, c.Proxy("n", KindBackend).Options.AbortOnClose)
	c = mustParse(t, "frontend f\n    option abortonclose\n")
	assert.Contains(t, c.Warnings, "lb.cfg:2: 'abortonclose' ignored because frontend 'f' has no backend capability.")
}

// TestContStatsOption checks option contstats: a frontend option,
// inherited from defaults, ignored on a backend with haproxy's warning.
func TestContStatsOption(t *testing.T) {
	c := mustParse(t, "defaults\n    option contstats\nfrontend f\n    bind 127.0.0.1:1\n    default_backend b\nbackend b\n    server s 127.0.0.1:2\n")
	assert.True(t, c.Proxy("f", KindFrontend).Options.ContStats)
	c = mustParse(t, "backend b\n    option contstats\n")
	assert.Contains(t, c.Warnings, "lb.cfg:2: 'contstats' ignored because backend 'b' has no frontend capability.")
}

// TestRedispatchInterval checks option redispatch's interval: -1 by
// default, any integer, 0 turning redispatching off, and its errors.
func TestRedispatchInterval(t *testing.T) {
	c := mustParse(t, "backend a\n    option redispatch\n    server s 127.0.0.1:1\nbackend b\n    option redispatch 2\n    server s 127.0.0.1:1\nbackend z\n    option redispatch 0\n    server s 127.0.0.1:1\n")
	a, b, z := c.Proxy("a", KindBackend).Options, c.Proxy("b", KindBackend).Options, c.Proxy("z", KindBackend).Options
	assert.True(t, a.Redispatch)
	assert.Equal(t, -1, a.RedispatchAfter)
	assert.True(t, b.Redispatch)
	assert.Equal(t, 2, b.RedispatchAfter)
	assert.False(t, z.Redispatch, "0 turns it off")
	for _, text := range []string{"backend b\n    option redispatch x\n", "backend b\n    option redispatch 1 2\n"} {
		_, err := parse(t, text)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), "lb.cfg:2: ", text)
	}
}
