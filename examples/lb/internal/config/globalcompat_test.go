package config

import (
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatsSocketOwnerAndExposeFD checks the stats socket's owner
// options and expose-fd listeners (accepted with a warning, as lb takes
// no listeners from an older process), and tune.ssl.default-dh-param
// (accepted with a warning: no DHE suites), with their errors.
func TestStatsSocketOwnerAndExposeFD(t *testing.T) {
	uid, gid := os.Getuid(), os.Getgid()
	c := mustParse(t, "global\n    stats socket /tmp/a.sock mode 600 level admin expose-fd listeners uid "+strconv.Itoa(uid)+" gid "+strconv.Itoa(gid)+
		"\n    stats socket /tmp/b.sock user root group root\n    tune.ssl.default-dh-param 2048\n")
	socks := c.Global.StatsSockets
	require.Len(t, socks, 2)
	assert.Equal(t, [2]int{uid, gid}, [2]int{socks[0].UID, socks[0].GID})
	assert.Equal(t, [2]int{0, 0}, [2]int{socks[1].UID, socks[1].GID})
	require.Len(t, c.Warnings, 2)
	assert.Contains(t, c.Warnings[0], "lb.cfg:2: stats socket 'expose-fd listeners' has no effect")
	assert.Contains(t, c.Warnings[1], "lb.cfg:4: 'tune.ssl.default-dh-param' has no effect")
	plain := mustParse(t, "global\n    stats socket /tmp/c.sock\n")
	assert.Equal(t, [2]int{-1, -1}, [2]int{plain.Global.StatsSockets[0].UID, plain.Global.StatsSockets[0].GID}, "the process's by default")

	for text, want := range map[string]string{
		"global\n    stats socket /tmp/a.sock expose-fd all\n":      "lb.cfg:2: ",
		"global\n    stats socket /tmp/a.sock uid x\n":              "expects a number",
		"global\n    stats socket /tmp/a.sock user nosuchuser-zz\n": "cannot find user id for 'nosuchuser-zz'",
		"global\n    stats socket /tmp/a.sock process 1\n":          "stats socket option 'process'",
		"global\n    tune.ssl.default-dh-param 512\n":               "expects a value >= 1024",
		"global\n    tune.ssl.default-dh-param x\n":                 "lb.cfg:2: ",
	} {
		_, err := parse(t, text)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, text)
	}
}
