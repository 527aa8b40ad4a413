package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// use-server rules keep their order and condition; a name must be one of
// the section's own servers, unless made per connection, and a condition
// is required, as haproxy requires it.
func TestUseServer(t *testing.T) {
	c := mustParse(t, "backend b\n  use-server s2 if { src 10.0.0.1 }\n  use-server s%[str(1)] unless TRUE\n  server s1 127.0.0.1:1\n  server s2 127.0.0.1:2\n")
	us := c.Proxy("b", KindBackend).UseServers
	require.Len(t, us, 2)
	require.Equal(t, "s2", us[0].Server)
	require.False(t, us[0].Dynamic())
	require.True(t, us[1].Dynamic())
	require.Equal(t, 2, us[0].Line)

	for _, tc := range []struct {
		name, text string
		err        error
		msg        string
	}{
		{"no condition", "backend b\n  use-server s1\n  server s1 127.0.0.1:1\n", ErrBadValue, "lb.cfg:2: bad value: 'use-server' in 'backend' section: 'use-server' requires either 'if' or 'unless' followed by a condition"},
		{"no name", "backend b\n  use-server\n", ErrBadValue, "expects 'use-server <server> {if | unless} <condition>'"},
		{"unknown server", "backend b\n  use-server s9 if TRUE\n  server s1 127.0.0.1:1\n", ErrReference, "lb.cfg:2: bad reference: backend 'b': unable to find server 's9' referenced in a 'use-server' rule"},
		{"in a frontend", "frontend f\n  bind :1\n  use-server s1 if TRUE\n", ErrReference, "lb.cfg:3: bad reference: frontend 'f': unable to find server 's1' referenced in a 'use-server' rule"},
		{"bad sample", "backend b\n  use-server s%[nosuch] if TRUE\n", ErrBadValue, "'use-server s%[nosuch]': unknown fetch method: 'nosuch'"},
		{"unclosed sample", "backend b\n  use-server s%[src if TRUE\n", ErrBadValue, "missing ']'"},
		{"after the condition", "backend b\n  use-server s1 if TRUE extra\n  server s1 127.0.0.1:1\n", ErrBadValue, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.text)
			require.ErrorIs(t, err, tc.err)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

// force-persist and ignore-persist need a condition, as in haproxy, and
// keep their order.
func TestPersistRules(t *testing.T) {
	c := mustParse(t, "backend b\n  force-persist if { src 10.0.0.1 }\n  ignore-persist unless TRUE\n  server s1 127.0.0.1:1\n")
	rules := c.Proxy("b", KindBackend).PersistRules
	require.Len(t, rules, 2)
	require.True(t, rules[0].Force)
	require.False(t, rules[1].Force)
	_, err := parse(t, "backend b\n  force-persist\n")
	require.ErrorContains(t, err, "lb.cfg:2: bad value: 'force-persist' in 'backend' section: requires either 'if' or 'unless' followed by a condition")
	c = mustParse(t, "frontend f\n  ignore-persist if TRUE\n")
	require.Contains(t, c.Warnings, "lb.cfg:2: 'ignore-persist' ignored because frontend 'f' has no backend capability.")
}
