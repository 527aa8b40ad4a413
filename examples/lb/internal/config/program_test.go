package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Program sections read as HAProxy reads them, and are refused with its
// reasons.
func TestProgramSections(t *testing.T) {
	cfg, err := Parse(Source{Name: "p.cfg", Data: []byte(`global
    master-worker no-exit-on-failure
program a
    command sleep 100
    command sh -c "exit 3"
    user root
    user nobody
    group root
program b
    command true
    option start-on-reload
    no option start-on-reload
`)})
	require.NoError(t, err)
	require.True(t, cfg.Global.MasterWorker)
	require.True(t, cfg.Global.NoExitOnFailure)
	require.Equal(t, []*Program{
		{Pos: Pos{"p.cfg", 3}, Name: "a", Command: []string{"sh", "-c", "exit 3"}, UID: 0, GID: 0, StartOnReload: true},
		{Pos: Pos{"p.cfg", 9}, Name: "b", Command: []string{"true"}, UID: -1, GID: -1, StartOnReload: false},
	}, cfg.Programs)
	require.Equal(t, []string{"p.cfg:7: user/uid already specified, the first one is kept."}, cfg.Warnings)

	for _, tc := range []struct{ text, want string }{
		{"program\n", "p.cfg:1: bad value: 'program' expects an <id> argument"},
		{"program a b\n", "p.cfg:1: bad value: 'program' cannot handle unexpected argument 'b'"},
		{"program a\n", "p.cfg:1: bad value: the program section 'a' lacks a command to launch"},
		{"program a\n    command\n", "p.cfg:2: bad value: 'command' in 'program' section: expects a command with optional arguments separated in words"},
		{"program a\n    command true\n    bogus 1\n", "p.cfg:3: unknown keyword: unknown keyword 'bogus' in 'program' section"},
		{"program a\n    command true\n    option foo\n", "p.cfg:3: unknown keyword: unknown option 'foo' in 'program' section"},
		{"program a\n    command true\n    option start-on-reload x\n", "p.cfg:3: bad value: 'option start-on-reload' cannot handle unexpected argument 'x'"},
		{"program a\n    command true\n    user nosuchuser-lb\n", "p.cfg:3: bad value: 'user' in 'program' section: cannot find user id for 'nosuchuser-lb'"},
		{"program a\n    command true\n    group root extra\n", "p.cfg:3: bad value: 'group' in 'program' section: cannot handle unexpected argument 'extra'"},
		{"program a\n    command true\n    no command true\n", "p.cfg:3: bad value: 'no' in 'program' section: negation is only supported for 'option start-on-reload'"},
		{"program a\n    command true\nprogram a\n    command true\n", "p.cfg:3: bad reference: 'a' program section already exists in the configuration (first declared at p.cfg:1)"},
		{"global\n    master-worker foo\n", "p.cfg:2: bad value: 'master-worker' in 'global' section: 'master-worker' only supports 'no-exit-on-failure' option"},
		{"global\n    master-worker no-exit-on-failure x\n", "p.cfg:2: bad value: 'master-worker' in 'global' section: 'master-worker' cannot handle unexpected argument 'x'"},
	} {
		_, err := Parse(Source{Name: "p.cfg", Data: []byte(tc.text)})
		require.Error(t, err, tc.text)
		require.Contains(t, err.Error(), tc.want, tc.text)
	}
}
